"""App bundles (DESIGN.md section 3): ``app.toml`` plus ``jobs.py``, validated once when loaded.

- ``parse_bundle`` / ``load_bundle`` / ``load_catalog`` read and validate bundles (the code is
  only parsed, never run) and raise or report ``BundleError`` with every problem found;
- ``load_job_function`` executes a validated bundle's code once and returns a job function;
  ``isolated_job_function`` runs it into a new namespace per call (what workers use).
"""

from __future__ import annotations

from tickwork.bundles.loader import (
    SLUG_PATTERN,
    check_bundle,
    is_ignored_folder,
    load_bundle,
    load_catalog,
    parse_bundle,
)
from tickwork.bundles.model import (
    CODE_FILE,
    MANIFEST_FILE,
    AppBundle,
    BrokenBundle,
    BundleError,
    CatalogLoad,
    CatchUp,
    JobNotFound,
    JobSpec,
    Overlap,
    Problem,
    bundle_checksum,
)
from tickwork.bundles.runtime import forget_modules, isolated_job_function, load_job_function, module_name

__all__ = [
    "CODE_FILE",
    "MANIFEST_FILE",
    "SLUG_PATTERN",
    "AppBundle",
    "BrokenBundle",
    "BundleError",
    "CatalogLoad",
    "CatchUp",
    "JobNotFound",
    "JobSpec",
    "Overlap",
    "Problem",
    "bundle_checksum",
    "check_bundle",
    "forget_modules",
    "is_ignored_folder",
    "load_bundle",
    "load_catalog",
    "isolated_job_function",
    "load_job_function",
    "module_name",
    "parse_bundle",
]
