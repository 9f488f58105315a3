"""The one mapping from NumPy (functions, ufuncs, operators, ndarray methods
and properties, and the builtins that act on arrays) onto the op table.

Each entry is a *binder*: a function with the same parameters as the NumPy
callable it stands for, plus a leading `GraphBuilder`. Python binds the
caller's arguments to it, so keyword arguments, defaults and "unexpected
argument" errors behave as in NumPy. The tracer and the scripter both look
callables up here; neither has a mapping of its own.
"""
from __future__ import annotations

import builtins
import math
import operator
from typing import Any, Callable

import numpy as np

from ..errors import FrontendError
from ..ir.graph import Value
from ..ir.ops import ELEMENTWISE_GROUPS, UNKNOWN, all_ops
from ..ir.types import BOOL, INT, DType, ListType, ScalarType, TensorType, TupleType
from .builder import GraphBuilder, as_dtype, is_constant

Binder = Callable[..., Any]


class ApiTable:
    """Binders keyed by the NumPy object they stand for, by ndarray method
    name, and by ndarray attribute name."""

    def __init__(self):
        self.functions: dict[Any, Binder] = {}
        self.methods: dict[str, Binder] = {}
        self.attributes: dict[str, Binder] = {}

    def function(self, *keys):
        def register(binder: Binder) -> Binder:
            for key in keys:
                self.functions[key] = binder
            return binder
        return register

    def method(self, *names: str):
        def register(binder: Binder) -> Binder:
            for name in names:
                self.methods[name] = binder
            return binder
        return register

    def attribute(self, name: str):
        def register(binder: Binder) -> Binder:
            self.attributes[name] = binder
            return binder
        return register

    def lookup(self, function: Any) -> Binder | None:
        try:
            return self.functions.get(function)
        except TypeError:  # unhashable callables are never in the table
            return None

    def name_of(self, function: Any) -> str:
        module = getattr(function, "__module__", None) or ""
        name = getattr(function, "__name__", None) or type(function).__name__
        return f"np.{name}" if module.startswith("numpy") or isinstance(function, np.ufunc) else name


NUMPY_API = ApiTable()
api = NUMPY_API


def _unsupported_keywords(function: str, **given) -> None:
    for name, value in given.items():
        if value is not None:
            raise FrontendError(f"{function}: argument '{name}' is not supported by jitc")


# -- elementwise: ufuncs, operators, builtins ------------------------------------------------
def _all_scalars(b: GraphBuilder, inputs) -> bool:
    return all(isinstance(b.type_of(x), ScalarType) for x in inputs)


def _ufunc_binder(kind: str, ufunc: np.ufunc) -> Binder:
    def binder(b: GraphBuilder, *inputs, out=None, where=True, dtype=None, casting="same_kind",
               order="K", subok=True):
        if len(inputs) != ufunc.nin:
            raise FrontendError(f"np.{ufunc.__name__} takes {ufunc.nin} input(s), got {len(inputs)}")
        _unsupported_keywords(f"np.{ufunc.__name__}", out=out)
        if where is not True:
            raise FrontendError(f"np.{ufunc.__name__}: argument 'where' is not supported by jitc")
        if _all_scalars(b, inputs):
            # A ufunc on Python scalars returns a NumPy scalar: make the first a 0-d array.
            inputs = (b.op("prim::NumToTensor", inputs[0]),) + inputs[1:]
        result = b.op(kind, *inputs)
        return result if dtype is None else b.op("np::astype", result, dtype=as_dtype(dtype))
    return binder


for _op in all_ops():
    _ufunc = getattr(np, _op.short_name, None)
    if _op.group in ELEMENTWISE_GROUPS and _op.namespace == "np" and isinstance(_ufunc, np.ufunc):
        api.function(_ufunc)(_ufunc_binder(_op.name, _ufunc))


def _operator_binder(kind: str, list_kind: str | None = None) -> Binder:
    def binder(b: GraphBuilder, *inputs):
        if list_kind and all(isinstance(b.type_of(x), ListType) for x in inputs):
            return b.op(list_kind, *inputs)
        return b.op(kind, *inputs)
    return binder


