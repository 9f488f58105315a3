"""What both frontends use to emit IR: a graph, an insertion point and the
source location of the construct being compiled.

Frontend values are either IR `Value`s or Python constants (ints, floats,
bools, None, strings, tuples of those, dtypes) that are known while the
graph is built. Binders in `numpy_api` take and return such values, so the
tracer and the scripter share them unchanged.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import FrontendError, JitcError
from ..ir.errors import IRTypeError
from ..ir.graph import Graph, SourceLocation, Value
from ..ir.ops import UNKNOWN, constant_value, create_op
from ..ir.types import (BOOL, INT, NEVER, DType, ListType, ScalarType, TensorType, TupleType, Type,
                        join_types, type_of_value)

CONSTANT_TYPES = (bool, int, float, type(None), str)


class StaticValueNeeded(JitcError):
    """Compiling needs the value of int or bool parameters of the graph
    (a split count, an axis): `jitc.script` compiles again with those
    parameters fixed to the call's values, as JAX does for static
    arguments. Raised only by builders with `specialise_parameters` set."""

    def __init__(self, parameters: tuple[str, ...], what: str):
        self.parameters = parameters
        super().__init__(f"{what} must be a constant known at compile time; it depends on the "
                         f"parameter(s) {', '.join(parameters)}")


def is_constant(x: Any) -> bool:
    """True for Python values that can stand for themselves in the IR."""
    if isinstance(x, CONSTANT_TYPES):
        return True
    return isinstance(x, tuple) and all(is_constant(v) for v in x)


def as_dtype(x: Any, what: str = "dtype") -> DType:
    """A DType from anything NumPy accepts as one (np.float32, 'float32', float...)."""
    if isinstance(x, DType):
        return x
    try:
        return DType.from_numpy(np.dtype(x))
    except TypeError as error:
        raise FrontendError(f"{what}: {error}") from None


class GraphBuilder:
    def __init__(self, graph: Graph):
        self.graph = graph
        self.source: SourceLocation | None = None
        # When set, `static` asks for the values of the int and bool parameters a value is
        # computed from (StaticValueNeeded) instead of failing.
        self.specialise_parameters = False
        # What is being inlined into the graph, outermost first (the scripter refuses recursion).
        self.call_stack: list[Any] = []
        # Loop indices that would be constants if these parameters were: the loop is a
        # comprehension over range(n), which unrolls when n is known.
        self.unrollable: dict[Value, tuple[str, ...]] = {}

    # -- values ------------------------------------------------------------------
    def value(self, x: Any) -> Value:
        """`x` as an IR value: constants become `prim::Constant`, arrays
        tensor constants, lists of values `prim::ListConstruct`, tuples
        that hold IR values `prim::TupleConstruct`."""
        if isinstance(x, Value):
            return x
        if isinstance(x, (np.ndarray, np.generic)):
            value = self.graph.tensor_constant(np.asarray(x))
            value.producer.source = self.source
            return value
        if isinstance(x, list):
            return self.op("prim::ListConstruct", *x)
        if is_constant(x):
            node = self.graph.create("prim::Constant", (), [type_of_value(x)], {"value": x}, self.source)
            return node.output
        if isinstance(x, tuple):
            return self.op("prim::TupleConstruct", *x)
        raise FrontendError(f"jitc cannot use a value of type {type(x).__name__} here")

    def constant_of(self, x: Any) -> Any:
        """The Python value of `x` if it is known now, else UNKNOWN."""
        if isinstance(x, Value):
            return constant_value(x)
        return x if is_constant(x) else UNKNOWN

    def static(self, x: Any, what: str) -> Any:
        """The Python value of `x`, which must be known while compiling."""
        if isinstance(x, tuple):
            return tuple(self.static(item, what) for item in x)
        value = self.constant_of(x)
        if value is UNKNOWN:
            parameters = self.parameters_behind(x) if self.specialise_parameters else None
            if parameters:
                raise StaticValueNeeded(parameters, what)
            raise FrontendError(f"{what} must be a constant known at compile time")
        return value

    def parameters_behind(self, value: Any) -> tuple[str, ...] | None:
        """The names of the graph's int and bool parameters that `value` is
        computed from by scalar operations and constants alone (or that
        would unroll the loops it comes from: `unrollable`, and the length
        of a list a loop builds), or None when it depends on anything else
        (array data or sizes)."""
        if not isinstance(value, Value):
            return None
        params = {param: param.name for param in self.graph.params if param.type in (INT, BOOL)}
        found: dict[str, None] = {}
        pending, seen = [value], set()
        while pending:
            current = pending.pop()
            if current in seen:
                continue
            seen.add(current)
            node = current.producer
            if node is None and current in self.unrollable:
                found.update(dict.fromkeys(self.unrollable[current]))
            elif node is None:
                if current not in params:
                    return None
                found[params[current]] = None
            elif node.kind == "prim::ListLen" and getattr(node.inputs[0].producer, "kind", None) == "prim::Loop":
                pending.append(node.inputs[0].producer.inputs[0])  # the loop's trip count
            elif node.blocks or not all(isinstance(v.type, ScalarType) for v in (*node.inputs, *node.outputs)):
                return None
            else:
                pending.extend(node.inputs)
        return tuple(found) or None

    def static_int(self, x: Any, what: str) -> int:
        value = self.static(x, what)
        if not isinstance(value, int) or isinstance(value, bool):
            raise FrontendError(f"{what} must be an int, got {value!r}")
        return value

    def static_axis(self, x: Any, what: str = "axis") -> int | tuple | None:
        """None, an int or a tuple of ints, known at compile time."""
        value = self.static(x, what)
        if value is None or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        if isinstance(value, tuple) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return value
        raise FrontendError(f"{what} must be None, an int or a tuple of ints, got {value!r}")

    @staticmethod
    def type_of(x: Any) -> Type:
        if isinstance(x, Value):
            return x.type
        if isinstance(x, tuple):
            return TupleType(tuple(GraphBuilder.type_of(item) for item in x))
        if isinstance(x, list):
            try:
                return ListType(join_types([GraphBuilder.type_of(item) for item in x]) if x else NEVER)
            except TypeError as error:
                raise FrontendError(f"list elements must have one type: {error}") from None
        try:
            return type_of_value(x)
        except TypeError:
            raise FrontendError(f"jitc cannot use a value of type {type(x).__name__} here") from None

    def is_tensor(self, x: Any) -> bool:
        if isinstance(x, Value):
            return isinstance(x.type, TensorType)
        return isinstance(x, (np.ndarray, np.generic))

    # -- nodes ---------------------------------------------------------------------
    def op(self, kind: str, *inputs: Any, **attributes: Any) -> Value:
        """Emit one op with one output and return that output."""
        node = self._create(kind, inputs, attributes, None, None)
        return node.output

    def op_multi(self, kind: str, inputs: Sequence[Any], attributes: dict | None = None,
                 num_outputs: int | None = None) -> list[Value]:
        return list(self._create(kind, inputs, attributes or {}, num_outputs, None).outputs)

    def op_typed(self, kind: str, inputs: Sequence[Any], output_types: Sequence[Type],
                 attributes: dict | None = None):
        """Emit an op whose output types the node fixes (control flow, empty lists)."""
        return self._create(kind, inputs, attributes or {}, len(output_types), output_types)

    def _create(self, kind, inputs, attributes, num_outputs, output_types):
        values = [self.value(x) for x in inputs]
        try:
            return create_op(self.graph, kind, values, attributes, self.source, num_outputs, output_types)
        except IRTypeError as error:
            raise FrontendError(str(error)) from None

    def empty_list(self, element: Type) -> Value:
        return self.op_typed("prim::ListConstruct", [], [ListType(element)]).output


__all__ = ["GraphBuilder", "StaticValueNeeded", "is_constant", "as_dtype"]
