"""The bundle loader and validator: good bundles become typed objects, bad ones report every problem."""

from __future__ import annotations

import re
import sys
import textwrap
import traceback
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest

from tickwork.bundles import (
    AppBundle,
    BundleError,
    JobNotFound,
    Problem,
    bundle_checksum,
    forget_modules,
    load_bundle,
    load_catalog,
    load_job_function,
    module_name,
    parse_bundle,
)
from tickwork.errors import BadInput
from tickwork.schedule import ScheduleError, parse

GOOD_MANIFEST = """\
name = "Order digest"
description = "Emails the owner yesterday's orders."

[[jobs]]
name = "daily_summary"
schedule = "8:00"
credits = 2
"""

GOOD_CODE = '''\
def daily_summary(ctx, **params):
    """Say hello."""
    return {"hello": ctx, "params": params}
'''


@pytest.fixture(autouse=True)
def _fresh_modules() -> Iterator[None]:
    forget_modules()
    yield
    forget_modules()


def write_bundle(
    root: Path, slug: str, manifest: str | None = GOOD_MANIFEST, code: str | None = GOOD_CODE
) -> Path:
    folder = root / slug
    folder.mkdir(parents=True)
    if manifest is not None:
        (folder / "app.toml").write_text(manifest, encoding="utf-8")
    if code is not None:
        (folder / "jobs.py").write_text(code, encoding="utf-8")
    return folder


def manifest_with_job(**job: str) -> str:
    """GOOD_MANIFEST's job with keys replaced (values are TOML text); a value of "" drops the key."""
    keys = {"name": '"daily_summary"', "schedule": '"8:00"', "credits": "2", **job}
    lines = [f"{key} = {value}" for key, value in keys.items() if value != ""]
    return 'name = "App"\ndescription = ""\n\n[[jobs]]\n' + "\n".join(lines) + "\n"


def problems_of(manifest: str = GOOD_MANIFEST, code: str = GOOD_CODE, slug: str = "foo") -> list[str]:
    with pytest.raises(BundleError) as caught:
        parse_bundle(slug, manifest, code, origin="apps/foo")
    return [str(problem) for problem in caught.value.problems]


# --- good bundles ---------------------------------------------------------------------------------


def test_good_bundle_loads_as_typed_objects_with_defaults(tmp_path: Path) -> None:
    folder = write_bundle(tmp_path, "order-digest")

    bundle = load_bundle(folder)

    assert isinstance(bundle, AppBundle)
    assert (bundle.slug, bundle.name, bundle.origin) == ("order-digest", "Order digest", str(folder))
    assert bundle.description == "Emails the owner yesterday's orders."
    assert bundle.manifest_text == GOOD_MANIFEST and bundle.code == GOOD_CODE
    job = bundle.job("daily_summary")
    assert bundle.jobs == (job,)
    assert (job.credits, job.timeout, job.overlap, job.catch_up, job.retries, job.params) == (
        2,
        300,
        "skip",
        "latest",
        0,
        {},
    )
    assert job.expressions == (parse("8:00").canonical,)
    assert job.schedule.runs_per_day == Fraction(1)


def test_every_key_is_read_from_the_manifest() -> None:
    manifest = manifest_with_job(
        timeout="60",
        overlap='"allow"',
        catch_up='"all"',
        retries="5",
        params='{ lookback_hours = 24, tags = ["a", "b"], nested = { x = 1.5 } }',
    )
    job = parse_bundle("foo", manifest, GOOD_CODE, "db:custom/7@1").job("daily_summary")
    assert (job.timeout, job.overlap, job.catch_up, job.retries) == (60, "allow", "all", 5)
    assert job.params == {"lookback_hours": 24, "tags": ["a", "b"], "nested": {"x": 1.5}}


def test_a_list_of_schedules_is_their_union() -> None:
    manifest = manifest_with_job(schedule='["9:00", "17:30", "09:00"]')
    job = parse_bundle("foo", manifest, GOOD_CODE, "apps/foo").job("daily_summary")
    assert job.expressions == (parse("9:00").canonical, parse("17:30").canonical)
    assert job.schedule.canonical == " | ".join(job.expressions)
    assert job.schedule.runs_per_day == 2