for _function, _kind in (
        (operator.sub, "np::subtract"), (operator.mul, "np::multiply"),
        (operator.truediv, "np::divide"), (operator.floordiv, "np::floor_divide"),
        (operator.mod, "np::remainder"), (operator.pow, "np::power"), (operator.lt, "np::less"),
        (operator.le, "np::less_equal"), (operator.gt, "np::greater"),
        (operator.ge, "np::greater_equal"), (operator.eq, "np::equal"), (operator.ne, "np::not_equal"),
        (operator.and_, "np::bitwise_and"), (operator.or_, "np::bitwise_or"),
        (operator.xor, "np::bitwise_xor"), (operator.invert, "np::invert"),
        (operator.neg, "np::negative"), (operator.pos, "np::positive"), (builtins.abs, "np::absolute")):
    api.function(_function)(_operator_binder(_kind))
api.function(operator.add)(_operator_binder("np::add", list_kind="prim::ListAdd"))


def _builtin_extremum(kind: str, name: str) -> Binder:
    def binder(b: GraphBuilder, *inputs):
        if len(inputs) < 2:
            raise FrontendError(f"jitc supports {name}(a, b, ...) on scalars or arrays, "
                                f"not {name}() of an iterable; use np.{name}(x) for arrays")
        result = inputs[0]
        for other in inputs[1:]:
            result = b.op(kind, result, other)
        return result
    return binder


api.function(builtins.max)(_builtin_extremum("np::maximum", "max"))
api.function(builtins.min)(_builtin_extremum("np::minimum", "min"))

for _name in ("exp", "log", "log2", "log10", "log1p", "expm1", "sqrt", "sin", "cos", "tan", "asin",
              "acos", "atan", "sinh", "cosh", "tanh", "floor", "ceil", "trunc"):
    _numpy_name = {"asin": "arcsin", "acos": "arccos", "atan": "arctan"}.get(_name, _name)
    _result = "prim::Int" if _name in ("floor", "ceil", "trunc") else "prim::Float"

    def _math_binder(b: GraphBuilder, x, _kind=f"np::{_numpy_name}", _result=_result):
        if _result == "prim::Float":  # math converts its argument to a Python float first
            x = b.op("prim::Float", x)
        return b.op(_result, b.op(_kind, b.op("prim::NumToTensor", x) if _all_scalars(b, [x]) else x))
    api.function(getattr(math, _name))(_math_binder)


@api.function(builtins.int)
def _int(b: GraphBuilder, x=0):
    return b.op("prim::Int", x)


@api.function(builtins.float)
def _float(b: GraphBuilder, x=0.0):
    return b.op("prim::Float", x)


@api.function(builtins.bool, operator.truth)
def _bool(b: GraphBuilder, x=False):
    type = b.type_of(x)
    if type == BOOL:
        return x
    if isinstance(type, ListType):
        return b.op("np::not_equal", b.op("prim::ListLen", x), 0)
    return b.op("prim::Bool", x)


@api.function(operator.not_)
def _not(b: GraphBuilder, x):
    return b.op("np::equal", _bool(b, x), False)


@api.function(np.where)
def _where(b: GraphBuilder, condition, x=None, y=None):
    if x is None or y is None:
        raise FrontendError("np.where(condition) with one argument is not supported; "
                            "pass np.where(condition, x, y)")
    return b.op("np::where", condition, x, y)


@api.function(np.clip)
def _clip(b: GraphBuilder, a, a_min=None, a_max=None, out=None, **kwargs):
    _unsupported_keywords("np.clip", out=out)
    low = a_min if a_min is not None else kwargs.get("min")
    high = a_max if a_max is not None else kwargs.get("max")
    if low is None or high is None:
        raise FrontendError("np.clip needs both bounds in jitc")
    return b.op("np::clip", a, low, high)


api.method("clip")(_clip)


# -- reductions -------------------------------------------------------------------------------
def _reduction_binder(kind: str, name: str) -> Binder:
    def binder(b: GraphBuilder, a, axis=None, dtype=None, out=None, keepdims=False, *, where=None,
               initial=None, ddof=0, **unsupported):
        _unsupported_keywords(f"np.{name}", out=out, where=where, initial=initial, **unsupported)
        if dtype is not None:
            a = b.op("np::astype", a, dtype=as_dtype(dtype))
        attributes = {"axis": b.static_axis(axis), "keepdims": bool(b.static(keepdims, "keepdims"))}
        if kind in ("np::var", "np::std"):
            attributes["ddof"] = b.static(ddof, "ddof")
        elif ddof != 0:
            raise FrontendError(f"np.{name}: unexpected argument 'ddof'")
        return b.op(kind, a, **attributes)
    return binder


