"""The tracer: runs a function once on proxy arrays and records every NumPy
operation they take part in.

Proxies reach the recording through NumPy's own protocols
(`__array_ufunc__`, `__array_function__`), Python's operators, ndarray
methods and properties; each lookup goes through `numpy_api.NUMPY_API`, the
table the scripter uses too. Every proxy also carries the concrete value the
example inputs give it, computed with the op table's references, so that
Python can branch on it the way `torch.jit.trace` lets it.

Turning a proxy into a Python value bakes that value into the trace:
- a value computed from shapes only (`range(x.shape[0])`) fixes those dims
  in the traced signature, so a call with other sizes is refused, never
  computed wrongly;
- a value computed from data emits a `TracerWarning` naming the line, and
  under `strict=True` a data-dependent branch is a `TraceError`.
"""
from __future__ import annotations

import functools
import operator
import os
import sys
import warnings
from typing import Any, Sequence

import numpy as np

from ..errors import FrontendError, TraceError, TracerWarning
from ..ir.graph import Graph, SourceLocation, Value
from ..ir.interpreter import Interpreter
from ..ir.types import TensorType
from ..signature import argument_type
from .builder import GraphBuilder
from .numpy_api import NUMPY_API

_JITC_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_NUMPY_ROOT = os.path.dirname(np.__file__)
_SHAPE_QUERIES = {"np::dim", "np::size", "np::ndim", "np::shape"}


