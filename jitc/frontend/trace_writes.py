"""In-place updates while tracing: `x += y`, `x[i] = v`, `np.exp(x, out=x)`.

NumPy writes into x's memory; the graph is SSA. A write records the new
value and rebinds the proxy to it, so later reads through the same Python
object see the update. A write through a view (`x[0][1] = v`,
`row = x[i]; row += 1`, `x.T[0] = v`, `x[:, None][1] = v`) is written
back into the array the view came from, and the views taken from a
written array are taken again, as NumPy's shared memory would have them.
Any other array that may share memory with the written one (an alias made
by np.asarray, a reshape, which NumPy makes a view or a copy depending on
strides) becomes *stale*: the
tracer refuses to read it rather than record an old value. Writing into
an input is refused too: the compiled function cannot change the
caller's array as NumPy would.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import numpy as np

from ..ir.graph import Node, Value
from ..ir.ops import Group, get_op
from ..ir.types import TensorType
from .numpy_api import NUMPY_API

if TYPE_CHECKING:
    from .trace_proxy import Proxy
    from .tracer import Tracer

# What NumPy may return as a view of its first input: the shape group and basic indexing
# (a gather, np::index, and a write, np::index_put, make new arrays).
BASIC_INDEXING = frozenset({"np::select", "np::slice"})


@dataclass
class ViewBase:
    """Where a view came from: `take(proxy)` when `proxy` held `source`.
    `put(proxy, new)` is the array `proxy` with the view's elements
    replaced by `new`."""

    proxy: "Proxy"
    source: Value
    take: Callable[["Proxy"], "Proxy"]
    put: Callable[["Proxy", "Proxy"], "Proxy"]


def indexing_view(tracer: "Tracer", base: "Proxy", index) -> ViewBase:
    """The view `base[index]` of basic indexing."""
    return ViewBase(base, base.value, lambda array: tracer.call(operator.getitem, array, index),
                    lambda array, new: tracer.call(operator.setitem, array, index, new))


def node_view(tracer: "Tracer", base: "Proxy", node: Node) -> ViewBase | None:
    """The view that one transpose, expand_dims, squeeze or basic-indexing
    node took of `base`: NumPy always returns those as views. None for
    the others: a reshape may be a view or a copy (it depends on strides),
    and np.broadcast_to's view is read-only; those stay stale after a write."""
    kind, rest, attributes = node.kind, node.inputs[1:], dict(node.attributes)

    def take(array):
        return tracer.emit(kind, (array, *rest), attributes)

    if kind == "np::transpose":
        rank = base.value.type.rank
        axes = attributes.get("axes") or tuple(reversed(range(rank)))
        inverse = tuple(int(axis) for axis in np.argsort([axis % rank for axis in axes]))

        def put(array, new):
            return tracer.emit("np::transpose", (new,), {"axes": inverse})
    elif kind in ("np::expand_dims", "np::squeeze"):
        def put(array, new):
            return tracer.emit("np::reshape", (new, *array.shape), {})
    elif kind in BASIC_INDEXING:
        axis = attributes.get("axis", 0)
        item = slice(*rest) if kind == "np::slice" else rest[0]
        index = ((slice(None),) * axis + (item,) if axis >= 0
                 else (Ellipsis, item) + (slice(None),) * (-axis - 1))

        def put(array, new):
            return tracer.call(operator.setitem, array, index, new)
    else:
        return None
    return ViewBase(base, base.value, take, put)


def register_view(tracer: "Tracer", base, view) -> None:
    """Remember that `view` is a one-node view of the proxy `base`."""
    from .trace_proxy import Proxy
    if not (isinstance(base, Proxy) and isinstance(view, Proxy) and base.is_array and view.is_array):
        return
    node = view.value.producer
    if node is not None and _is_view_node(node) and node.inputs[0] is base.value:
        view.base = node_view(tracer, base, node)
        if view.base is not None:
            tracer.add_view(view)


def is_basic(index) -> bool:
    """True for ints, slices, None and ... (NumPy returns a view); arrays,
    lists and bools index by copy."""
    from .trace_proxy import Proxy
    for item in index if isinstance(index, tuple) else (index,):
        if isinstance(item, Proxy):
            if isinstance(item.value.type, TensorType):
                return False
        elif isinstance(item, bool) or not (item is None or item is Ellipsis
                                            or isinstance(item, (int, np.integer, slice))):
            return False
    return True


def _view_input(value: Value) -> Value | None:
    """The array `value` may be a view of, or None."""
    node = value.producer
    if node is None or not _is_view_node(node) or getattr(value.type, "rank", 0) == 0:
        return None
    return node.inputs[0]


def _is_view_node(node: Node) -> bool:
    return node.kind in BASIC_INDEXING or get_op(node.kind).group is Group.SHAPE


def _view_chain(value: Value) -> list[Value]:
    """`value`, the array it is a view of, that array's base, ... up to the root."""
    chain = [value]
    while (source := _view_input(chain[-1])) is not None:
        chain.append(source)
    return chain


def _views_of(root: Value) -> list[Value]:
    """`root` and every value recorded so far that may share its memory."""
    found, pending = [], [root]
    while pending:
        value = pending.pop()
        found.append(value)
        for use in value.uses:
            node = use.user
            if isinstance(node, Node) and use.index == 0 and _is_view_node(node):
                pending.extend(v for v in node.outputs if getattr(v.type, "rank", 0) != 0)
    return found