def test_checksum_is_stable_and_depends_on_both_texts() -> None:
    first = parse_bundle("foo", GOOD_MANIFEST, GOOD_CODE, "apps/foo")
    again = parse_bundle("foo", GOOD_MANIFEST, GOOD_CODE, "db:elsewhere")
    assert re.fullmatch(r"[0-9a-f]{64}", first.checksum)
    assert first.checksum == again.checksum == bundle_checksum(GOOD_MANIFEST, GOOD_CODE)
    assert parse_bundle("foo", GOOD_MANIFEST, GOOD_CODE + "\n", "apps/foo").checksum != first.checksum
    # Moving text from one file to the other changes the checksum too.
    assert bundle_checksum("ab", "c") != bundle_checksum("a", "bc")


@pytest.mark.parametrize(
    "signature",
    [
        "ctx, **params",
        "context, /, **kw",
        "ctx, *, lookback_hours=24, top_n=5, **params",
        "ctx=None, **params",
    ],
)
def test_accepted_job_signatures(signature: str) -> None:
    code = f"def daily_summary({signature}):\n    return {{}}\n"
    assert parse_bundle("foo", GOOD_MANIFEST, code, "apps/foo").job_names == ("daily_summary",)


def test_validation_never_runs_the_code(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    code = GOOD_CODE + f"open({str(marker)!r}, 'w').close()\n"
    bundle = load_bundle(write_bundle(tmp_path, "foo", code=code))
    assert not marker.exists()
    load_job_function(bundle, "daily_summary")
    assert marker.exists()


# --- problems ---------------------------------------------------------------------------------------


def test_problem_lines_name_file_key_and_message() -> None:
    manifest = GOOD_MANIFEST + '\n[[jobs]]\nname = "second"\nschedule = "9:00"\ncredits = 12\n'
    code = GOOD_CODE + "\ndef second(ctx, **params):\n    return {}\n"
    assert problems_of(manifest, code) == [
        "apps/foo/app.toml: jobs[1].credits: must be a whole number from 1 to 10, got 12"
    ]


def test_bundle_error_is_bad_input_listing_each_problem_on_its_own_line() -> None:
    manifest = manifest_with_job(credits="0", retries="9")
    with pytest.raises(BundleError) as caught:
        parse_bundle("foo", manifest, GOOD_CODE, "apps/foo")
    error = caught.value
    assert isinstance(error, BadInput) and error.exit_code == 2
    assert str(error).splitlines() == [str(problem) for problem in error.problems]
    assert [problem.key for problem in error.problems] == ["jobs[0].credits", "jobs[0].retries"]


def test_toml_syntax_error_reports_line_and_column() -> None:
    manifest = 'name = "App"\ndescription = ""\n\n[[jobs]]\nname "daily_summary"\n'
    [problem] = problems_of(manifest)
    assert problem.startswith("apps/foo/app.toml: line 5, column 6: invalid TOML: ")


def test_missing_name_is_reported() -> None:
    manifest = GOOD_MANIFEST.replace('name = "Order digest"\n', "")
    assert problems_of(manifest) == ["apps/foo/app.toml: name: missing (a string)"]


@pytest.mark.parametrize(
    ("value", "message"),
    [('""', "must not be empty"), ("3", "must be a string, got 3"), ('"   "', "must not be empty")],
)
def test_name_must_be_a_non_empty_string(value: str, message: str) -> None:
    manifest = GOOD_MANIFEST.replace('name = "Order digest"', f"name = {value}")
    assert problems_of(manifest) == [f"apps/foo/app.toml: name: {message}"]


def test_unknown_keys_get_a_did_you_mean_hint() -> None:
    manifest = GOOD_MANIFEST.replace("description =", "descripton =") + "credit = 3\ncatchup = 'all'\n"
    assert problems_of(manifest) == [
        'apps/foo/app.toml: descripton: unknown key; did you mean "description"?',
        "apps/foo/app.toml: description: missing (a string)",
        'apps/foo/app.toml: jobs[0].credit: unknown key; did you mean "credits"?',
        'apps/foo/app.toml: jobs[0].catchup: unknown key; did you mean "catch_up"?',
    ]


def test_unknown_key_without_a_close_match_lists_the_allowed_keys() -> None:
    [problem] = problems_of(GOOD_MANIFEST.replace("[[jobs]]", 'owner = "me"\n\n[[jobs]]'))
    assert problem == "apps/foo/app.toml: owner: unknown key; allowed: name, description, jobs"


@pytest.mark.parametrize(
    ("value", "shown"), [("12", "12"), ("0", "0"), ("2.5", "2.5"), ("true", "true"), ('"2"', '"2"')]
)
def test_credits_must_be_a_whole_number_from_1_to_10(value: str, shown: str) -> None:
    assert problems_of(manifest_with_job(credits=value)) == [
        f"apps/foo/app.toml: jobs[0].credits: must be a whole number from 1 to 10, got {shown}"
    ]


def test_credits_are_required() -> None:
    assert problems_of(manifest_with_job(credits="")) == [
        "apps/foo/app.toml: jobs[0].credits: missing (a whole number from 1 to 10)"
    ]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("timeout", "301", "must be a whole number of seconds from 1 to 300, got 301"),
        ("timeout", "0", "must be a whole number of seconds from 1 to 300, got 0"),
        ("retries", "6", "must be a whole number from 0 to 5, got 6"),
        ("retries", "false", "must be a whole number from 0 to 5, got false"),
        ("overlap", '"skp"', 'must be one of "skip", "allow", got "skp" (did you mean "skip"?)'),
        ("catch_up", '"every"', 'must be one of "latest", "all", "none", got "every"'),
        ("catch_up", "1", 'must be one of "latest", "all", "none", got 1'),
        ("params", "3", "must be a table (params = { name = value }), got 3"),
    ],
)
def test_job_policies_are_checked(key: str, value: str, message: str) -> None:
    assert problems_of(manifest_with_job(**{key: value})) == [f"apps/foo/app.toml: jobs[0].{key}: {message}"]


