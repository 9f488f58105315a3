"""The tracer: runs a function once on proxy arrays and records every NumPy
operation they take part in (the proxies live in `trace_proxy`).

Every proxy also carries the concrete value the example inputs give it,
computed with the op table's references, so that Python can branch on it
the way `torch.jit.trace` lets it. Turning a proxy into a Python value
bakes that value into the trace:
- a value computed from shapes only (`range(x.shape[0])`) fixes those dims
  in the traced signature, so a call with other sizes is refused, never
  computed wrongly; shapes only used in arithmetic (`x.reshape(n, -1)`,
  `x / x.shape[-1]`) stay symbolic;
- a value computed from data emits a `TracerWarning` naming the line, and
  under `strict=True` a data-dependent control decision is a `TraceError`.
"""
from __future__ import annotations

import functools
import linecache
import os
import sys
import warnings
import weakref
from typing import Any, Callable, Sequence

import numpy as np

from .. import backends, ir
from ..errors import FrontendError, TraceError, TracerWarning, format_with_source
from ..ir.graph import Graph, SourceLocation, Value
from ..ir.interpreter import Interpreter
from ..ir.ops import UNKNOWN
from ..ir.types import TensorType
from ..signature import argument_type
from . import trace_inline, trace_patches, trace_writes
from .builder import GraphBuilder
from .numpy_api import NUMPY_API
from .trace_dependencies import dependencies
from .trace_proxy import OPERATOR_NAMES, Proxy, unwrap

_LIBRARY_ROOTS = tuple(os.path.dirname(os.path.abspath(module.__file__)) + os.sep
                       for module in (sys.modules["jitc"], ir, backends, np))


def is_library_code(code) -> bool:
    """True for code of jitc or NumPy, False for the user's."""
    return code.co_filename.startswith(_LIBRARY_ROOTS)


def user_location() -> SourceLocation | None:
    """Where the innermost frame outside jitc and NumPy is: the user's
    line, with the columns of the expression it is running."""
    frame = sys._getframe(1)
    while frame is not None and is_library_code(frame.f_code):
        frame = frame.f_back
    if frame is None:
        return None
    return _location(frame.f_code, frame.f_lasti, frame.f_lineno)