def _user_location() -> SourceLocation | None:
    """The innermost stack frame outside jitc and NumPy: the user's line."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith((_JITC_ROOT, _NUMPY_ROOT)):
            return SourceLocation(filename, frame.f_lineno)
        frame = frame.f_back
    return None


class Tracer:
    def __init__(self, name: str, strict: bool):
        self.graph = Graph(name)
        self.builder = GraphBuilder(self.graph)
        self.interpreter = Interpreter(self.graph)
        self.concrete: dict[Value, Any] = {}
        self.strict = strict
        self.fixed_dims: set[tuple[int, int]] = set()

    # -- recording -----------------------------------------------------------
    def parameter(self, example, name: str) -> "Proxy":
        value = self.graph.add_param(argument_type(example, name), name)
        self.concrete[value] = example
        return Proxy(self, value)

    def call(self, function, *args, **kwargs):
        binder = NUMPY_API.lookup(function)
        if binder is None:
            raise self.error(f"{NUMPY_API.name_of(function)} is not supported by jitc's tracer")
        return self.record(binder, args, kwargs)

    def call_method(self, name: str, proxy: "Proxy", *args, **kwargs):
        return self.record(NUMPY_API.methods[name], (proxy, *args), kwargs)

    def record(self, binder, args, kwargs):
        self.builder.source = _user_location()
        first_new = len(self.graph.block.nodes)
        try:
            result = binder(self.builder, *_unwrap(args), **_unwrap(kwargs))
        except FrontendError as error:
            raise self.error(str(error)) from None
        for node in self.graph.block.nodes[first_new:]:
            try:
                outputs = self.interpreter.run_node(node, self.concrete)
            except (ValueError, TypeError, IndexError) as error:  # NumPy rejects the example values
                raise self.error(f"{node.kind}: {error}") from None
            self.concrete.update(zip(node.outputs, outputs))
        return self.wrap(result)

    def wrap(self, result):
        if isinstance(result, Value):
            return Proxy(self, result)
        if isinstance(result, (tuple, list)):
            return type(result)(self.wrap(r) for r in result)
        return result

    def error(self, message: str) -> TraceError:
        location = _user_location()
        where = f" (at {location.filename}:{location.line})" if location else ""
        return TraceError(message + where)

    # -- leaving the graph ------------------------------------------------------
    def to_python(self, proxy: "Proxy", kind: type):
        """The concrete value of `proxy` as a Python `kind`, baked into the trace."""
        dims, data_dependent = self.dependencies(proxy.value)
        if data_dependent:
            location = _user_location()
            where = f"{location.filename}:{location.line}" if location else "an unknown line"
            message = (f"converting a traced value to a Python {kind.__name__} at {where} "
                       "records it as a constant: the trace will not follow other inputs here")
            if kind is bool and self.strict:
                raise TraceError(message + "; this decides control flow, which tracing cannot "
                                 "record: use jitc.script, or trace with strict=False")
            warnings.warn(message, TracerWarning, stacklevel=3)
        self.fixed_dims |= dims
        return kind(self.concrete[proxy.value])

    def dependencies(self, value: Value) -> tuple[set[tuple[int, int]], bool]:
        """The (parameter, axis) dims a value is computed from, and whether
        it also depends on array data."""
        dims: set[tuple[int, int]] = set()
        data_dependent = False
        pending, seen = [value], set()
        while pending:
            current = pending.pop()
            if current in seen:
                continue
            seen.add(current)
            node = current.producer
            if node is None:
                data_dependent = True
            elif node.kind in _SHAPE_QUERIES:
                source = node.inputs[0]
                if source.producer is None:
                    index = self.graph.params.index(source)
                    rank = len(np.shape(self.concrete[source]))
                    axes = [node.attributes["axis"] % rank] if node.kind == "np::dim" else range(rank)
                    dims |= {(index, axis) for axis in axes}
            else:
                pending.extend(node.inputs)
        return dims, data_dependent

    def finish(self, result) -> tuple[Graph, int | None]:
        """Set the graph's returns from the function's result; returns the
        graph and the output arity (None for a single value)."""
        outputs = result if isinstance(result, tuple) else (result,)
        values = []
        for output in outputs:
            if isinstance(output, Proxy):
                values.append(output.value)
            elif isinstance(output, (np.ndarray, np.generic, int, float, bool)):
                values.append(self.builder.value(np.asarray(output) if isinstance(output, np.ndarray)
                                                 else output))
            else:
                raise TraceError(f"a traced function must return arrays or tuples of arrays, "
                                 f"got {type(output).__name__}")
        self.graph.block.set_returns(values)
        for index, axis in self.fixed_dims:
            param = self.graph.params[index]
            shape = list(param.type.shape)
            shape[axis] = int(np.shape(self.concrete[param])[axis])
            param.type = TensorType(param.type.dtype, tuple(shape))
        return self.graph, (len(outputs) if isinstance(result, tuple) else None)


def _unwrap(x):
    if isinstance(x, Proxy):
        return x.value
    if isinstance(x, tuple):
        return tuple(_unwrap(v) for v in x)
    if isinstance(x, list):
        return [_unwrap(v) for v in x]
    if isinstance(x, dict):
        return {k: _unwrap(v) for k, v in x.items()}
    if isinstance(x, slice):
        return slice(_unwrap(x.start), _unwrap(x.stop), _unwrap(x.step))
    return x


class Proxy:
    """Stands for an array or a scalar while a function is traced."""

    __slots__ = ("tracer", "value")
    __array_priority__ = 1000
    __hash__ = object.__hash__

    def __init__(self, tracer: Tracer, value: Value):
        self.tracer = tracer
        self.value = value

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method != "__call__":
            raise self.tracer.error(f"np.{ufunc.__name__}.{method} is not supported by jitc's tracer")
        return self.tracer.call(ufunc, *inputs, **kwargs)

    def __array_function__(self, function, types, args, kwargs):
        return self.tracer.call(function, *args, **kwargs)

    def __array__(self, dtype=None, copy=None):
        raise self.tracer.error("a traced array cannot become a NumPy array: the call that "
                                "asked for one is not recorded by jitc (use NumPy functions on it)")

    def __getattr__(self, name: str):
        if name in NUMPY_API.attributes:
            return self.tracer.record(NUMPY_API.attributes[name], (self,), {})
        if name in NUMPY_API.methods:
            return functools.partial(self.tracer.call_method, name, self)
        if name == "dtype":
            return np.asarray(self.tracer.concrete[self.value]).dtype
        raise AttributeError(f"traced arrays have no attribute {name!r} that jitc can record")

    @property
    def ndim(self) -> int:
        return np.ndim(self.tracer.concrete[self.value])

    def __getitem__(self, index):
        return self.tracer.call(operator.getitem, self, index)

    def __len__(self) -> int:
        return self.tracer.to_python(self.tracer.call(len, self), int)

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __bool__(self) -> bool:
        return self.tracer.to_python(self, bool)

    def __int__(self) -> int:
        return self.tracer.to_python(self, int)

    def __index__(self) -> int:
        return self.tracer.to_python(self, int)

    def __float__(self) -> float:
        return self.tracer.to_python(self, float)

    def __repr__(self) -> str:
        return f"<traced {self.value.type} %{self.value.name or '?'}>"


def _binary(function):
    def forward(self, other):
        return self.tracer.call(function, self, other)

    def reflected(self, other):
        return self.tracer.call(function, other, self)
    return forward, reflected


for _name, _function in (("add", operator.add), ("sub", operator.sub), ("mul", operator.mul),
                         ("truediv", operator.truediv), ("floordiv", operator.floordiv),
                         ("mod", operator.mod), ("pow", operator.pow), ("matmul", operator.matmul),
                         ("and", operator.and_), ("or", operator.or_), ("xor", operator.xor)):
    _forward, _reflected = _binary(_function)
    setattr(Proxy, f"__{_name}__", _forward)
    setattr(Proxy, f"__r{_name}__", _reflected)
for _name, _function in (("lt", operator.lt), ("le", operator.le), ("gt", operator.gt),
                         ("ge", operator.ge), ("eq", operator.eq), ("ne", operator.ne)):
    setattr(Proxy, f"__{_name}__", _binary(_function)[0])
for _name, _function in (("neg", operator.neg), ("pos", operator.pos), ("invert", operator.invert),
                         ("abs", abs)):
    setattr(Proxy, f"__{_name}__", (lambda f: lambda self: self.tracer.call(f, self))(_function))


def trace_graph(function, example_inputs: Sequence[Any], names: Sequence[str], *,
                strict: bool = True) -> tuple[Graph, int | None]:
    """Record `function` on `example_inputs`; returns the graph and the
    output arity (None when the function returns one value)."""
    tracer = Tracer(getattr(function, "__name__", "traced"), strict)
    proxies = [tracer.parameter(example, name) for example, name in zip(example_inputs, names)]
    with np.errstate(all="ignore"):
        result = function(*proxies)
    return tracer.finish(result)
