"""Constants, Python scalars, tuples and lists, and the ops with effects:
runtime checks and writes into arguments."""
from __future__ import annotations

import numpy as np
from llvmlite import ir

from ...ir.attributes import TensorRef
from ...ir.types import BOOL, FLOAT, INT, NONE, DType, ListType, TensorType, TupleType, Type
from .. import UnsupportedOpError
from .emitter import const
from .layout import (F64, I1, I8P, I64, I64P, NONE_VALUE, SCALAR_DTYPES, UNINITIALIZED_VALUE, NativeList,
                     NativeTensor, flatten, unflatten)
from .registry import attribute, lowers
from .runtime import libc


def python_constant(value, type: Type):
    if type == BOOL:
        return ir.Constant(I1, int(value))
    if type == INT:
        return ir.Constant(I64, int(value))
    if type == FLOAT:
        return ir.Constant(F64, float(value))
    if type == NONE:
        return NONE_VALUE
    if isinstance(type, TupleType):
        return tuple(python_constant(v, t) for v, t in zip(value, type.elements))
    raise UnsupportedOpError("prim::Constant", f"constants of type {type}")


@lowers("prim::Constant")
def constant(cg, node, inputs):
    value, type = attribute(node, "value"), node.output.type
    if isinstance(value, TensorRef):
        return [cg.tensor_constant(value.name, cg.graph.tensors[value.name], type)]
    if isinstance(type, TensorType):
        return [cg.tensor_constant(f"literal.{id(node)}", np.asarray(value), type)]
    return [python_constant(value, type)]


# -- tuples ------------------------------------------------------------------------------------------
@lowers("prim::TupleConstruct")
def tuple_construct(cg, node, inputs):
    return [tuple(inputs)]


@lowers("prim::TupleIndex")
def tuple_index(cg, node, inputs):
    return [inputs[0][attribute(node, "index")]]


@lowers("prim::TupleUnpack")
def tuple_unpack(cg, node, inputs):
    return list(inputs[0])


# -- scalars -----------------------------------------------------------------------------------------
@lowers("prim::NumToTensor")
def num_to_tensor(cg, node, inputs):
    dtype = node.output.type.dtype
    out = cg.em.allocate(dtype, [])
    cg.em.store(dtype, cg.em.cast(inputs[0], SCALAR_DTYPES[node.inputs[0].type], dtype), out.data)
    return [out]


def _scalar_of(cg, value, type: Type, result: Type):
    """The single element of `value` (a scalar or a size-1 tensor) and its dtype."""
    em, b = cg.em, cg.builder
    if not isinstance(type, TensorType):
        return value, SCALAR_DTYPES[type]
    if value.rank:
        em.raise_if(b.icmp_signed("!=", em.product(value.shape), const(1)), "ValueError",
                    "The truth value of an array with more than one element is ambiguous. "
                    "Use a.any() or a.all()")
    return em.load(value.dtype, value.data), value.dtype


@lowers("prim::Int", "prim::Float", "prim::Bool")
def to_python_scalar(cg, node, inputs):
    em, b = cg.em, cg.builder
    result = node.output.type
    value, dtype = _scalar_of(cg, inputs[0], node.inputs[0].type, result)
    if result == INT and dtype.is_float:
        value = b.fpext(value, F64) if dtype != DType.FLOAT64 else value
        em.raise_if(b.fcmp_unordered("uno", value, value), "ValueError", "cannot convert float NaN to integer")
        limit = ir.Constant(F64, 2.0 ** 63)
        em.raise_if(b.not_(b.and_(b.fcmp_ordered("<", value, limit), b.fcmp_ordered(">=", value, b.fneg(limit)))),
                    "OverflowError", "cannot convert float {0} to a 64-bit integer", [value])
        dtype = DType.FLOAT64
    return [em.cast(value, dtype, SCALAR_DTYPES[result])]


