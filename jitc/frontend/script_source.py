"""The source of a function being scripted: its AST, where each AST node
lies in the original file, and the Python objects its free names refer to.

Indented source (a method, a function defined inside another) is parsed
under a wrapping `if True:` instead of being dedented, so the AST's column
offsets are the file's columns as they are and carets need no arithmetic.
"""
from __future__ import annotations

import ast
import builtins
import inspect
from typing import Any, Callable

from ..errors import ScriptError
from ..ir.graph import SourceLocation

_WRAPPER = "if True:\n"
_NOT_FOUND = object()


class FunctionSource:
    """A Python function's parsed `def`, its file and line offsets, and
    its globals, closure variables and builtins."""

    def __init__(self, function: Callable):
        function = inspect.unwrap(function)
        self.function = function
        self.name = _name(function)
        code = _code(function, self.name)
        text = _read_source(function, self.name)
        self.filename = code.co_filename
        self.lines = text.splitlines()
        wrapped = text[:1].isspace()
        self._wrapper_lines = 1 if wrapped else 0
        self._line_offset = code.co_firstlineno - 1 - self._wrapper_lines
        tree = ast.parse(_WRAPPER + text if wrapped else text)
        self.definition = _find_definition(tree.body[0].body if wrapped else tree.body, function.__name__)
        if self.definition is None:
            raise ScriptError(f"jitc.script cannot find the `def {function.__name__}` of {self.name} "
                              "in its source; use jitc.trace instead")
        self._closure = _closure_variables(function)

    # -- locations ---------------------------------------------------------------------
    def location(self, node: ast.AST) -> SourceLocation:
        """Where `node` is in the file (lines 1-based, columns in characters)."""
        line = self._line_text(node.lineno)
        end_line = self._line_text(node.end_lineno)
        return SourceLocation(self.filename, node.lineno + self._line_offset,
                              _character_column(line, node.col_offset),
                              node.end_lineno + self._line_offset,
                              _character_column(end_line, node.end_col_offset))

    def error(self, message: str, node: ast.AST) -> ScriptError:
        """A ScriptError quoting the line of `node` with a caret under it."""
        return ScriptError(message, self.location(node), self._line_text(node.lineno))

    def _line_text(self, ast_line: int) -> str:
        index = ast_line - 1 - self._wrapper_lines
        return self.lines[index] if 0 <= index < len(self.lines) else ""

    # -- names ---------------------------------------------------------------------------
    def global_value(self, name: str) -> Any:
        """The object a free name refers to (closure, then globals, then
        builtins); raises NameError when there is none."""
        for namespace in (self._closure, self.function.__globals__, _builtins_of(self.function)):
            value = namespace.get(name, _NOT_FOUND)
            if value is not _NOT_FOUND:
                return value
        raise NameError(name)


def check_source(function: Callable) -> None:
    """The ScriptError FunctionSource would raise for a function without
    readable source (a lambda, a builtin, one made by exec()), found without
    parsing the source: `jitc.script` refuses such functions at decoration,
    and a process that finds the compiled code in the caches never parses it."""
    function = inspect.unwrap(function)
    name = _name(function)
    _code(function, name)
    try:
        inspect.findsource(function)
    except (OSError, TypeError) as error:
        raise _unreadable(name, error) from None


def _name(function: Callable) -> str:
    return getattr(function, "__qualname__", getattr(function, "__name__", repr(function)))


def _code(function: Callable, name: str):
    code = getattr(function, "__code__", None)
    if code is None or function.__name__ == "<lambda>":
        raise ScriptError(f"jitc.script cannot compile {name}: it needs a function written "
                          "with `def`; use jitc.trace to record what it computes")
    return code


def _read_source(function: Callable, name: str) -> str:
    try:
        return inspect.getsource(function)
    except (OSError, TypeError) as error:
        raise _unreadable(name, error) from None


def _unreadable(name: str, error: Exception) -> ScriptError:
    return ScriptError(f"jitc.script cannot read the source of {name} ({error}); functions "
                       "defined by exec(), typed at an interactive prompt or built in have none. "
                       "Use jitc.trace to record what it computes instead")


def _find_definition(statements: list[ast.stmt], name: str) -> ast.FunctionDef | None:
    for statement in statements:
        if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)) and statement.name == name:
            return statement
    return None


def _closure_variables(function: Callable) -> dict[str, Any]:
    cells = function.__closure__ or ()
    variables = {}
    for name, cell in zip(function.__code__.co_freevars, cells):
        try:
            variables[name] = cell.cell_contents
        except ValueError:  # an empty cell: the variable is not assigned yet
            pass
    return variables


def _builtins_of(function: Callable) -> dict[str, Any]:
    namespace = function.__globals__.get("__builtins__", builtins)
    return namespace if isinstance(namespace, dict) else vars(namespace)


def _character_column(line: str, byte_offset: int) -> int:
    """`ast` counts columns in UTF-8 bytes; carets count characters."""
    return len(line.encode("utf-8")[:byte_offset].decode("utf-8", errors="ignore"))


__all__ = ["FunctionSource"]