def test_every_problem_in_a_bundle_is_reported_not_just_the_first() -> None:
    manifest = (
        'description = 5\n\n[[jobs]]\nname = "daily_summary"\nschedule = "8:00"\n'
        'credits = 11\noverlap = "x"\n'
        '\n[[jobs]]\nname = "nope"\nschedule = []\ncredits = 1\n'
    )
    problems = problems_of(manifest)
    assert problems == [
        "apps/foo/app.toml: name: missing (a string)",
        "apps/foo/app.toml: description: must be a string, got 5",
        "apps/foo/app.toml: jobs[0].credits: must be a whole number from 1 to 10, got 11",
        'apps/foo/app.toml: jobs[0].overlap: must be one of "skip", "allow", got "x"',
        "apps/foo/app.toml: jobs[1].schedule: must not be an empty list",
        'apps/foo/app.toml: jobs[1].name: jobs.py has no top-level function "nope"',
    ]


def test_bad_schedule_names_the_key_and_gives_the_reason() -> None:
    with pytest.raises(ScheduleError) as expected:
        parse("25:00")
    [problem] = problems_of(manifest_with_job(schedule='"25:00"'))
    assert problem.startswith("apps/foo/app.toml: jobs[0].schedule: ")
    assert expected.value.reason in problem
    assert "\n" not in problem


def test_bad_schedule_in_a_list_names_its_index() -> None:
    with pytest.raises(ScheduleError) as expected:
        parse("mon-fry 9:00")
    problems = problems_of(manifest_with_job(schedule='["9:00", "mon-fry 9:00", 7]'))
    assert len(problems) == 2
    assert problems[0].startswith("apps/foo/app.toml: jobs[0].schedule[1]: ")
    assert expected.value.reason in problems[0]
    assert problems[1] == "apps/foo/app.toml: jobs[0].schedule[2]: must be a schedule string, got 7"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", 'missing (a schedule string such as "8:00", or a list of them)'),
        ("8", "must be a schedule string or a list of them, got 8"),
    ],
)
def test_schedule_is_required_and_a_string_or_list(value: str, message: str) -> None:
    assert problems_of(manifest_with_job(schedule=value)) == [
        f"apps/foo/app.toml: jobs[0].schedule: {message}"
    ]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            '"daily-summary"',
            'must be a Python identifier (letters, digits, underscores), got "daily-summary"',
        ),
        ('"class"', '"class" is a Python keyword and cannot name a function'),
        ("3", "must be a string, got 3"),
        ("", "missing (the name of a function in jobs.py)"),
    ],
)
def test_job_name_must_be_a_python_identifier(name: str, message: str) -> None:
    assert problems_of(manifest_with_job(name=name)) == [f"apps/foo/app.toml: jobs[0].name: {message}"]