# -- lists -----------------------------------------------------------------------------------------------
def _new_list(cg, type, length) -> NativeList:
    em, b = cg.em, cg.builder
    per = max(NativeList(type, None).element_slots, 0)
    nbytes = b.mul(b.add(b.mul(length, const(per)), const(1)), const(8))
    record = NativeList(type, b.bitcast(em.allocate_bytes(nbytes), I64P))
    b.store(length, record.pointer)
    return record


def _copy_elements(cg, source: NativeList, target: NativeList, start) -> None:
    """Copy all of `source`'s elements into `target` from element `start` on."""
    b, per = cg.builder, source.element_slots
    count = b.mul(b.load(source.pointer), const(per * 8))
    destination = b.gep(target.pointer, [b.add(b.mul(start, const(per)), const(1))])
    b.call(libc(cg.module, "memcpy"), [b.bitcast(destination, I8P),
                                       b.bitcast(b.gep(source.pointer, [const(1)]), I8P), count])


def _store_element(cg, record: NativeList, index, value) -> None:
    b, per = cg.builder, record.element_slots
    start = b.add(b.mul(index, const(per)), const(1))
    cg.em.store_slots(flatten(b, value, record.type.element), b.gep(record.pointer, [start]))


@lowers("prim::ListConstruct")
def list_construct(cg, node, inputs):
    record = _new_list(cg, node.output.type, const(len(inputs)))
    for index, value in enumerate(inputs):
        _store_element(cg, record, const(index), value)
    return [record]


@lowers("prim::ListAppend")
def list_append(cg, node, inputs):
    """Lists are values in the IR: appending builds a new list."""
    old, element = inputs
    length = cg.builder.load(old.pointer)
    record = _new_list(cg, node.output.type, cg.builder.add(length, const(1)))
    _copy_elements(cg, old, record, const(0))
    _store_element(cg, record, length, element)
    return [record]


@lowers("prim::ListAdd")
def list_add(cg, node, inputs):
    first, second = inputs
    b = cg.builder
    length = b.load(first.pointer)
    record = _new_list(cg, node.output.type, b.add(length, b.load(second.pointer)))
    _copy_elements(cg, first, record, const(0))
    _copy_elements(cg, second, record, length)
    return [record]


@lowers("prim::ListLen")
def list_len(cg, node, inputs):
    return [cg.builder.load(inputs[0].pointer)]


def _checked_index(cg, record: NativeList, index, message: str):
    """`index` of `record` made non-negative, raising IndexError(message) when out of range."""
    em, b = cg.em, cg.builder
    length = b.load(record.pointer)
    index = b.select(b.icmp_signed("<", index, const(0)), b.add(index, length), index)
    em.raise_if(b.or_(b.icmp_signed("<", index, const(0)), b.icmp_signed(">=", index, length)),
                "IndexError", message)
    return index


@lowers("prim::ListIndex")
def list_index(cg, node, inputs):
    record, index = inputs
    return [list_element(cg.em, record, _checked_index(cg, record, index, "list index out of range"))]


@lowers("prim::ListSet")
def list_set(cg, node, inputs):
    """Lists are values in the IR: setting an element builds a new list."""
    old, index, element = inputs
    index = _checked_index(cg, old, index, "list assignment index out of range")
    record = _new_list(cg, node.output.type, cg.builder.load(old.pointer))
    _copy_elements(cg, old, record, const(0))
    _store_element(cg, record, index, element)
    return [record]


@lowers("prim::ListUnpack")
def list_unpack(cg, node, inputs):
    em, b = cg.em, cg.builder
    count = len(node.outputs)
    length = b.load(inputs[0].pointer)
    em.raise_if(b.icmp_signed(">", length, const(count)), "ValueError",
                f"too many values to unpack (expected {count})")
    em.raise_if(b.icmp_signed("<", length, const(count)), "ValueError",
                f"not enough values to unpack (expected {count}, got {{0}})", [length])
    return [list_element(em, inputs[0], const(i)) for i in range(count)]


def list_element(em, value: NativeList, index: ir.Value):
    """Element `index` (in range) of a native list."""
    per_element = value.element_slots
    start = em.builder.add(em.builder.mul(index, const(per_element)), const(1))
    slots = em.load_slots(em.builder.gep(value.pointer, [start]), per_element)
    return unflatten(em.builder, slots, value.type.element)


