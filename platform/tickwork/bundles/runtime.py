"""Turning a validated bundle's code into callable job functions, for the workers.

This module EXECUTES the bundle's code, once per bundle version and process: the code is
compiled into a fresh module namespace named after the slug and checksum, so two versions
of an app never share globals, and a version is never executed twice in one process.
"""

from __future__ import annotations

import linecache
import sys
import threading
import types
import warnings
from collections.abc import Callable
from typing import Any

from tickwork.bundles.model import AppBundle, BundleError, Problem, bundle_files

_modules: dict[tuple[str, str], types.ModuleType] = {}
_lock = threading.Lock()


def module_name(bundle: AppBundle) -> str:
    """The module name of a bundle version's code, e.g. ``tickwork_app_order_digest_3f2a9c0d11e4``."""
    return f"tickwork_app_{bundle.slug.replace('-', '_')}_{bundle.checksum[:12]}"


def load_module(bundle: AppBundle) -> types.ModuleType:
    """The bundle's code as a module, executed on first use and cached by (slug, checksum).

    Steps: compile with the bundle's jobs.py as filename; register the source with linecache
    so tracebacks show the lines even for code stored in the database; register the module in
    ``sys.modules`` (dataclasses and pickling look modules up there); execute it. An exception
    raised by the module's top-level code propagates unchanged and nothing is cached.
    """
    key = (bundle.slug, bundle.checksum)
    with _lock:
        cached = _modules.get(key)
        if cached is not None:
            return cached
        name = module_name(bundle)
        _manifest_file, filename = bundle_files(bundle.origin)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            code_object = compile(bundle.code, filename, "exec", dont_inherit=True)
        module = types.ModuleType(name, f"Jobs of the app {bundle.slug!r} ({bundle.origin}).")
        module.__file__ = filename
        linecache.cache[filename] = (len(bundle.code), None, bundle.code.splitlines(True), filename)
        sys.modules[name] = module
        try:
            exec(code_object, module.__dict__)
        except BaseException:
            del sys.modules[name]
            raise
        _modules[key] = module
        return module


def load_job_function(bundle: AppBundle, job_name: str) -> Callable[..., Any]:
    """The function implementing ``job_name``: call it as ``function(ctx, **job.params)``.

    Raises JobNotFound when the bundle declares no such job, and BundleError when executing the
    module did not leave a plain function under that name (the static checks make that rare).
    """
    bundle.job(job_name)
    module = load_module(bundle)
    function = module.__dict__.get(job_name)
    if not isinstance(function, types.FunctionType):
        _manifest_file, code_file = bundle_files(bundle.origin)
        raise BundleError([Problem(code_file, "", f"{job_name} is not a function once the module has run")])
    return function


def forget_modules() -> None:
    """Drop every cached bundle module (tests, and a worker that wants to free memory)."""
    with _lock:
        for key in list(_modules):
            sys.modules.pop(_modules.pop(key).__name__, None)
