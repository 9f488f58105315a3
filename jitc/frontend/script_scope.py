"""Variables while a function is scripted.

The scripter runs the function's statements at compile time over
*frontend values* (see `builder`): IR values, Python constants, tuples of
frontend values, and Python objects such as modules and NumPy functions.
`ScriptContext.variables` maps each local name to its current frontend
value; branches and loop bodies work on copies, and the statement compiler
merges them back (`prim::If` outputs, `prim::Loop` carried values).

Free names are resolved once, at compile time: constants stand for
themselves, arrays become tensor constants, everything else (modules,
functions, dtypes) stays a Python object until a call or attribute uses it.
"""
from __future__ import annotations

import ast
import contextlib
from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from ..errors import FrontendError, ScriptError
from ..ir.graph import Value
from .builder import GraphBuilder, is_constant
from .script_source import FunctionSource


@dataclass(frozen=True)
class Undefined:
    """A variable that is bound on some paths only; reading it raises
    a ScriptError with `message`."""

    message: str


class Unset:
    """The value of a variable on a path where it has none and is never
    read: the values a function returns, before a `return` inside a loop
    has run, or a variable in a branch that left the loop. Where control
    flow merges it with a real value it becomes `prim::Uninitialized`."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET = Unset()

# The scripter's own variables: names no Python variable can have.
BREAK, CONTINUE, RETURNED = "<break>", "<continue>", "<returned>"
RAISED = "<raised>"  # True after a `raise`: the rest of the path never runs


def return_variable(index: int) -> str:
    """The variable holding returned value `index` after a `return` in a loop."""
    return f"<return {index}>"


def array_variable(name: str) -> str:
    """The variable holding the contents of parameter `name`'s array."""
    return f"<array {name}>"


def is_bound(variables: dict[str, Any], name: str) -> bool:
    """True when `name` has a value (not missing, not Undefined)."""
    return name in variables and not isinstance(variables[name], Undefined)


def same_value(a: Any, b: Any) -> bool:
    """True when two frontend values are certainly the same value."""
    if a is b:
        return True
    return type(a) is type(b) and is_constant(a) and a == b


class ScriptContext:
    """What every part of the scripter shares: the source, the builder,
    the local variables and the names that are local to the function."""

    def __init__(self, source: FunctionSource, builder: GraphBuilder, local_names: set[str]):
        self.source = source
        self.builder = builder
        self.local_names = local_names
        self.variables: dict[str, Any] = {}
        self.live: set[str] = set()  # the names read after the statement being compiled
        self._array_constants: dict[int, tuple[np.ndarray | np.generic, Value]] = {}

    # -- locations and errors ------------------------------------------------------------
    def error(self, message: str, node: ast.AST) -> ScriptError:
        return self.source.error(message, node)

    @contextlib.contextmanager
    def located(self, node: ast.AST) -> Iterator[None]:
        """Nodes emitted inside carry `node`'s location, and a FrontendError
        (from a binder or a type rule) becomes a ScriptError pointing at it."""
        saved = self.builder.source
        self.builder.source = self.source.location(node)
        try:
            yield
        except FrontendError as error:
            raise self.error(str(error), node) from None
        finally:
            self.builder.source = saved

    # -- variables ---------------------------------------------------------------------
    def lookup(self, name: str, node: ast.AST) -> Any:
        if name in self.variables:
            value = self.variables[name]
            if isinstance(value, Undefined):
                raise self.error(value.message, node)
            return value
        if name in self.local_names:
            raise self.error(f"local variable '{name}' is used before it is assigned", node)
        try:
            found = self.source.global_value(name)
        except NameError:
            raise self.error(f"name '{name}' is not defined", node) from None
        return self.import_object(found, name)

    def bind(self, name: str, value: Any) -> None:
        """Assign a variable; an unnamed IR value takes the variable's name
        as its printing hint."""
        if isinstance(value, Value) and value.name is None:
            value.name = name
        self.variables[name] = value

    def import_object(self, found: Any, name: str) -> Any:
        """A Python object from outside the function as a frontend value."""
        if isinstance(found, (np.ndarray, np.generic)):
            return self._array_constant(found, name)
        if isinstance(found, tuple):
            return tuple(self.import_object(item, name) for item in found)
        if isinstance(found, list):
            items = [self.import_object(item, name) for item in found]
            if all(isinstance(item, (Value, tuple)) or is_constant(item) for item in items):
                return self.builder.value(items)
            return tuple(items)  # a list of modules or functions: unrolled wherever it is used
        return found

    def _array_constant(self, array: np.ndarray | np.generic, name: str) -> Value:
        """One tensor constant per array, at the top of the graph so that
        every block sees it. The cache keeps `array` alive, so its id stays its own."""
        cached = self._array_constants.get(id(array))
        if cached is not None:
            return cached[1]
        graph = self.builder.graph
        top = graph.block
        with (graph.inserting_before(top.nodes[0]) if top.nodes else graph.inserting_at_end(top)):
            value = graph.tensor_constant(array, name)
        value.producer.source = self.builder.source
        self._array_constants[id(array)] = (array, value)
        return value


__all__ = ["Undefined", "Unset", "UNSET", "BREAK", "CONTINUE", "RETURNED", "RAISED", "return_variable",
           "array_variable", "is_bound", "same_value", "ScriptContext"]