@functools.lru_cache(maxsize=4096)
def _location(code, lasti: int, line: int) -> SourceLocation:
    positions = next(iter(list(code.co_positions())[lasti // 2:lasti // 2 + 1]), None)
    if positions is None or None in positions or positions[0] != line:
        return SourceLocation(code.co_filename, line)
    start, end, column, end_column = positions
    return SourceLocation(code.co_filename, start, column, end, end_column)


class TraceBuilder(GraphBuilder):
    """The builder binders see while tracing. A value a binder needs at
    compile time (an axis, a dtype) that the trace only knows as a traced
    value is baked in with the tracer's soundness rules, instead of being
    an error as in the scripter."""

    def __init__(self, tracer: "Tracer"):
        super().__init__(tracer.graph)
        self.tracer = tracer

    def static(self, x: Any, what: str) -> Any:
        value = self.constant_of(x)
        return self.tracer.bake(x, what) if value is UNKNOWN else value


class Tracer:
    """One recording: the graph, the concrete value of each of its values,
    the dims the trace fixed and the bookkeeping of in-place writes."""

    def __init__(self, name: str, strict: bool):
        self.graph = Graph(name)
        self.builder = TraceBuilder(self)
        self.interpreter = Interpreter(self.graph)
        self.concrete: dict[Value, Any] = {}
        self.strict = strict
        self.fixed_dims: dict[tuple[int, int], SourceLocation | None] = {}
        # values that may share memory with an array written in place, and where it was written
        self.stale: dict[Value, SourceLocation | None] = {}
        # proxies that are views of other proxies, while they live (by id: a proxy's == records)
        self._views: dict[int, weakref.ref] = {}

    location = staticmethod(user_location)

    def add_view(self, proxy: Proxy) -> None:
        self._views[id(proxy)] = weakref.ref(proxy, lambda _, key=id(proxy): self._views.pop(key, None))

    def views(self) -> list[Proxy]:
        return [view for view in (ref() for ref in list(self._views.values())) if view is not None]

    # -- recording -----------------------------------------------------------
    def parameter(self, example, name: str) -> Proxy:
        value = self.graph.add_param(argument_type(example, name), name)
        self.concrete[value] = example
        return Proxy(self, value)

    def constant(self, array: np.ndarray, name: str) -> Proxy:
        """A proxy for an array the trace keeps as a named tensor constant."""
        value = self.graph.tensor_constant(array, name)
        self.concrete[value] = array
        return Proxy(self, value)

    def call(self, function, *args, **kwargs):
        binder = NUMPY_API.lookup(function)
        if binder is None:
            name = OPERATOR_NAMES.get(function) or NUMPY_API.name_of(function)
            raise self.error(f"{name} is not supported by jitc's tracer: jitc's NumPy mapping table "
                             "has no entry for it")
        return self.record(binder, args, kwargs)

    def call_method(self, name: str, proxy: Proxy, *args, **kwargs):
        return self.record(NUMPY_API.methods[name], (proxy, *args), kwargs)

    def record(self, binder: Callable, args, kwargs):
        """Run `binder` on the IR values of `args`, compute the concrete
        values of the nodes it adds, and wrap its result in proxies."""
        location = user_location()
        values, kwargs = unwrap(args), unwrap(kwargs)
        self.check_current((values, kwargs))
        self.builder.source = location
        first_new = len(self.graph.block.nodes)
        try:
            result = self.wrap(binder(self.builder, *values, **kwargs))
        except FrontendError as error:
            raise TraceError(str(error), location) from None
        self.run_nodes(first_new, location)
        if args:
            trace_writes.register_view(self, args[0], result)
        return result

    def emit(self, kind: str, inputs, attributes: dict) -> Proxy:
        """Record one op of the table as it is (to take a view again, or
        write one back into its base)."""
        location = user_location()
        self.builder.source = location
        first_new = len(self.graph.block.nodes)
        value = self.builder.op(kind, *unwrap(tuple(inputs)), **attributes)
        self.run_nodes(first_new, location)
        return Proxy(self, value)

    def run_nodes(self, first: int, location: SourceLocation | None) -> None:
        """The concrete values of the top-level nodes from index `first` on."""
        for node in self.graph.block.nodes[first:]:
            try:
                outputs = self.interpreter.run_node(node, self.concrete)
            except (ValueError, TypeError, IndexError, ArithmeticError) as error:  # as eager NumPy would
                raise TraceError(f"{node.kind}: {error}", location) from None
            self.concrete.update(zip(node.outputs, outputs))

    def wrap(self, result):
        if isinstance(result, Value):
            return Proxy(self, result)
        if isinstance(result, (tuple, list)):
            return type(result)(self.wrap(r) for r in result)
        return result

    def error(self, message: str) -> TraceError:
        return TraceError(message, user_location())

    def check_current(self, values, what: str = "this array") -> None:
        """Refuse to read a value that may share memory with an array
        written in place since it was taken."""
        for value in _values_in(values):
            if value in self.stale:
                written = self.stale[value]
                where = f"line {written.line} of {written.filename}" if written else "another line"
                raise TraceError(
                    f"{what} may share memory with an array written in place at {where} (an "
                    "alias made by np.asarray, or a reshape, which NumPy makes a view or a copy "
                    "depending on strides): jitc.trace cannot tell whether NumPy would see the "
                    "write; take a .copy() before writing, or take the view again after it",
                    user_location() if what == "this array" else None)

    # -- leaving the graph ------------------------------------------------------
    def to_python(self, proxy: Proxy, what: str, *, decides: bool = False) -> Any:
        """The concrete value of `proxy`, which the trace keeps as a constant
        from here on (see the module docstring for the rules)."""
        self.check_current(proxy.value)
        return self._bake_value(proxy.value, f"converting a traced value to {what}", decides)

    def bake(self, x: Any, what: str) -> Any:
        """`x` (a frontend value, a tuple or list of them) as Python values,
        for a binder that needs `what` at compile time."""
        if isinstance(x, Value):
            if x not in self.concrete:
                raise FrontendError(f"{what} must be a constant known at compile time")
            concrete = self._bake_value(x, f"using a traced value as {what}, which jitc needs "
                                           "when it compiles,", decides=True)
            return concrete.item() if isinstance(concrete, (np.ndarray, np.generic)) else concrete
        if isinstance(x, (tuple, list)):
            return type(x)(self.bake(item, what) for item in x)
        return x

    def _bake_value(self, value: Value, doing: str, decides: bool) -> Any:
        location = user_location()
        dims, data_dependent = dependencies(self.graph, value)
        if data_dependent:
            at = f" at {location.filename}:{location.line}" if location else ""
            message = (f"{doing}{at} records it as a constant: the trace will not follow other "
                       "inputs here")
            if decides and self.strict:
                raise TraceError(message + "; this decides control flow, which a trace cannot "
                                 "record: use jitc.script, or trace with strict=False", location)
            warn(message, location)
        for dim in dims:
            self.fixed_dims.setdefault(dim, location)
        return self.concrete[value]

    # -- the end ------------------------------------------------------------------
    def finish(self, result) -> tuple[Graph, int | None]:
        """Set the graph's returns from the function's result and fix the
        dims the trace depends on; returns the graph and the output arity
        (None for a single value)."""
        outputs = result if isinstance(result, tuple) else (result,)
        values = []
        for output in outputs:
            output = unwrap(output)
            self.check_current(output, "an array the function returns")
            try:
                values.append(self.builder.value(output))
            except FrontendError:
                raise TraceError("a traced function must return arrays, scalars, or tuples and "
                                 f"lists of them; it returned a {type(output).__name__}") from None
        self.graph.block.set_returns(values)
        for index, axis in self.fixed_dims:
            param = self.graph.params[index]
            shape = list(param.type.shape)
            shape[axis] = int(np.shape(self.concrete[param])[axis])
            param.type = TensorType(param.type.dtype, tuple(shape))
        _drop_unused_constants(self.graph)
        return self.graph, (len(outputs) if isinstance(result, tuple) else None)


def warn(message: str, location: SourceLocation | None) -> None:
    """A TracerWarning attributed to the user's line."""
    if location is None:
        warnings.warn(message, TracerWarning, stacklevel=2)
        return
    module = os.path.splitext(os.path.basename(location.filename))[0]
    warnings.warn_explicit(format_with_source(message, location), TracerWarning, location.filename,
                           location.line, module, registry=None)


def fixed_size_message(name: str, traced_shape, shape, fixed_at: dict) -> str:
    """Why an argument `name` of signature shape `shape` does not fit a
    traced parameter of shape `traced_shape`; `fixed_at` maps axes to where
    the trace fixed them."""
    axis = next(axis for axis, (traced, given) in enumerate(zip(traced_shape, shape))
                if isinstance(traced, int) and traced != given)
    size, given = traced_shape[axis], shape[axis]
    got = f"size {given}" if isinstance(given, int) else "another size"
    where = fixed_at.get(axis)
    if where is None:
        return (f"argument '{name}' has {got} in dim {axis}; the trace was recorded with size {size} "
                "there, which NumPy broadcasts, so the trace only accepts that size: trace with "
                "example inputs whose sizes are not 1 where they can vary")
    line = linecache.getline(where.filename, where.line).strip()
    return (f"argument '{name}' has {got} in dim {axis}, but the trace fixed that dim to {size}: "
            f"line {where.line} of {where.filename} (`{line}`) turned it into a Python value (a "
            "loop count, a condition or a compile-time argument), so the trace holds for that size "
            "only; trace again at this size, or use jitc.script")


def _values_in(x) -> list[Value]:
    if isinstance(x, Value):
        return [x]
    if isinstance(x, (tuple, list)):
        return [v for item in x for v in _values_in(item)]
    if isinstance(x, dict):
        return _values_in(list(x.values()))
    if isinstance(x, slice):
        return _values_in([x.start, x.stop, x.step])
    return []


def _drop_unused_constants(graph: Graph) -> None:
    """Tensor constants made for module arrays that the trace never used."""
    from ..ir.attributes import TensorRef
    for node in list(graph.block.nodes):
        if node.kind == "prim::Constant" and not node.output.uses and isinstance(
                node.attributes["value"], TensorRef):
            node.destroy()
    used = {node.attributes["value"].name for node in graph.walk()
            if node.kind == "prim::Constant" and isinstance(node.attributes["value"], TensorRef)}
    for name in [name for name in graph.tensors if name not in used]:
        del graph.tensors[name]


def trace_graph(function, example_inputs: Sequence[Any], names: Sequence[str], *, strict: bool = True,
                constants: Callable[[Tracer], Any] | None = None,
                name: str | None = None) -> tuple[Graph, int | None, dict]:
    """Record `function` on `example_inputs`; returns the graph, the output
    arity (None when the function returns one value) and where each dim the
    trace fixed was fixed: {(parameter index, axis): SourceLocation}.
    `constants(tracer)`, when given, runs first and returns a context
    manager active while the function runs (module arrays as proxies)."""
    tracer = Tracer(name or getattr(function, "__name__", "traced"), strict)
    proxies = [tracer.parameter(example, name) for example, name in zip(example_inputs, names)]
    with np.errstate(all="ignore"), trace_patches.patched(), trace_inline.recording(tracer):
        if constants is None:
            result = function(*proxies)
        else:
            with constants(tracer):
                result = function(*proxies)
    graph, arity = tracer.finish(result)
    return graph, arity, dict(tracer.fixed_dims)


__all__ = ["Tracer", "TraceBuilder", "trace_graph", "user_location", "warn", "fixed_size_message"]
