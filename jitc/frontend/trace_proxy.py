"""The proxy that stands for an array or a scalar while `jitc.trace` runs a
function.

A proxy reaches the tracer through NumPy's own protocols
(`__array_ufunc__`, `__array_function__`), Python's operators, ndarray
methods and attributes, indexing and the conversions to Python values.
Everything it records is looked up in `numpy_api.NUMPY_API`, the table the
scripter uses too; the operator methods come from one table below, which
also names the operators in error messages (as torch.fx's Proxy does).
"""
from __future__ import annotations

import functools
import operator
from typing import TYPE_CHECKING, Any

import numpy as np

from ..ir.graph import Value
from ..ir.types import TensorType
from .numpy_api import NUMPY_API
from . import trace_writes

if TYPE_CHECKING:
    from .tracer import Tracer

# name -> (the operator function the mapping table knows, how Python spells it)
BINARY_OPERATORS = {
    "add": (operator.add, "+"), "sub": (operator.sub, "-"), "mul": (operator.mul, "*"),
    "truediv": (operator.truediv, "/"), "floordiv": (operator.floordiv, "//"),
    "mod": (operator.mod, "%"), "pow": (operator.pow, "**"), "matmul": (operator.matmul, "@"),
    "and": (operator.and_, "&"), "or": (operator.or_, "|"), "xor": (operator.xor, "^"),
    "lshift": (operator.lshift, "<<"), "rshift": (operator.rshift, ">>"),
    "divmod": (divmod, "divmod()"),
}
COMPARISONS = {
    "lt": (operator.lt, "<"), "le": (operator.le, "<="), "gt": (operator.gt, ">"),
    "ge": (operator.ge, ">="), "eq": (operator.eq, "=="), "ne": (operator.ne, "!="),
}
UNARY_OPERATORS = {
    "neg": (operator.neg, "unary -"), "pos": (operator.pos, "unary +"),
    "invert": (operator.invert, "~"), "abs": (abs, "abs()"),
}
OPERATOR_NAMES = {function: f"the {symbol} operator" if symbol[-1] != ")" else symbol
                  for function, symbol in [*BINARY_OPERATORS.values(), *COMPARISONS.values(),
                                           *UNARY_OPERATORS.values()]}
OPERATOR_NAMES.update({operator.getitem: "indexing (x[...])", operator.setitem: "item assignment (x[...] = v)",
                       round: "round()", len: "len()"})


def unwrap(x: Any) -> Any:
    """`x` with every proxy replaced by its IR value (in tuples, lists, dicts and slices)."""
    if isinstance(x, Proxy):
        return x.value
    if isinstance(x, tuple):
        return tuple(unwrap(v) for v in x)
    if isinstance(x, list):
        return [unwrap(v) for v in x]
    if isinstance(x, dict):
        return {k: unwrap(v) for k, v in x.items()}
    if isinstance(x, slice):
        return slice(unwrap(x.start), unwrap(x.stop), unwrap(x.step))
    return x


