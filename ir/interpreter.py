"""The reference interpreter: runs any verified graph with NumPy.

It is the oracle of the backend tests and the `backend="interpreter"`
choice. As in torch.fx's `Interpreter`, `run_node` dispatches on the node
kind; control flow has its own methods, every other op runs its NumPy
reference from the op table. With `check_types=True` every value produced
is checked against its declared IR type, which tests the type rules too.
"""
from __future__ import annotations

import builtins
from typing import Any, Sequence

import numpy as np

from .attributes import TensorRef
from .errors import InterpreterError
from .graph import Block, Graph, Node, Value
from .ops import get_op
from .ops.prim import UNINITIALIZED
from .types import (BOOL, FLOAT, INT, NONE, STRING, ListType, TensorType, TupleType, Type,
                    DType)


def value_matches_type(value: Any, type: Type) -> bool:
    """True when a runtime value is a member of IR type `type`."""
    if value is UNINITIALIZED:  # a placeholder that is never read; it stands in for any type
        return True
    if isinstance(type, TensorType):
        if not isinstance(value, (np.ndarray, np.generic)):
            return False
        try:
            dtype = DType.from_numpy(value.dtype)
        except TypeError:
            return False
        if type.dtype is not None and dtype != type.dtype:
            return False
        if type.shape is None:
            return True
        return np.ndim(value) == len(type.shape) and all(
            not isinstance(d, int) or d == n for d, n in zip(type.shape, np.shape(value)))
    # Exact Python types: np.float64 subclasses float, but it is a (strong) 0-d tensor.
    if type == BOOL:
        return builtins.type(value) is bool
    if type == INT:
        return builtins.type(value) is int
    if type == FLOAT:
        return builtins.type(value) is float
    if type == NONE:
        return value is None
    if type == STRING:
        return isinstance(value, str)
    if isinstance(type, ListType):
        return isinstance(value, list) and all(value_matches_type(v, type.element) for v in value)
    if isinstance(type, TupleType):
        return isinstance(value, tuple) and len(value) == len(type.elements) and all(
            value_matches_type(v, t) for v, t in zip(value, type.elements))
    return False


def conform(value: Any, type: Type) -> Any:
    """A value from Python code as the member of `type` NumPy would make of
    it: a NumPy scalar or 0-d array for a Python scalar type (a Python
    scalar stays one for a tensor type: it is weak in promotion, an array
    is not); anything else unchanged."""
    scalars = {BOOL: bool, INT: int, FLOAT: float}
    if type in scalars and isinstance(value, (np.generic, np.ndarray, bool, int, float)) and np.ndim(value) == 0:
        converted = scalars[type](value)
        return converted if converted == value or value != value else value
    if isinstance(type, TupleType) and isinstance(value, tuple) and len(value) == len(type.elements):
        return tuple(map(conform, value, type.elements))
    if isinstance(type, ListType) and isinstance(value, list):
        return [conform(item, type.element) for item in value]
    return value


def describe_value(value: Any) -> str:
    if isinstance(value, (np.ndarray, np.generic)):
        return f"a {value.dtype} array of shape {np.shape(value)}"
    if isinstance(value, tuple):
        return f"a tuple ({', '.join(map(describe_value, value))})"
    return f"{builtins.type(value).__name__} {value!r}"[:200]


class Interpreter:
    def __init__(self, graph: Graph, check_types: bool = False):
        self.graph = graph
        self.check_types = check_types

    def run(self, *args) -> tuple:
        params = self.graph.params
        if len(args) != len(params):
            raise TypeError(f"graph takes {len(params)} argument(s), got {len(args)}")
        return tuple(self.run_block(self.graph.block, args))

    def run_block(self, block: Block, args: Sequence[Any], env: dict | None = None) -> list:
        env = dict(env or {})
        for param, arg in zip(block.params, args):
            self.bind(env, param, arg, None)
        for node in block.nodes:
            results = self.run_node(node, env)
            if len(results) != len(node.outputs):
                raise InterpreterError(f"{node.kind} produced {len(results)} values, "
                                       f"expected {len(node.outputs)}")
            for value, result in zip(node.outputs, results):
                self.bind(env, value, result, node)
        return [env[v] for v in block.returns]

    def bind(self, env: dict, value: Value, result: Any, node: Node | None) -> None:
        if self.check_types and not value_matches_type(result, value.type):
            where = f"{node.kind}" if node else "block parameter"
            shown = (f"{type(result).__name__} {getattr(result, 'dtype', '')}{np.shape(result)}"
                     if isinstance(result, (np.ndarray, np.generic)) else repr(result))
            raise InterpreterError(f"{where} produced {shown} for %{value.name} "
                                   f"declared {value.type}")
        env[value] = result

    def run_node(self, node: Node, env: dict) -> tuple:
        method = getattr(self, "run_" + node.kind.replace("::", "_"), None)
        inputs = [env[v] for v in node.inputs]
        if method is not None:
            return method(node, inputs, env)
        return get_op(node.kind).run_reference(inputs, node.attributes)

    def run_prim_Constant(self, node: Node, inputs, env) -> tuple:
        value = node.attributes["value"]
        if isinstance(value, TensorRef):
            return (self.graph.tensors[value.name],)
        return (value,)

    def run_prim_Uninitialized(self, node: Node, inputs, env) -> tuple:
        return (UNINITIALIZED,)

    def run_prim_If(self, node: Node, inputs, env) -> tuple:
        block = node.blocks[0] if inputs[0] else node.blocks[1]
        return tuple(self.run_block(block, (), env))

    def run_prim_FusionGroup(self, node: Node, inputs, env) -> tuple:
        return tuple(self.run_block(node.blocks[0], inputs))

    run_prim_CallFunction = run_prim_FusionGroup

    def run_prim_PythonCall(self, node: Node, inputs, env) -> tuple:
        """Call the Python function; what it returns must be of the types the
        node declares (Python scalars and NumPy scalars convert as NumPy does)."""
        result = get_op(node.kind).run_reference(inputs, node.attributes)
        results = result if node.attributes.get("returns_tuple") else (result,)
        declared = [value.type for value in node.outputs]
        if isinstance(results, tuple) and len(results) == len(declared):
            results = tuple(conform(value, type) for value, type in zip(results, declared))
            if all(map(value_matches_type, results, declared)):
                return results
        expected = ", ".join(map(str, declared)) if node.attributes.get("returns_tuple") else str(declared[0])
        where = f" (called at {node.source})" if node.source else ""
        raise TypeError(f"{node.attributes['function']}, marked @jitc.ignore{where}, returned "
                        f"{describe_value(result)} where compiled code expects {expected}; annotate its "
                        "return type with what it returns")

    def run_prim_Loop(self, node: Node, inputs, env) -> tuple:
        max_trip_count, condition, *carried = inputs
        body = node.blocks[0]
        iteration = 0
        while iteration < max_trip_count and condition:
            condition, *carried = self.run_block(body, [iteration, *carried], env)
            iteration += 1
        return tuple(carried)


def run_graph(graph: Graph, *args, check_types: bool = False) -> tuple:
    """Run `graph` on NumPy arrays and Python values; returns a tuple."""
    with np.errstate(all="ignore"):
        return Interpreter(graph, check_types).run(*args)