def test_job_names_are_unique() -> None:
    manifest = GOOD_MANIFEST + '\n[[jobs]]\nname = "daily_summary"\nschedule = "9:00"\ncredits = 1\n'
    assert problems_of(manifest) == [
        'apps/foo/app.toml: jobs[1].name: duplicate job name "daily_summary" (also jobs[0])'
    ]


@pytest.mark.parametrize(
    ("jobs", "message"),
    [
        ("jobs = []", "must declare at least one job"),
        ("jobs = 3", "must be an array of tables ([[jobs]] sections), got 3"),
        (
            '[jobs]\nname = "daily_summary"',
            "must be an array of tables: write each job as a [[jobs]] section, not [jobs]",
        ),
        ("", "missing: declare at least one job in a [[jobs]] section"),
    ],
)
def test_jobs_must_be_a_non_empty_array_of_tables(jobs: str, message: str) -> None:
    manifest = f'name = "App"\ndescription = ""\n{jobs}\n'
    assert problems_of(manifest) == [f"apps/foo/app.toml: jobs: {message}"]


def test_a_job_that_is_not_a_table_is_reported() -> None:
    assert problems_of('name = "App"\ndescription = ""\njobs = ["daily_summary"]\n') == [
        'apps/foo/app.toml: jobs[0]: must be a table (a [[jobs]] section), got "daily_summary"'
    ]


def test_missing_job_function_is_reported_against_the_manifest_key() -> None:
    code = "def something_else(ctx, **params):\n    return {}\n"
    assert problems_of(GOOD_MANIFEST, code) == [
        'apps/foo/app.toml: jobs[0].name: jobs.py has no top-level function "daily_summary"'
    ]


def test_a_nested_function_is_not_a_top_level_job() -> None:
    code = (
        "def outer():\n    def daily_summary(ctx, **params):\n        return {}\n    return daily_summary\n"
    )
    assert problems_of(GOOD_MANIFEST, code) == [
        'apps/foo/app.toml: jobs[0].name: jobs.py has no top-level function "daily_summary"'
    ]


@pytest.mark.parametrize(
    ("definition", "message"),
    [
        ("def daily_summary(ctx):", "it has no **params parameter"),
        ("def daily_summary():", "it has no positional parameter for the job context"),
        ("def daily_summary(**params):", "it has no positional parameter for the job context"),
        (
            "def daily_summary(ctx, lookback, **params):",
            "parameters after the context (lookback) must be keyword-only with defaults (after *), "
            "or read from **params",
        ),
        ("def daily_summary(ctx, *args, **params):", "it must not take *args"),
        ("def daily_summary(ctx, *, top_n, **params):", "keyword-only parameters need defaults (top_n)"),
    ],
)
def test_wrong_job_signature_is_reported_with_file_and_line(definition: str, message: str) -> None:
    code = f"import json\n\n\n{definition}\n    return {{}}\n"
    assert problems_of(GOOD_MANIFEST, code) == [
        f"apps/foo/jobs.py: line 4: daily_summary must have the signature (ctx, **params): {message}"
    ]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (
            "async def daily_summary(ctx, **params):\n    return {}\n",
            "daily_summary must be a plain def, not async def",
        ),
        (
            "import functools\n\n@functools.cache\ndef daily_summary(ctx, **params):\n    return {}\n",
            "daily_summary must not be decorated: the platform calls it as written",
        ),
    ],
)
def test_async_and_decorated_job_functions_are_refused(code: str, message: str) -> None:
    [problem] = problems_of(GOOD_MANIFEST, code)
    assert problem.startswith("apps/foo/jobs.py: line ") and problem.endswith(message)


def test_a_job_function_rebound_after_its_def_is_refused() -> None:
    code = GOOD_CODE + "\ndaily_summary = print\n"
    assert problems_of(GOOD_MANIFEST, code) == [
        "apps/foo/jobs.py: line 5: daily_summary is rebound after its def at line 1"
    ]


def test_jobs_py_syntax_error_reports_file_and_line() -> None:
    code = GOOD_CODE + "\ndef broken(ctx, **params)\n    return {}\n"
    [problem] = problems_of(GOOD_MANIFEST, code)
    assert problem.startswith("apps/foo/jobs.py: line 5, column ")
    assert "syntax error: " in problem