# -- placeholders and effects --------------------------------------------------------------------------
@lowers("prim::Uninitialized")
def uninitialized(cg, node, inputs):
    return [UNINITIALIZED_VALUE]


@lowers("prim::Assert")
def assert_(cg, node, inputs):
    """The message names the source line already: raise it as it is."""
    message = attribute(node, "message").replace("{", "{{").replace("}", "}}")
    code = cg.errors.code(attribute(node, "exception"), message)
    with cg.builder.if_then(cg.builder.not_(inputs[0]), likely=False):
        cg.em.fail(code)
    return []


@lowers("prim::CopyInto")
def copy_into(cg, node, inputs):
    """Write into the caller's array, after copying what still has to be
    read from its old contents: values passing through to the results, and
    a source that overlaps it (`x[:] = x[::-1]`)."""
    target, source, *passing = inputs
    kept = [_unshared(cg, value, value_node.type, target) for value, value_node in zip(passing, node.inputs[2:])]
    cg.em.copy_into(_copy_if_overlapping(cg, source, target), target)
    return kept


def _unshared(cg, value, type: Type, target: NativeTensor):
    if isinstance(type, TensorType):
        return _copy_if_overlapping(cg, value, target)
    if isinstance(type, TupleType):
        return tuple(_unshared(cg, v, t, target) for v, t in zip(value, type.elements))
    if isinstance(type, ListType) and _holds_arrays(type.element):
        b = cg.builder
        record = _new_list(cg, type, b.load(value.pointer))
        with cg.em.for_range(b.load(value.pointer), "unshare") as index:
            _store_element(cg, record, index, _unshared(cg, list_element(cg.em, value, index), type.element, target))
        return record
    return value


def _holds_arrays(type: Type) -> bool:
    if isinstance(type, TupleType):
        return any(map(_holds_arrays, type.elements))
    return isinstance(type, (TensorType, ListType))


def _copy_if_overlapping(cg, tensor: NativeTensor, target: NativeTensor) -> NativeTensor:
    em, b = cg.em, cg.builder
    overlaps = _may_overlap(cg, tensor, target)
    data = em.alloca_builder.alloca(tensor.data.type)
    b.store(tensor.data, data)
    with b.if_then(overlaps, likely=False):
        copy = em.allocate(tensor.dtype, tensor.shape)
        em.copy_into(tensor, copy)
        b.store(copy.data, data)
    strides = [b.select(overlaps, contiguous, stride)
               for contiguous, stride in zip(em.contiguous_strides(tensor.shape), tensor.strides)]
    return NativeTensor(tensor.dtype, b.load(data), list(tensor.shape), strides)


def _may_overlap(cg, a: NativeTensor, b: NativeTensor):
    """Whether the bytes two tensors span intersect (both non-empty)."""
    builder = cg.builder
    (low_a, high_a, empty_a), (low_b, high_b, empty_b) = _byte_span(cg, a), _byte_span(cg, b)
    intersect = builder.and_(builder.icmp_unsigned("<", low_a, high_b), builder.icmp_unsigned("<", low_b, high_a))
    return builder.and_(intersect, builder.not_(builder.or_(empty_a, empty_b)))


def _byte_span(cg, tensor: NativeTensor):
    """(lowest address, one past the highest, whether it has no elements)."""
    b = cg.builder
    itemsize = const(tensor.dtype.itemsize)
    low = b.ptrtoint(tensor.data, I64)
    high = b.add(low, itemsize)
    empty = ir.Constant(I1, 0)
    for size, stride in zip(tensor.shape, tensor.strides):
        reach = b.mul(b.mul(b.sub(size, const(1)), stride), itemsize)
        backwards = b.icmp_signed("<", reach, const(0))
        low = b.add(low, b.select(backwards, reach, const(0)))
        high = b.add(high, b.select(backwards, const(0), reach))
        empty = b.or_(empty, b.icmp_signed("<=", size, const(0)))
    return low, high, empty