for _name, _aliases in (("sum", ()), ("prod", ()), ("mean", ()), ("max", ("amax",)),
                        ("min", ("amin",)), ("argmax", ()), ("argmin", ()), ("any", ()), ("all", ()),
                        ("var", ()), ("std", ())):
    _binder = _reduction_binder(f"np::{_name}", _name)
    api.function(getattr(np, _name), *[getattr(np, a) for a in _aliases if hasattr(np, a)])(_binder)
    api.method(_name)(_binder)


# -- scans ----------------------------------------------------------------------------------------------
def _scan_binder(kind: str, name: str) -> Binder:
    def binder(b: GraphBuilder, a, axis=None, dtype=None, out=None):
        _unsupported_keywords(f"np.{name}", out=out)
        if _all_scalars(b, [a]):
            a = b.op("prim::NumToTensor", a)
        if dtype is not None:
            a = b.op("np::astype", a, dtype=as_dtype(dtype))
        axis = b.static(axis, "axis")
        if axis is not None and (not isinstance(axis, int) or isinstance(axis, bool)):
            raise FrontendError(f"np.{name}: axis must be None or an int, got {axis!r}")
        return b.op(kind, a, axis=axis)
    return binder


for _name in ("cumsum", "cumprod"):
    api.function(getattr(np, _name))(_scan_binder(f"np::{_name}", _name))
    api.method(_name)(_scan_binder(f"np::{_name}", _name))


# -- shapes -------------------------------------------------------------------------------------
def _shape_arguments(b: GraphBuilder, shape) -> list:
    """A shape given as an int, a tuple/list of ints, or `x.shape`."""
    if isinstance(shape, (tuple, list)):
        return list(shape)
    if isinstance(shape, Value) and isinstance(shape.type, ListType):
        raise FrontendError("a shape must be a tuple of ints with a length known at compile "
                            "time; unpack it, as in x.reshape(n, -1)")
    return [shape]


@api.function(np.reshape)
def _reshape(b: GraphBuilder, a, shape=None, order="C", *, newshape=None, copy=None):
    if order != "C":
        raise FrontendError("np.reshape: only order='C' is supported")
    shape = newshape if shape is None else shape
    return b.op("np::reshape", a, *_shape_arguments(b, shape))


@api.method("reshape")
def _reshape_method(b: GraphBuilder, a, *shape, order="C"):
    if order != "C":
        raise FrontendError("ndarray.reshape: only order='C' is supported")
    if len(shape) == 1:
        shape = _shape_arguments(b, shape[0])
    return b.op("np::reshape", a, *shape)


@api.function(np.ravel)
def _ravel(b: GraphBuilder, a, order="C"):
    return _reshape(b, a, -1, order)


api.method("ravel", "flatten")(lambda b, a, order="C": _ravel(b, a, order))


@api.function(np.transpose)
def _transpose(b: GraphBuilder, a, axes=None):
    axes = b.static(axes, "axes")
    return b.op("np::transpose", a, axes=None if axes is None else tuple(axes))


@api.method("transpose")
def _transpose_method(b: GraphBuilder, a, *axes):
    if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
        axes = axes[0]
    return _transpose(b, a, tuple(axes) if axes else None)


api.attribute("T")(lambda b, a: b.op("np::transpose", a))


@api.function(np.expand_dims)
def _expand_dims(b: GraphBuilder, a, axis):
    return b.op("np::expand_dims", a, axis=b.static_axis(axis))


@api.function(np.squeeze)
def _squeeze(b: GraphBuilder, a, axis=None):
    return b.op("np::squeeze", a, axis=b.static_axis(axis))


api.method("squeeze")(_squeeze)


@api.function(np.broadcast_to)
def _broadcast_to(b: GraphBuilder, array, shape, subok=False):
    return b.op("np::broadcast_to", array, *_shape_arguments(b, shape))