def test_errors_only_the_compiler_finds_are_syntax_errors_too() -> None:
    code = GOOD_CODE + "\nreturn 3\n"
    [problem] = problems_of(GOOD_MANIFEST, code)
    assert problem.startswith("apps/foo/jobs.py: line 5") and "'return' outside function" in problem


def test_manifest_and_code_problems_are_reported_together() -> None:
    manifest = manifest_with_job(credits="99")
    problems = problems_of(manifest, "def daily_summary(ctx, **params)\n")
    assert [problem.split(":")[0] for problem in problems] == ["apps/foo/app.toml", "apps/foo/jobs.py"]


def test_params_must_be_json_values_with_identifier_names() -> None:
    manifest = manifest_with_job(
        params='{ since = 2026-01-01, "bad-name" = 1, ok = [1, { when = 10:30:00 }] }'
    )
    assert problems_of(manifest) == [
        "apps/foo/app.toml: jobs[0].params.since: TOML dates and times are not allowed in params; "
        "write an ISO-8601 string",
        "apps/foo/app.toml: jobs[0].params.bad-name: a param name must be a Python identifier "
        "(it is passed as a keyword)",
        "apps/foo/app.toml: jobs[0].params.ok[1].when: TOML dates and times are not allowed in params; "
        "write an ISO-8601 string",
    ]


def test_a_param_named_like_the_context_parameter_is_refused() -> None:
    manifest = manifest_with_job(params="{ ctx = 1 }")
    assert problems_of(manifest) == [
        'apps/foo/app.toml: jobs[0].params.ctx: clashes with the context parameter "ctx" of daily_summary(); '
        "rename the param"
    ]


@pytest.mark.parametrize("slug", ["Foo", "-foo", "foo_bar", "a" * 64, ""])
def test_slug_must_be_lowercase_letters_digits_and_hyphens(slug: str) -> None:
    [problem] = problems_of(slug=slug)
    assert problem.startswith(f'apps/foo: slug: "{slug}" is not a valid slug')


def test_a_folder_without_jobs_py_reports_it_and_still_checks_the_manifest(tmp_path: Path) -> None:
    folder = write_bundle(tmp_path, "foo", manifest=manifest_with_job(credits="0"), code=None)
    with pytest.raises(BundleError) as caught:
        load_bundle(folder)
    assert [str(problem) for problem in caught.value.problems] == [
        f"{folder}/jobs.py: missing: an app bundle needs app.toml and jobs.py",
        f"{folder}/app.toml: jobs[0].credits: must be a whole number from 1 to 10, got 0",
    ]


def test_files_that_are_not_utf8_are_reported(tmp_path: Path) -> None:
    folder = write_bundle(tmp_path, "foo")
    (folder / "jobs.py").write_bytes(b"# caf\xe9\n")
    with pytest.raises(BundleError) as caught:
        load_bundle(folder)
    assert [str(problem) for problem in caught.value.problems] == [
        f"{folder}/jobs.py: is not UTF-8 text (byte 5)"
    ]


def test_problem_str_without_a_key_or_line_is_file_and_message() -> None:
    assert str(Problem("apps/foo/jobs.py", "", "missing")) == "apps/foo/jobs.py: missing"
    assert str(Problem("a.toml", "", "bad", line=3)) == "a.toml: line 3: bad"


# --- catalog ----------------------------------------------------------------------------------------


def test_catalog_loads_the_good_bundles_and_reports_the_broken_one(tmp_path: Path) -> None:
    write_bundle(tmp_path, "alpha")
    write_bundle(tmp_path, "beta", manifest=manifest_with_job(credits="12"))
    write_bundle(tmp_path, "gamma")

    loaded = load_catalog(tmp_path)

    assert [bundle.slug for bundle in loaded.bundles] == ["alpha", "gamma"]
    [broken] = loaded.broken
    assert (broken.slug, broken.path) == ("beta", tmp_path / "beta")
    assert [str(problem) for problem in broken.problems] == [
        f"{tmp_path}/beta/app.toml: jobs[0].credits: must be a whole number from 1 to 10, got 12"
    ]


