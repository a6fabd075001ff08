"""The AST policy on generated code: what reaches past the job context is refused, with the reason."""

from __future__ import annotations

import pytest

from tickwork.builder.policy import ALLOWED_IMPORTS, check_code
from tickwork.builder.templates import TEMPLATES

ESCAPES = [
    (
        "import os\n\ndef job(ctx, **params):\n    return os.listdir('/')\n",
        "imports os, which is not allowed",
    ),
    ("import os.path\n\ndef job(ctx, **params):\n    return 1\n", "imports os.path"),
    ("from subprocess import run\n\ndef job(ctx, **params):\n    run(['ls'])\n", "imports subprocess"),
    ("def job(ctx, **params):\n    import socket\n    return 1\n", "imports socket"),
    ("from . import helpers\n\ndef job(ctx, **params):\n    return 1\n", "relative imports"),
    ("def job(ctx, **params):\n    return open('/etc/passwd').read()\n", "uses open(), which opens files"),
    ("def job(ctx, **params):\n    with open('out.txt', 'w') as f:\n        f.write('x')\n", "opens files"),
    ("def job(ctx, **params):\n    exec('print(1)')\n", "uses exec()"),
    ("def job(ctx, **params):\n    return eval('1 + 1')\n", "uses eval()"),
    ("def job(ctx, **params):\n    return compile('1', 'x', 'eval')\n", "uses compile()"),
    ("def job(ctx, **params):\n    return __import__('os').getcwd()\n", "uses __import__()"),
    ("def job(ctx, **params):\n    return globals()['__builtins__']\n", "uses globals()"),
    (
        "def job(ctx, **params):\n    return ().__class__.__bases__[0].__subclasses__()\n",
        "dunder attribute __class__",
    ),
    ("def job(ctx, **params):\n    return ctx.__dict__\n", "dunder attribute __dict__"),
    ("def job(ctx, **params):\n    return __builtins__\n", "dunder name __builtins__"),
    ("def job(ctx, **params):\n    return getattr(ctx, '__class__')\n", "dunder attribute __class__"),
    ("def job(ctx, **params):\n    name = 'x'\n    return getattr(ctx, name)\n", "computed attribute name"),
    ("def job(ctx, **params):\n    return (x for x in ()).gi_frame.f_globals\n", "gi_frame"),
    ("def job(ctx, **params):\n    return ctx.data['orders'].session.execute('select 1')\n", "session"),
    ("def job(ctx, **params):\n    return ctx._enqueue('x', {})\n", "private attribute _enqueue"),
    ("COUNT = 0\n\ndef job(ctx, **params):\n    global COUNT\n    COUNT += 1\n", "global and nonlocal"),
    ("def job(ctx, **params):\n    breakpoint()\n", "uses breakpoint()"),
    ("def job(ctx, **params):\n    return ctx.ai.settings.openai_api_key\n", "attribute settings"),
    ("def job(ctx, **params):\n    ctx.http.backend.allow_private = True\n", "attribute backend"),
    ("def job(ctx, **params):\n    ctx.data['orders'].account_id = 2\n", "sets the attribute account_id"),
    ("def job(ctx, **params):\n    setattr(ctx.data['orders'], 'account_id', 2)\n", "uses setattr()"),
    ("def job(ctx, **params):\n    return '{0.ai.settings}'.format(ctx)\n", "str.format field reaches"),
    ("def job(ctx, **params):\n    return '{0[x]}'.format(ctx.env)\n", "str.format field reaches"),
    ("def job(ctx, **params):\n    f = ctx.env['F']\n    return f.format(ctx)\n", "computed string"),
    ("def job(ctx, **params):\n    return '{x}'.format_map(ctx.env)\n", "format_map"),
    ("import string\n\ndef job(ctx, **params):\n    return string.Formatter()\n", "imports string"),
]


@pytest.mark.parametrize(("code", "reason"), ESCAPES, ids=[reason for _, reason in ESCAPES])
def test_code_that_escapes_the_policy_is_refused_with_the_reason(code: str, reason: str) -> None:
    problems = check_code(code, "job")
    assert problems, "the policy let it through"
    assert any(reason in problem for problem in problems), problems


def test_the_reason_names_the_line_and_what_is_allowed() -> None:
    (problem,) = check_code("import json\nimport os\n\ndef job(ctx, **params):\n    return 1\n", "job")
    assert problem.startswith("jobs.py line 2: imports os")
    assert "datetime" in problem and "zoneinfo" in problem


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("def job(ctx):\n    return 1\n", "no **params parameter"),
        ("def job(ctx, days, **params):\n    return 1\n", "must be keyword-only"),
        ("def job(**params):\n    return 1\n", "no positional parameter"),
        ("async def job(ctx, **params):\n    return 1\n", "plain def"),
        ("def other(ctx, **params):\n    return 1\n", "no top-level function job"),
        ("def job(ctx, **params)\n    return 1\n", "does not compile"),
    ],
)
def test_the_job_function_must_be_def_name_ctx_params(code: str, reason: str) -> None:
    assert any(reason in problem for problem in check_code(code, "job"))


def test_plain_job_code_with_listed_imports_passes() -> None:
    code = (
        "from __future__ import annotations\n"
        "import json\n"
        "from datetime import UTC, timedelta\n"
        "from zoneinfo import ZoneInfo\n\n"
        "def job(ctx, *, days=1, **params):\n"
        "    since = ctx.scheduled_for - timedelta(days=days)\n"
        "    rows = ctx.data['orders'].find({'placed_at': {'$gte': since.isoformat()}})\n"
        "    ctx.log.info('%s', json.dumps(len(rows)))\n"
        "    return {'orders': len(rows), 'name': __name__}\n"
    )
    assert check_code(code, "job") == []
    assert check_code("def job(ctx, **params):\n    return '{} of {:>5}'.format(1, 2)\n", "job") == []
    assert {"os", "sys", "subprocess", "socket", "importlib", "pathlib", "shutil"}.isdisjoint(ALLOWED_IMPORTS)


@pytest.mark.parametrize("key", sorted(TEMPLATES))
def test_every_template_passes_the_policy(key: str) -> None:
    assert check_code(TEMPLATES[key].code("the_job"), "the_job") == []