class Proxy:
    """Stands for an array or a scalar while a function is traced.

    `value` is the IR value it holds now: an in-place update (`x += 1`,
    `x[0] = 2`) rebinds it, so later reads through the same Python object
    see the update. `base` is set on views (basic indexing, transposes,
    new axes), so a write through the view reaches the array it was
    taken from."""

    __slots__ = ("tracer", "value", "base", "__weakref__")
    __array_priority__ = 1000
    __hash__ = object.__hash__

    def __init__(self, tracer: "Tracer", value: Value, base: "trace_writes.ViewBase | None" = None):
        self.tracer = tracer
        self.value = value
        self.base = base

    @property
    def is_array(self) -> bool:
        """True for an array of at least one dim: NumPy's mutable kind (0-d
        results are NumPy scalars, which Python rebinds instead)."""
        type = self.value.type
        return isinstance(type, TensorType) and type.rank != 0

    # -- NumPy's protocols -----------------------------------------------------------
    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        if method != "__call__":
            raise self.tracer.error(f"np.{ufunc.__name__}.{method} is not supported by jitc's tracer; "
                                    f"call the function it stands for (np.sum for np.add.reduce, ...)")
        if out is not None:
            return trace_writes.store(self.tracer, ufunc, inputs, kwargs, out)
        return self.tracer.call(ufunc, *inputs, **kwargs)

    def __array_function__(self, function, types, args, kwargs):
        return self.tracer.call(function, *args, **kwargs)

    def __array__(self, dtype=None, copy=None):
        raise self.tracer.error(
            "NumPy asked for the data of a traced array (a function that converts its arguments "
            "to arrays itself, such as np.ascontiguousarray, or a function imported by name "
            "before tracing, such as `from numpy import asarray`): jitc.trace cannot record that; "
            "pass the traced value to the NumPy functions of jitc's table")

    # -- attributes and methods ----------------------------------------------------------
    @property
    def ndim(self) -> int:
        rank = getattr(self.value.type, "rank", None)
        if rank is None:
            raise AttributeError(f"a traced {self.value.type} has no attribute 'ndim'")
        return rank

    def __getattr__(self, name: str):
        if name.startswith("__") or name in Proxy.__slots__:
            raise AttributeError(name)  # protocols that Python and NumPy probe for
        if name in NUMPY_API.attributes:
            return self.tracer.record(NUMPY_API.attributes[name], (self,), {})
        if name in NUMPY_API.methods:
            return functools.partial(self.tracer.call_method, name, self)
        raise AttributeError(f"jitc.trace cannot record ndarray.{name}: jitc's NumPy mapping table "
                             f"has no entry for it")

    def item(self, *index):
        """The value as a Python scalar: it leaves the graph (a TracerWarning
        when it depends on the inputs)."""
        if index:
            return self[index if len(index) > 1 else index[0]].item()
        return np.asarray(self.tracer.to_python(self, "x.item()")).item()

    def tolist(self):
        return np.asarray(self.tracer.to_python(self, "x.tolist()")).tolist()

    # -- indexing -------------------------------------------------------------------------------
    def __getitem__(self, index):
        result = self.tracer.call(operator.getitem, self, index)
        if self.is_array and isinstance(result, Proxy) and result.is_array and trace_writes.is_basic(index):
            result.base = trace_writes.indexing_view(self.tracer, self, index)
            self.tracer.add_view(result)
        return result

    def __setitem__(self, index, value) -> None:
        trace_writes.setitem(self.tracer, self, index, value)

    def __len__(self) -> int:
        if not self.is_array:
            raise TypeError("len() of unsized object")
        return int(self.tracer.to_python(self.tracer.call(len, self), "len()", decides=True))

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    # -- conversions to Python values: they leave the graph ---------------------------------------
    def __bool__(self) -> bool:
        return bool(self.tracer.to_python(self, "a Python bool", decides=True))

    def __int__(self) -> int:
        return int(self.tracer.to_python(self, "a Python int"))

    def __index__(self) -> int:
        if self.is_array:
            raise TypeError("only integer scalar arrays can be converted to a scalar index")
        return operator.index(self.tracer.to_python(self, "an index", decides=True))

    def __float__(self) -> float:
        return float(self.tracer.to_python(self, "a Python float"))

    def __complex__(self) -> complex:
        return complex(self.tracer.to_python(self, "a Python complex"))

    def __round__(self, ndigits=None):
        return self.tracer.call(round, self) if ndigits is None else self.tracer.call(round, self, ndigits)

    def __repr__(self) -> str:
        return f"<traced {self.value.type} %{self.value.name or '?'}>"


def _install_operators() -> None:
    def binary(function):
        return (lambda self, other: self.tracer.call(function, self, other),
                lambda self, other: self.tracer.call(function, other, self),
                lambda self, other: trace_writes.update(self.tracer, self, function, other))

    for name, (function, _) in BINARY_OPERATORS.items():
        forward, reflected, inplace = binary(function)
        setattr(Proxy, f"__{name}__", forward)
        setattr(Proxy, f"__r{name}__", reflected)
        if name != "divmod":
            setattr(Proxy, f"__i{name}__", inplace)
    for name, (function, _) in COMPARISONS.items():
        setattr(Proxy, f"__{name}__", binary(function)[0])
    for name, (function, _) in UNARY_OPERATORS.items():
        setattr(Proxy, f"__{name}__", (lambda f: lambda self: self.tracer.call(f, self))(function))


_install_operators()

__all__ = ["Proxy", "unwrap", "OPERATOR_NAMES"]
