"""The AST policy every generated job passes before it can become part of an app.

Generated code (from the templates or from a model) talks to the world through the job
context only. The policy reads the code with ``ast`` (it never runs it) and refuses what
would reach past the context: imports outside a short list, the builtins that run or load
code or touch files (``open``, ``exec``, ``eval``, ``compile``, ``__import__``...), dunder
names and attributes (``().__class__.__mro__``), introspection attributes of frames and
code objects, private attributes, platform internals (settings, database handles), attribute
assignment and ``str.format`` fields that reach attributes. It is a review gate for code the
builder proposes, not a sandbox: it keeps honest mistakes and naive escapes out of apps.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from tickwork.bundles.code import compile_code, signature_problem
from tickwork.bundles.model import Problem

#: Modules generated code may import (and their submodules): time, text and numbers only.
ALLOWED_IMPORTS = frozenset(
    {
        "__future__",
        "collections",
        "dataclasses",
        "datetime",
        "decimal",
        "enum",
        "fractions",
        "functools",
        "html",
        "itertools",
        "json",
        "math",
        "re",
        "statistics",
        "textwrap",
        "typing",
        "zoneinfo",
    }
)
#: Builtins that execute or load code, touch files or the interpreter, or reach any attribute.
FORBIDDEN_CALLS = {
    "open": "opens files; keep data in ctx.data and ctx.state",
    "exec": "executes code built at run time",
    "eval": "evaluates code built at run time",
    "compile": "compiles code at run time",
    "__import__": "imports modules around the import policy",
    "globals": "exposes the module's namespace",
    "locals": "exposes a frame's namespace",
    "vars": "exposes an object's namespace",
    "breakpoint": "starts a debugger",
    "input": "reads from the terminal; jobs run unattended",
    "exit": "stops the worker process",
    "quit": "stops the worker process",
    "help": "starts the interactive help",
    "memoryview": "reaches raw memory",
}
#: Attribute access by name is allowed only with a literal, ordinary attribute name.
NAMED_ATTRIBUTE_CALLS = ("getattr", "hasattr")
#: Changing attributes by name is not allowed at all (see the rule on attribute assignment).
ATTRIBUTE_SETTERS = ("setattr", "delattr")
#: str.format reads attributes and items named inside its fields ("{0.__class__}").
REPLACEMENT_FIELD_ACCESS = re.compile(r"\{[^{}!:]*[.\[]")
#: Attributes that lead from ordinary objects to frames, code objects and raw database handles.
FORBIDDEN_ATTRIBUTES = frozenset(
    {
        "f_globals", "f_locals", "f_builtins", "f_back", "f_code",
        "gi_frame", "gi_code", "cr_frame", "cr_code", "ag_frame", "ag_code",
        "tb_frame", "tb_next", "co_code", "func_globals",
        "session", "sessions", "engine", "bind", "connection", "settings", "meter", "backend",
        "allow_private", "allowed_networks",
    }
)  # fmt: skip


@dataclass(frozen=True)
class Violation:
    """One thing the policy refuses, with the line it is on."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def is_dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def check_code(code: str, job_name: str) -> list[str]:
    """Every reason the code cannot be a job named ``job_name``; empty when it passes.

    In order: it compiles; the policy; ``job_name`` is a top-level ``def job_name(ctx, **params)``.
    """
    parsed = compile_code(code, "jobs.py")
    if isinstance(parsed, Problem):
        return [f"the code does not compile: {parsed}"]
    problems = [f"jobs.py {violation}" for violation in policy_violations(parsed.tree)]
    if job_name not in parsed.functions:
        problems.append(f"jobs.py has no top-level function {job_name}(ctx, **params)")
    else:
        wrong = signature_problem(parsed, job_name)
        if wrong is not None:
            problems.append(f"jobs.py line {wrong[1]}: {wrong[0]}")
    return problems


def policy_violations(tree: ast.AST) -> list[Violation]:
    """What in the tree the policy refuses, in source order."""
    found: list[Violation] = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Import):
            for alias in node.names:
                _check_import(alias.name, line, found)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                found.append(Violation(line, "relative imports are not allowed: a job is a single module"))
            else:
                _check_import(node.module or "", line, found)
                for alias in node.names:
                    if is_dunder(alias.name) or alias.name.startswith("_"):
                        found.append(Violation(line, f"imports the private name {alias.name}"))
        elif isinstance(node, ast.Name):
            if node.id in FORBIDDEN_CALLS:
                found.append(Violation(line, f"uses {node.id}(), which {FORBIDDEN_CALLS[node.id]}"))
            elif is_dunder(node.id) and node.id != "__name__":
                found.append(Violation(line, f"uses the dunder name {node.id}"))
        elif isinstance(node, ast.Attribute):
            _check_attribute(node.attr, line, found)
            if isinstance(node.ctx, ast.Store | ast.Del):
                found.append(
                    Violation(
                        line, f"sets the attribute {node.attr}: generated code changes no object's attributes"
                    )
                )
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id in NAMED_ATTRIBUTE_CALLS:
                _check_named_attribute(node, line, found)
            elif node.func.id in ATTRIBUTE_SETTERS:
                found.append(
                    Violation(line, f"uses {node.func.id}(): generated code changes no object's attributes")
                )
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            _check_format_call(node.func, line, found)
        elif isinstance(node, ast.Global | ast.Nonlocal):
            found.append(Violation(line, "global and nonlocal are not allowed: keep state in ctx.state"))
        elif isinstance(node, ast.AsyncFunctionDef | ast.Await | ast.AsyncFor | ast.AsyncWith):
            found.append(Violation(line, "async code is not allowed: jobs are plain functions"))
    found.sort(key=lambda violation: violation.line)
    return found


def _check_import(module: str, line: int, found: list[Violation]) -> None:
    top = module.split(".")[0]
    if top not in ALLOWED_IMPORTS:
        allowed = ", ".join(sorted(name for name in ALLOWED_IMPORTS if name != "__future__"))
        found.append(
            Violation(
                line,
                f"imports {module}, which is not allowed: jobs reach the world through ctx and may "
                f"import only {allowed}",
            )
        )


def _check_attribute(attr: str, line: int, found: list[Violation]) -> None:
    if is_dunder(attr):
        found.append(Violation(line, f"reaches the dunder attribute {attr}"))
    elif attr.startswith("_"):
        found.append(Violation(line, f"reaches the private attribute {attr}"))
    elif attr in FORBIDDEN_ATTRIBUTES:
        found.append(Violation(line, f"reaches the attribute {attr}, which leads around the job context"))


def _check_format_call(function: ast.Attribute, line: int, found: list[Violation]) -> None:
    """str.format may only format a literal whose fields name no attributes or items (use f-strings)."""
    if function.attr == "format_map":
        found.append(Violation(line, "uses str.format_map: use an f-string"))
    elif function.attr == "format":
        receiver = function.value
        if not isinstance(receiver, ast.Constant) or not isinstance(receiver.value, str):
            found.append(Violation(line, "calls .format on a computed string: use an f-string"))
        elif REPLACEMENT_FIELD_ACCESS.search(receiver.value):
            found.append(Violation(line, "a str.format field reaches an attribute or item: use an f-string"))


def _check_named_attribute(node: ast.Call, line: int, found: list[Violation]) -> None:
    function = node.func.id  # type: ignore[attr-defined]
    name = node.args[1] if len(node.args) > 1 else None
    if not isinstance(name, ast.Constant) or not isinstance(name.value, str):
        found.append(Violation(line, f"calls {function}() with a computed attribute name"))
        return
    _check_attribute(name.value, line, found)
