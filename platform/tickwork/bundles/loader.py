"""Loading bundles from text (database versions) and from folders (the catalog in APPS_DIR).

A broken bundle never takes the others down: ``load_catalog`` reports it and leaves it out.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from tickwork.bundles.code import ParsedCode, compile_code, context_parameter, signature_problem
from tickwork.bundles.manifest import Manifest, ManifestChecker
from tickwork.bundles.model import (
    CODE_FILE,
    MANIFEST_FILE,
    AppBundle,
    BrokenBundle,
    BundleError,
    CatalogLoad,
    Problem,
    bundle_checksum,
    bundle_files,
)

SLUG_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
MAX_FILE_BYTES = 1_000_000  # an app.toml or jobs.py larger than this is a mistake, not an app


def check_bundle(
    slug: str, manifest_text: str | None, code: str | None, origin: str
) -> tuple[AppBundle | None, list[Problem]]:
    """Validate a bundle and return it with no problems, or None with every problem found.

    ``None`` for a text means that file could not be read (its problem is reported by the
    caller); the other file is still checked so that one run reports everything.
    """
    manifest_file, code_file = bundle_files(origin)
    problems: list[Problem] = []
    if not SLUG_PATTERN.fullmatch(slug):
        problems.append(
            Problem(
                origin,
                "slug",
                f'"{slug}" is not a valid slug: use 1-63 lowercase letters, digits and hyphens, '
                "starting with a letter or digit",
            )
        )
    manifest: Manifest | None = None
    if manifest_text is not None:
        checker = ManifestChecker(manifest_file)
        manifest = checker.check(manifest_text)
        problems.extend(checker.problems)
    parsed: ParsedCode | None = None
    if code is not None:
        compiled = compile_code(code, code_file)
        if isinstance(compiled, Problem):
            problems.append(compiled)
        else:
            parsed = compiled
    if manifest is not None and parsed is not None:
        problems.extend(_cross_check(manifest, parsed, manifest_file, code_file))
    if problems or manifest is None or manifest_text is None or code is None:
        return None, problems
    jobs = tuple(entry.spec for entry in manifest.jobs if entry.spec is not None)
    bundle = AppBundle(
        slug=slug,
        name=manifest.name or "",
        description=manifest.description or "",
        jobs=jobs,
        manifest_text=manifest_text,
        code=code,
        checksum=bundle_checksum(manifest_text, code),
        origin=origin,
    )
    return bundle, []


def _cross_check(manifest: Manifest, parsed: ParsedCode, manifest_file: str, code_file: str) -> list[Problem]:
    """Each job named in the manifest is a suitable top-level function in jobs.py."""
    problems: list[Problem] = []
    for entry in manifest.jobs:
        if entry.name is None:
            continue
        key = f"jobs[{entry.index}].name"
        if entry.name not in parsed.functions:
            problems.append(
                Problem(manifest_file, key, f'{CODE_FILE} has no top-level function "{entry.name}"')
            )
            continue
        wrong = signature_problem(parsed, entry.name)
        if wrong is not None:
            message, line = wrong
            problems.append(Problem(code_file, "", message, line=line))
            continue
        clash = context_parameter(parsed, entry.name)
        if clash in entry.params:
            problems.append(
                Problem(
                    manifest_file,
                    f"jobs[{entry.index}].params.{clash}",
                    f'clashes with the context parameter "{clash}" of {entry.name}(); rename the param',
                )
            )
    return problems


def parse_bundle(slug: str, manifest_text: str, code: str, origin: str) -> AppBundle:
    """A validated bundle from its two texts (custom apps stored in the database use this).

    Raises BundleError listing every problem.
    """
    bundle, problems = check_bundle(slug, manifest_text, code, origin)
    if bundle is None:
        raise BundleError(problems)
    return bundle


def _read_text(path: Path, display: str, problems: list[Problem]) -> str | None:
    """The file's text (UTF-8, exactly as stored); a Problem instead when it cannot be read."""
    try:
        if not path.is_file():
            problems.append(Problem(display, "", "missing: an app bundle needs app.toml and jobs.py"))
            return None
        if path.stat().st_size > MAX_FILE_BYTES:
            problems.append(Problem(display, "", f"larger than {MAX_FILE_BYTES:,} bytes"))
            return None
        data = path.read_bytes()
    except OSError as error:
        problems.append(Problem(display, "", f"cannot be read: {error.strerror or error}"))
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        problems.append(Problem(display, "", f"is not UTF-8 text (byte {error.start})"))
        return None


def load_bundle(path: str | os.PathLike[str]) -> AppBundle:
    """A validated bundle from a folder holding app.toml and jobs.py; its slug is the folder's name.

    Raises BundleError listing every problem.
    """
    folder = Path(path)
    origin = str(folder)
    if not folder.is_dir():
        raise BundleError([Problem(origin, "", "not a folder")])
    manifest_file, code_file = bundle_files(origin)
    problems: list[Problem] = []
    manifest_text = _read_text(folder / MANIFEST_FILE, manifest_file, problems)
    code = _read_text(folder / CODE_FILE, code_file, problems)
    bundle, found = check_bundle(folder.name, manifest_text, code, origin)
    problems.extend(found)
    if bundle is None:
        raise BundleError(problems)
    return bundle


def is_ignored_folder(path: Path) -> bool:
    """Folders in APPS_DIR that are not bundles: hidden ones (.git) and ``__pycache__``."""
    return path.name.startswith(".") or path.name == "__pycache__"


def load_catalog(apps_dir: str | os.PathLike[str]) -> CatalogLoad:
    """Every bundle folder in ``apps_dir``, in slug order; broken ones are reported and left out.

    Files directly in ``apps_dir`` (a README) are ignored, and so are hidden folders and
    ``__pycache__``; any other folder is a bundle, broken if it has no app.toml.
    """
    root = Path(apps_dir)
    if not root.is_dir():
        raise BundleError([Problem(str(root), "", "the apps folder does not exist or is not a folder")])
    bundles: list[AppBundle] = []
    broken: list[BrokenBundle] = []
    for child in sorted(root.iterdir(), key=lambda item: item.name):
        if not child.is_dir() or is_ignored_folder(child):
            continue
        try:
            bundles.append(load_bundle(child))
        except BundleError as error:
            broken.append(BrokenBundle(slug=child.name, path=child, problems=tuple(error.problems)))
    return CatalogLoad(bundles=bundles, broken=broken)