def test_catalog_ignores_files_hidden_folders_and_pycache_but_not_other_folders(tmp_path: Path) -> None:
    write_bundle(tmp_path, "alpha")
    (tmp_path / "README.md").write_text("# apps\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "notes").mkdir()

    loaded = load_catalog(tmp_path)

    assert [bundle.slug for bundle in loaded.bundles] == ["alpha"]
    assert [(broken.slug, [str(p) for p in broken.problems]) for broken in loaded.broken] == [
        (
            "notes",
            [
                f"{tmp_path}/notes/app.toml: missing: an app bundle needs app.toml and jobs.py",
                f"{tmp_path}/notes/jobs.py: missing: an app bundle needs app.toml and jobs.py",
            ],
        )
    ]


def test_a_missing_apps_folder_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="does not exist"):
        load_catalog(tmp_path / "nowhere")


# --- job functions ------------------------------------------------------------------------------------


def test_load_job_function_compiles_the_code_into_its_own_module() -> None:
    bundle = parse_bundle("order-digest", GOOD_MANIFEST, GOOD_CODE, "db:custom/7@1")

    function = load_job_function(bundle, "daily_summary")

    assert function("ctx", a=1) == {"hello": "ctx", "params": {"a": 1}}
    assert function.__module__ == module_name(bundle) == f"tickwork_app_order_digest_{bundle.checksum[:12]}"
    assert sys.modules[function.__module__].__file__ == "db:custom/7@1/jobs.py"
    assert load_job_function(bundle, "daily_summary") is function


def test_each_version_gets_a_fresh_namespace() -> None:
    code = "counter = []\n\n" + GOOD_CODE.replace(
        'return {"hello"', 'counter.append(1)\n    return {"n": len(counter), "hello"'
    )
    first = parse_bundle("foo", GOOD_MANIFEST, code, "apps/foo")
    second = parse_bundle("foo", GOOD_MANIFEST, code + "\n", "apps/foo")
    assert load_job_function(first, "daily_summary")(None)["n"] == 1
    assert load_job_function(first, "daily_summary")(None)["n"] == 2
    assert load_job_function(second, "daily_summary")(None)["n"] == 1


def test_tracebacks_show_the_bundle_source_even_from_the_database() -> None:
    code = "def daily_summary(ctx, **params):\n    raise ValueError('boom')  # the failing line\n"
    function = load_job_function(parse_bundle("foo", GOOD_MANIFEST, code, "db:custom/9@2"), "daily_summary")
    with pytest.raises(ValueError) as caught:
        function(None)
    text = "".join(traceback.format_exception(caught.value))
    assert 'File "db:custom/9@2/jobs.py", line 2, in daily_summary' in text
    assert "raise ValueError('boom')  # the failing line" in text


def test_an_error_in_module_code_propagates_and_is_not_cached() -> None:
    bundle = parse_bundle("foo", GOOD_MANIFEST, GOOD_CODE + "raise RuntimeError('top level')\n", "apps/foo")
    for _attempt in range(2):
        with pytest.raises(RuntimeError, match="top level"):
            load_job_function(bundle, "daily_summary")
    assert module_name(bundle) not in sys.modules


def test_unknown_job_names_raise_job_not_found() -> None:
    bundle = parse_bundle(
        "foo", GOOD_MANIFEST, GOOD_CODE + "\ndef helper(ctx, **params):\n    return {}\n", "apps/foo"
    )
    with pytest.raises(JobNotFound, match="has no job 'helper'"):
        load_job_function(bundle, "helper")
    with pytest.raises(LookupError):
        bundle.job("missing")


def test_bundles_are_immutable_and_hashable() -> None:
    bundle = parse_bundle("foo", GOOD_MANIFEST, GOOD_CODE, "apps/foo")
    with pytest.raises(AttributeError):
        bundle.name = "other"  # type: ignore[misc]
    assert hash(bundle) == hash(parse_bundle("foo", GOOD_MANIFEST, GOOD_CODE, "apps/foo"))


def test_an_hourly_job_with_keyword_only_params_loads() -> None:
    manifest = textwrap.dedent(
        """
        name = "Reminders"
        description = "Texts."

        [[jobs]]
        name = "send_reminders"
        schedule = ["*:00"]
        credits = 1
        catch_up = "all"
        """
    )
    code = "def send_reminders(ctx, *, lead_hours=24, **params):\n    return {}\n"
    job = parse_bundle("reminders", manifest, code, "apps/reminders").job("send_reminders")
    assert (job.catch_up, job.schedule.runs_per_day) == ("all", 24)
