"""Turning a validated bundle's code into callable job functions, for the workers.

This module EXECUTES the bundle's code. ``load_job_function`` runs a version's module once
per process and reuses it (tools and tests); ``isolated_job_function`` is what the worker
uses: the compiled code is cached, but every execution runs it into a new module namespace,
so nothing one account's run leaves in module globals is seen by the next run.
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
_code_objects: dict[tuple[str, str], types.CodeType] = {}
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
        module = _run_module(bundle)
        _modules[key] = module
        return module


def _compiled(bundle: AppBundle) -> types.CodeType:
    key = (bundle.slug, bundle.checksum)
    code_object = _code_objects.get(key)
    if code_object is None:
        _manifest_file, filename = bundle_files(bundle.origin)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            code_object = compile(bundle.code, filename, "exec", dont_inherit=True)
        linecache.cache[filename] = (len(bundle.code), None, bundle.code.splitlines(True), filename)
        _code_objects[key] = code_object
    return code_object


def _run_module(bundle: AppBundle) -> types.ModuleType:
    """Execute the bundle's code into a new module registered under the version's name."""
    code_object = _compiled(bundle)
    name = module_name(bundle)
    module = types.ModuleType(name, f"Jobs of the app {bundle.slug!r} ({bundle.origin}).")
    module.__file__ = code_object.co_filename
    sys.modules[name] = module
    try:
        exec(code_object, module.__dict__)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def isolated_job_function(bundle: AppBundle, job_name: str) -> Callable[..., Any]:
    """The job's function from a freshly executed module: no globals shared with earlier runs.

    Compiling is cached per version; executing a small module body costs microseconds, far
    less than the fork per job that would otherwise buy the same isolation.
    """
    bundle.job(job_name)
    with _lock:
        module = _run_module(bundle)
    return _function(bundle, module, job_name)


def load_job_function(bundle: AppBundle, job_name: str) -> Callable[..., Any]:
    """The function implementing ``job_name``: call it as ``function(ctx, **job.params)``.

    Raises JobNotFound when the bundle declares no such job, and BundleError when executing the
    module did not leave a plain function under that name (the static checks make that rare).
    """
    bundle.job(job_name)
    return _function(bundle, load_module(bundle), job_name)


def _function(bundle: AppBundle, module: types.ModuleType, job_name: str) -> Callable[..., Any]:
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
        _code_objects.clear()
