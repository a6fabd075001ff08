"""Static checks of a bundle's ``jobs.py``: it compiles, and each job is a ``(ctx, **params)`` function.

Everything here reads the code with ``ast`` and ``compile``; nothing here executes it.
"""

from __future__ import annotations

import ast
import warnings
from dataclasses import dataclass

from tickwork.bundles.model import Problem

SIGNATURE = "(ctx, **params)"


@dataclass(frozen=True)
class ParsedCode:
    """A module that compiles, with the top-level functions it defines."""

    tree: ast.Module
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef]
    rebound: dict[str, int]  # name -> line of a later top-level statement that rebinds it


def compile_code(code: str, filename: str) -> ParsedCode | Problem:
    """Parse and byte-compile ``code``; a Problem with file and line when it does not compile.

    Byte-compiling as well as parsing catches errors the parser lets through, such as a
    ``return`` outside a function. Syntax warnings are not errors and are not reported.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", SyntaxWarning)
            tree = ast.parse(code, filename=filename)
            compile(tree, filename, "exec", dont_inherit=True)
    except SyntaxError as error:
        return Problem(filename, "", f"syntax error: {error.msg}", line=error.lineno, column=error.offset)
    except ValueError as error:  # for example a NUL byte in the source
        return Problem(filename, "", f"cannot be compiled: {error}")
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    rebound: dict[str, int] = {}
    for statement in tree.body:
        if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            functions[statement.name] = statement
            rebound.pop(statement.name, None)
            continue
        for name in _bound_names(statement):
            if name in functions:
                rebound[name] = statement.lineno
    return ParsedCode(tree, functions, rebound)


def _bound_names(statement: ast.stmt) -> list[str]:
    """Names a top-level statement (other than a def) binds: assignments, imports, classes."""
    if isinstance(statement, ast.ClassDef):
        return [statement.name]
    if isinstance(statement, ast.Import | ast.ImportFrom):
        return [(alias.asname or alias.name).split(".")[0] for alias in statement.names]
    targets: list[ast.expr] = []
    if isinstance(statement, ast.Assign):
        targets = list(statement.targets)
    elif isinstance(statement, ast.AnnAssign | ast.AugAssign):
        targets = [statement.target]
    names: list[str] = []
    for target in targets:
        names.extend(node.id for node in ast.walk(target) if isinstance(node, ast.Name))
    return names


def signature_problem(parsed: ParsedCode, name: str) -> tuple[str, int] | None:
    """Why the top-level function ``name`` cannot be a job, with its line; None when it can.

    A job function is a plain, undecorated ``def`` taking exactly one positional parameter (the
    context) and ``**params``; keyword-only parameters are fine when they have defaults.
    """
    function = parsed.functions[name]
    line = function.lineno
    if name in parsed.rebound:
        return f"{name} is rebound after its def at line {line}", parsed.rebound[name]
    if isinstance(function, ast.AsyncFunctionDef):
        return f"{name} must be a plain def, not async def", line
    if function.decorator_list:
        return f"{name} must not be decorated: the platform calls it as written", line
    args = function.args
    positional = [arg.arg for arg in args.posonlyargs + args.args]
    expected = f"{name} must have the signature {SIGNATURE}"
    if not positional:
        return f"{expected}: it has no positional parameter for the job context", line
    if len(positional) > 1:
        extra = ", ".join(positional[1:])
        return (
            f"{expected}: parameters after the context ({extra}) must be keyword-only "
            f"with defaults (after *), or read from **params",
            line,
        )
    if args.vararg is not None:
        return f"{expected}: it must not take *{args.vararg.arg}", line
    if args.kwarg is None:
        return f"{expected}: it has no **params parameter", line
    missing = [
        arg.arg for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=True) if default is None
    ]
    if missing:
        return f"{expected}: keyword-only parameters need defaults ({', '.join(missing)})", line
    return None


def context_parameter(parsed: ParsedCode, name: str) -> str:
    """The name the job function gives its context parameter (a param of that name would clash)."""
    args = parsed.functions[name].args
    return (args.posonlyargs + args.args)[0].arg