def _tensor_list(b: GraphBuilder, arrays) -> Value:
    if isinstance(arrays, (list, tuple)):
        if not arrays:
            raise FrontendError("need at least one array to join")
        return b.op("prim::ListConstruct", *arrays)
    if isinstance(arrays, Value) and isinstance(arrays.type, ListType):
        return arrays
    raise FrontendError("expected a list or tuple of arrays")


@api.function(np.stack)
def _stack(b: GraphBuilder, arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    _unsupported_keywords("np.stack", out=out, dtype=dtype)
    return b.op("np::stack", _tensor_list(b, arrays), axis=b.static_int(axis, "axis"))


@api.function(np.concatenate)
def _concatenate(b: GraphBuilder, arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    _unsupported_keywords("np.concatenate", out=out, dtype=dtype)
    return b.op("np::concatenate", _tensor_list(b, arrays), axis=b.static_int(axis, "axis"))


# -- linear algebra ------------------------------------------------------------------------------
@api.function(np.matmul, operator.matmul)
def _matmul(b: GraphBuilder, x1, x2, /, out=None, **kwargs):
    _unsupported_keywords("np.matmul", out=out)
    return b.op("np::matmul", x1, x2)


@api.function(np.dot)
def _dot(b: GraphBuilder, a, b_, out=None):
    _unsupported_keywords("np.dot", out=out)
    for operand in (a, b_):
        rank = getattr(b.type_of(operand), "rank", None)
        if rank is not None and rank > 2:
            raise FrontendError("np.dot of arrays with more than 2 dims is not supported; "
                                "use np.matmul (@) or np.tensordot")
    if _all_scalars(b, [a]) or _all_scalars(b, [b_]):
        return b.op("np::multiply", a, b_)
    return b.op("np::matmul", a, b_)


api.method("dot")(_dot)


# -- creation and casts ----------------------------------------------------------------------------
def _creation_binder(kind: str) -> Binder:
    def binder(b: GraphBuilder, shape, dtype=float, order="C", *, like=None, device=None):
        return b.op(kind, *_shape_arguments(b, shape), dtype=as_dtype(dtype))
    return binder


api.function(np.zeros)(_creation_binder("np::zeros"))
api.function(np.ones)(_creation_binder("np::ones"))


@api.function(np.full)
def _full(b: GraphBuilder, shape, fill_value, dtype=None, order="C", *, like=None, device=None):
    return b.op("np::full", fill_value, *_shape_arguments(b, shape),
                dtype=None if dtype is None else as_dtype(dtype))


def _scalar_argument(b: GraphBuilder, x, what: str):
    """A Python int or float for a size or bound given as a scalar or a 0-d array."""
    type = b.type_of(x)
    if isinstance(type, TensorType) and type.rank == 0 and type.dtype is not None:
        return b.op("prim::Float" if type.dtype.is_float else "prim::Int", x)
    if not isinstance(type, ScalarType):
        raise FrontendError(f"{what} must be a scalar, got {type}")
    return x


@api.function(np.arange)
def _arange(b: GraphBuilder, start, stop=None, step=None, dtype=None, *, like=None, device=None):
    bounds = [start] if stop is None else [start, stop]
    if step is not None:
        bounds = ([0] if stop is None else []) + bounds + [step]
    bounds = [_scalar_argument(b, bound, "np.arange: a bound") for bound in bounds]
    return b.op("np::arange", *bounds, dtype=None if dtype is None else as_dtype(dtype))


@api.function(np.linspace)
def _linspace(b: GraphBuilder, start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0, *,
              device=None):
    if b.static(retstep, "retstep"):
        raise FrontendError("np.linspace(retstep=True) is not supported; the step is "
                            "(stop - start) / (num - 1) with endpoint, else / num")
    if b.static(axis, "axis") not in (0, -1):
        raise FrontendError("np.linspace: scalar bounds give a 1-d result, so axis must be 0")
    return b.op("np::linspace", start, stop, _scalar_argument(b, num, "np.linspace: num"),
                endpoint=bool(b.static(endpoint, "endpoint")), dtype=None if dtype is None else as_dtype(dtype))


@api.function(np.copy)
def _copy(b: GraphBuilder, a, order="K", subok=False):
    """A new array equal to `a`: an astype to its own dtype, so the scripter
    sees a value of its own that writes through `a` do not change."""
    if _all_scalars(b, [a]):
        return b.op("prim::NumToTensor", a)
    dtype = b.type_of(a).dtype if isinstance(b.type_of(a), TensorType) else None
    if dtype is None:
        raise FrontendError("np.copy needs the array's dtype at compile time; pass an array argument")
    return b.op("np::astype", a, dtype=dtype)


api.method("copy")(lambda b, a, order="C": _copy(b, a))


def _diagonals(b: GraphBuilder, rows, cols) -> Value:
    """The (rows, cols) int array whose element (i, j) is j - i: the
    diagonal it lies on, which eye, tri, triu and tril compare with k."""
    column = b.op("np::arange", _scalar_argument(b, cols, "a size"))
    row = b.op("np::expand_dims", b.op("np::arange", _scalar_argument(b, rows, "a size")), axis=1)
    return b.op("np::subtract", column, row)


@api.function(np.eye)
def _eye(b: GraphBuilder, N, M=None, k=0, dtype=float, order="C", *, device=None, like=None):
    on_diagonal = b.op("np::equal", _diagonals(b, N, N if M is None else M), k)
    return b.op("np::astype", on_diagonal, dtype=as_dtype(dtype))


@api.function(np.identity)
def _identity(b: GraphBuilder, n, dtype=None, *, like=None):
    return _eye(b, n, dtype=float if dtype is None else dtype)


@api.function(np.tri)
def _tri(b: GraphBuilder, N, M=None, k=0, dtype=float, *, like=None):
    below = b.op("np::less_equal", _diagonals(b, N, N if M is None else M), k)
    return b.op("np::astype", below, dtype=as_dtype(dtype))


def _triangle_binder(upper: bool) -> Binder:
    """np.triu / np.tril: m where j - i >= k (upper) or <= k (lower), else 0,
    over the last two axes (a 1-d m stands for its rows, as in NumPy)."""
    def binder(b: GraphBuilder, m, k=0):
        type = b.type_of(m)
        if not isinstance(type, TensorType):
            raise FrontendError(f"np.{'triu' if upper else 'tril'} expects an array, got {type}")
        if type.rank == 0:
            raise FrontendError(f"np.{'triu' if upper else 'tril'} needs an array of at least 1 dimension")
        cols = b.op("np::dim", m, axis=-1)
        rows = cols if type.rank == 1 else b.op("np::dim", m, axis=-2)
        keep = b.op("np::greater_equal" if upper else "np::less_equal", _diagonals(b, rows, cols), k)
        return b.op("np::where", keep, m, False if type.dtype == DType.BOOL else 0)
    return binder


api.function(np.triu)(_triangle_binder(upper=True))
api.function(np.tril)(_triangle_binder(upper=False))


@api.method("astype")
def _astype(b: GraphBuilder, a, dtype, order="K", casting="unsafe", subok=True, copy=True):
    return b.op("np::astype", a, dtype=as_dtype(dtype))


for _dtype in (d for d in DType if not d.is_complex):  # complex numbers are not supported
    def _scalar_constructor(b: GraphBuilder, x=0, _dtype=_dtype):
        return b.op("np::astype", x, dtype=_dtype)
    api.function(_dtype.numpy.type)(_scalar_constructor)


@api.function(np.asarray)
def _asarray(b: GraphBuilder, a, dtype=None, order=None, *, copy=None, like=None, device=None, **kwargs):
    if isinstance(a, (list, tuple)) and all(is_constant(item) for item in a):
        a = b.value(np.asarray(a))
    elif isinstance(a, (list, tuple)):
        a = b.op("np::stack", b.op("prim::ListConstruct", *a), axis=0)
    elif _all_scalars(b, [a]):
        a = b.op("prim::NumToTensor", a)
    return a if dtype is None else b.op("np::astype", a, dtype=as_dtype(dtype))


@api.function(np.array)
def _array(b: GraphBuilder, object, dtype=None, *, copy=True, order="K", subok=False, ndmin=0, like=None):
    """np.array copies an array unless copy=False, so writes to the result
    never reach the argument."""
    if ndmin:
        raise FrontendError("np.array: argument 'ndmin' is not supported by jitc")
    made = _asarray(b, object, dtype)
    if made is object and b.static(copy, "copy") is not False:
        return _copy(b, made)
    return made


# -- queries ---------------------------------------------------------------------------------------
@api.attribute("shape")
def _shape(b: GraphBuilder, a):
    """A tuple of int values when the rank is known, else a List[int] value."""
    type = b.type_of(a)
    if not isinstance(type, TensorType):
        raise FrontendError(f"expected an array, got {type}")
    rank = type.rank
    if rank is None:
        return b.op("np::shape", a)
    return tuple(b.op("np::dim", a, axis=i) for i in range(rank))


api.function(np.shape)(_shape)
@api.attribute("ndim")
def _ndim(b: GraphBuilder, a):
    """The rank, a Python int when the type knows it (a graph is compiled
    per rank), so that `if x.ndim == 2:` picks its branch while compiling."""
    type = b.type_of(a)
    if isinstance(type, TensorType) and type.rank is not None:
        return type.rank
    return b.op("np::ndim", a)


api.function(np.ndim)(_ndim)
api.attribute("size")(lambda b, a: b.op("np::size", a))
api.function(np.size)(lambda b, a, axis=None: b.op("np::size", a) if axis is None
                      else b.op("np::dim", a, axis=b.static_int(axis, "axis")))


@api.function(builtins.len)
def _len(b: GraphBuilder, obj):
    if isinstance(obj, (tuple, list)):  # known while compiling, whatever it holds
        return len(obj)
    type = b.type_of(obj)
    if isinstance(type, ListType):
        return b.op("prim::ListLen", obj)
    if isinstance(type, TensorType):
        return b.op("np::dim", obj, axis=0)
    if isinstance(type, TupleType):
        return len(type.elements)
    raise FrontendError(f"len() of {type} is not supported")


# -- indexing --------------------------------------------------------------------------------------
# An index becomes a list of (kind, parts), the kinds of np::index's `items`
# (ir/ops/indexing.py): ints, slices, None and ... alone read through views
# (np::select, np::slice, np::expand_dims), one axis at a time; an index that
# holds an int array or a boolean mask is one np::index; `x[index] = value`
# is always one np::index_put, which returns the updated copy.
_FULL_SLICE = ("slice", [None, None, None])


def _index_items(index) -> tuple:
    return index if isinstance(index, tuple) else (index,)


def _index_array(b: GraphBuilder, item) -> Value:
    """A list or NumPy array used as an index, as a tensor value."""
    if isinstance(item, Value) and isinstance(item.type, ListType):
        producer = item.producer
        if producer is None or producer.kind != "prim::ListConstruct":
            raise FrontendError("index with an array, not a list value: build it with np.array([...])")
        item = list(producer.inputs)
    if isinstance(item, list):
        if not item or not all(b.type_of(element) in (INT, BOOL) for element in item):
            raise FrontendError("a list used as an index must hold ints or bools; index with an array "
                                "built by np.array or np.stack for anything else")
        constants = [b.constant_of(element) for element in item]
        if UNKNOWN in constants:  # x[[i, j]]: the ids as a 1-d array
            elements = [b.op("prim::NumToTensor", element) for element in item]
            return b.op("np::stack", b.op("prim::ListConstruct", *elements), axis=0)
        item = np.asarray(constants)
    return b.value(np.asarray(item))


def _index_item(b: GraphBuilder, item) -> tuple[str, list]:
    """One item of an index as (kind, parts)."""
    if item is None:
        return "none", []
    if item is Ellipsis:
        return "...", []
    if isinstance(item, slice):
        return "slice", [item.start, item.stop, item.step]
    if isinstance(item, np.integer):
        return "int", [int(item)]
    if isinstance(item, (list, np.ndarray)):
        return "array", [_index_array(b, item)]
    type = b.type_of(item)
    if type == INT:
        return "int", [item]
    if isinstance(type, ListType):
        return "array", [_index_array(b, item)]
    if isinstance(type, TensorType):
        if type.rank == 0 and type.dtype is not None and type.dtype.is_integer:  # np.int64(2) indexes as 2
            return "int", [b.op("prim::Int", item)]
        return "array", [item]
    raise FrontendError(f"an index must be an int, a slice, None, ..., an int array or a boolean mask, "
                        f"got {type}")


def _parse_index(b: GraphBuilder, index) -> list[tuple[str, list]]:
    items = [_index_item(b, item) for item in _index_items(index)]
    if sum(1 for kind, _ in items if kind == "...") > 1:
        raise FrontendError("an index can only have a single ellipsis ('...')")
    return items


def _index_op(b: GraphBuilder, kind: str, inputs: list, items: list):
    return b.op(kind, *inputs, *(part for _, parts in items for part in parts),
                items=tuple(item_kind for item_kind, _ in items))


def _index_one_axis(b: GraphBuilder, x, kind: str, parts: list, axis: int) -> tuple[Any, bool]:
    """Apply one basic item at `axis`; returns the result and whether the
    axis survives (False for an int index, which removes it)."""
    if kind == "none":
        return b.op("np::expand_dims", x, axis=axis), True
    if kind == "slice":
        if all(part is None for part in parts):
            return x, True
        return b.op("np::slice", x, *parts, axis=axis), True
    return b.op("np::select", x, *parts, axis=axis), False


def _read_index(b: GraphBuilder, x, items: list):
    """x[index]: one np::index when the index holds an array, else views,
    axis by axis."""
    if any(kind == "array" for kind, _ in items):
        return _index_op(b, "np::index", [x], items)
    kinds = [kind for kind, _ in items]
    split = kinds.index("...") if "..." in kinds else len(items)
    axis = 0
    for kind, parts in items[:split]:
        x, kept = _index_one_axis(b, x, kind, parts, axis)
        axis += kept
    axis = -1
    for kind, parts in reversed(items[split + 1:]):
        x, kept = _index_one_axis(b, x, kind, parts, axis)
        axis -= kept
    return x


@api.function(operator.getitem)
def _getitem(b: GraphBuilder, x, index):
    type = b.type_of(x)
    if isinstance(type, ListType):
        if isinstance(index, slice):
            raise FrontendError("slicing a list is not supported yet; loop over "
                                "range(start, len(items)) and index the list instead")
        return b.op("prim::ListIndex", x, index)
    if isinstance(type, TupleType):
        return b.op("prim::TupleIndex", x, index=b.static_int(index, "a tuple index"))
    return _read_index(b, x, _parse_index(b, index))


@api.function(operator.setitem)
def _setitem(b: GraphBuilder, x, index, value):
    """`x[index] = value` as a new array value (np::index_put): the scripter
    and the tracer bind the array's names to it; x's own buffer is never written."""
    type = b.type_of(x)
    if not isinstance(type, TensorType):
        raise FrontendError(f"item assignment is supported on arrays only, got {type}")
    if isinstance(value, (list, tuple)):
        value = _asarray(b, value)
    return _index_op(b, "np::index_put", [x, value], _parse_index(b, index))


@api.function(np.take)
def _take(b: GraphBuilder, a, indices, axis=None, out=None, mode="raise"):
    _unsupported_keywords("np.take", out=out)
    if mode != "raise":
        raise FrontendError("np.take: only mode='raise' is supported")
    axis = b.static(axis, "axis")
    if axis is None:
        a, axis = _ravel(b, a), 0
    elif not isinstance(axis, int) or isinstance(axis, bool):
        raise FrontendError(f"np.take: axis must be None or an int, got {axis!r}")
    rank = getattr(b.type_of(a), "rank", None)
    if rank is not None and not -rank <= axis < rank:
        raise FrontendError(f"np.take: axis {axis} is out of bounds for array of dimension {rank}")
    kind, parts = _index_item(b, indices)
    if kind == "array" and b.type_of(parts[0]).dtype == DType.BOOL:  # take reads bools as 0 and 1
        parts = [b.op("np::astype", parts[0], dtype=DType.INT64)]
    if kind not in ("int", "array"):
        raise FrontendError("np.take: indices must be an int or an array of ints")
    if axis >= 0:
        return _read_index(b, a, [_FULL_SLICE] * axis + [(kind, parts)])
    return _read_index(b, a, [("...", []), (kind, parts)] + [_FULL_SLICE] * (-axis - 1))


api.method("take")(_take)


__all__ = ["ApiTable", "NUMPY_API", "UNKNOWN", "is_constant"]

from . import numpy_composites  # noqa: E402,F401  (registers its binders into NUMPY_API)