def assign(tracer: "Tracer", proxy: "Proxy", new: "Proxy") -> None:
    """Make `proxy` hold `new` (an array of its shape and dtype), as a write
    into its memory: through to its base when it is a view, and marking
    everything else that may share the memory as stale."""
    base = proxy.base
    if base is not None and base.proxy.value is base.source:
        assign(tracer, base.proxy, base.put(base.proxy, new))
        if proxy.base is base:  # not among the views taken again
            _take_view(tracer, proxy, base)
        return
    chain = _view_chain(proxy.value)
    root = chain[-1]
    if root.producer is None:
        raise tracer.error(
            f"an in-place update of the input '{root.name}' is not supported by jitc.trace: the "
            f"compiled function cannot change the caller's array as NumPy does; assign a new array "
            f"instead ({root.name} = {root.name} + ..., or {root.name} = {root.name}.copy() first)")
    if any(value.producer.kind == "np::broadcast_to" for value in chain[:-1]):
        raise tracer.error("assignment destination is read-only: it is a view made by np.broadcast_to")
    location = tracer.location()
    for value in _views_of(root):
        tracer.stale.setdefault(value, location)
    old, proxy.value, proxy.base = proxy.value, new.value, None
    _refresh_views(tracer, proxy, old)


def _take_view(tracer: "Tracer", view: "Proxy", base: ViewBase) -> None:
    """Make `view` hold its view of what its base holds now."""
    view.value = base.take(base.proxy).value
    view.base = ViewBase(base.proxy, base.proxy.value, base.take, base.put)


def _refresh_views(tracer: "Tracer", proxy: "Proxy", old: Value) -> None:
    """Views taken from `proxy` while it held `old` (and views of those)
    see what `proxy` holds now."""
    for view in tracer.views():
        base = view.base
        if base is not None and base.proxy is proxy and base.source is old:
            view_old = view.value
            _take_view(tracer, view, base)
            _refresh_views(tracer, view, view_old)


def write_result(tracer: "Tracer", target: "Proxy", result: "Proxy", what: str) -> None:
    """Store `result` into `target` as NumPy's `out=` does: cast to the
    target's dtype under casting='same_kind', never change its shape."""
    target_dtype, result_dtype = target.value.type.dtype, result.value.type.dtype
    if result_dtype != target_dtype:
        if not np.can_cast(result_dtype.numpy, target_dtype.numpy, "same_kind"):
            raise tracer.error(f"{what}: cannot cast the result from {result_dtype.value} to "
                               f"{target_dtype.value} with casting rule 'same_kind' (NumPy refuses "
                               f"this in-place update too)")
        result = tracer.record(NUMPY_API.methods["astype"], (result, target_dtype.numpy), {})
    target_shape = np.shape(tracer.concrete[target.value])
    result_shape = np.shape(tracer.concrete[result.value])
    if result_shape != target_shape:
        raise tracer.error(f"{what}: non-broadcastable output operand with shape {target_shape} "
                           f"does not match the broadcast shape {result_shape}")
    assign(tracer, target, result)


def _fitted(tracer: "Tracer", operand, target: "Proxy", what: str):
    """`operand` of an update of `target`, broadcast to the target's shape
    when it is an array that could be larger: sizes that agree in the trace
    may not at another call, and NumPy refuses an update that would grow
    its target, as broadcast_to does."""
    from .trace_proxy import Proxy, unwrap
    if isinstance(operand, np.ndarray):
        shape = operand.shape
    else:
        type = tracer.builder.type_of(unwrap(operand))
        if not isinstance(type, TensorType):
            return operand
        shape = np.shape(tracer.concrete[operand.value]) if isinstance(operand, Proxy) else ()
    if all(d == 1 for d in shape):
        return operand
    target_shape = np.shape(tracer.concrete[target.value])
    if np.broadcast_shapes(shape, target_shape) != target_shape:
        raise tracer.error(f"{what}: non-broadcastable output operand with shape {target_shape} "
                           f"does not match the broadcast shape {np.broadcast_shapes(shape, target_shape)}")
    return tracer.call(np.broadcast_to, operand, target.shape)


def update(tracer: "Tracer", target: "Proxy", function, other) -> "Proxy":
    """`target op= other`: a write into an array; a rebinding for NumPy and
    Python scalars, which are immutable."""
    from .trace_proxy import OPERATOR_NAMES
    if not target.is_array:
        return tracer.call(function, target, other)
    what = OPERATOR_NAMES[function].replace(" operator", "= operator")
    result = tracer.call(function, target, _fitted(tracer, other, target, what))
    write_result(tracer, target, result, what)
    return target


def store(tracer: "Tracer", ufunc: np.ufunc, inputs: tuple, kwargs: dict, out) -> "Proxy":
    """`ufunc(*inputs, out=target)`: the result written into `target`."""
    from .trace_proxy import Proxy
    targets = out if isinstance(out, tuple) else (out,)
    if len(targets) != 1 or not isinstance(targets[0], Proxy) or not targets[0].is_array:
        raise tracer.error(f"np.{ufunc.__name__}(..., out=...): jitc.trace can only write into "
                           f"one traced array")
    target, what = targets[0], f"np.{ufunc.__name__}(..., out=...)"
    inputs = [x if x is target else _fitted(tracer, x, target, what) for x in inputs]
    write_result(tracer, target, tracer.call(ufunc, *inputs, **kwargs), what)
    return target


def setitem(tracer: "Tracer", target: "Proxy", index, value) -> None:
    """`target[index] = value`, through the table's binder for operator.setitem."""
    if not target.is_array:
        raise TypeError(f"a traced {target.value.type} does not support item assignment")
    assign(tracer, target, tracer.call(operator.setitem, target, index, value))


__all__ = ["ViewBase", "indexing_view", "node_view", "register_view", "is_basic", "assign", "update", "store",
           "setitem", "write_result"]
