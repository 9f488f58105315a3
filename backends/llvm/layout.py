"""How IR values look in native code.

At compile time every IR value is a Python object holding LLVM values:
scalars are one LLVM register (`int` i64, `float` double, `bool` i1), a
tensor is a `NativeTensor` (data pointer, one i64 size and one i64 stride in
elements per dim), a tuple is a Python tuple, a list a `NativeList` (a
pointer to `[length, element slots...]`), None is `NONE`.

Wherever a value must cross a boundary (arguments, results, list elements,
loop-carried state) it is *flattened* to i64 slots in a fixed order that
depends only on its IR type, and rebuilt from them with `unflatten`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from llvmlite import ir

from ...ir.types import (BOOL, FLOAT, INT, NEVER, NONE, DType, ListType, TensorType, TupleType, Type)
from .. import UnsupportedOpError

I1, I8, I16, I32, I64 = ir.IntType(1), ir.IntType(8), ir.IntType(16), ir.IntType(32), ir.IntType(64)
F16, F32, F64 = ir.HalfType(), ir.FloatType(), ir.DoubleType()
VOID = ir.VoidType()
I8P, I64P = I8.as_pointer(), I64.as_pointer()

# LLVM integers have no sign: unsigned dtypes share the signed ones' types, and the
# operations that differ (division, comparison, widening, float conversion) ask
# `is_unsigned_in_registers`. Complex numbers are not lowered.
_STORAGE = {DType.BOOL: I8, DType.INT8: I8, DType.UINT8: I8, DType.INT16: I16, DType.UINT16: I16,
            DType.INT32: I32, DType.UINT32: I32, DType.INT64: I64, DType.UINT64: I64,
            DType.FLOAT16: F16, DType.FLOAT32: F32, DType.FLOAT64: F64}
SUPPORTED_DTYPES = tuple(_STORAGE)
# float16 is computed in float32 and rounded to float16 after every op, as NumPy's float16 loops do
_REGISTER = {**_STORAGE, DType.BOOL: I1, DType.FLOAT16: F32}


def check_dtype(dtype: DType | None, kind: str = "tensor") -> DType:
    if dtype not in SUPPORTED_DTYPES:
        raise UnsupportedOpError(kind, f"dtype {dtype.value if dtype else 'unknown'} is not lowered")
    return dtype


def storage_type(dtype: DType) -> ir.Type:
    """The LLVM type of one element in memory (bool is a byte, as in NumPy)."""
    return _STORAGE[check_dtype(dtype)]


def register_type(dtype: DType) -> ir.Type:
    """The LLVM type elements are computed in (bool is i1)."""
    return _REGISTER[check_dtype(dtype)]


def is_unsigned_in_registers(dtype: DType) -> bool:
    """Whether integer registers of `dtype` compare and widen as unsigned (bool and uint*)."""
    return dtype == DType.BOOL or dtype.is_unsigned


SCALAR_DTYPES = {INT: DType.INT64, FLOAT: DType.FLOAT64, BOOL: DType.BOOL}


class _NoneValue:
    def __repr__(self) -> str:
        return "NONE"


NONE_VALUE = _NoneValue()


class _Uninitialized:
    """What prim::Uninitialized lowers to: flattened as zeros of whatever
    type the merge it flows into has (it is never read)."""

    def __repr__(self) -> str:
        return "UNINITIALIZED"


UNINITIALIZED_VALUE = _Uninitialized()


@dataclass
class NativeTensor:
    """A strided view: `data` points at element [0, ..., 0]; strides count elements."""

    dtype: DType
    data: ir.Value
    shape: list
    strides: list

    @property
    def rank(self) -> int:
        return len(self.shape)


@dataclass
class NativeList:
    """A list in memory: i64 `[length, slots of element 0, slots of element 1, ...]`."""

    type: ListType
    pointer: ir.Value

    @property
    def element_slots(self) -> int:
        return slot_count(self.type.element)


def tensor_type(type: Type) -> TensorType:
    if not isinstance(type, TensorType) or not type.is_specialised:
        raise UnsupportedOpError("tensor", f"type {type} is not specialised")
    check_dtype(type.dtype)
    return type


def slot_count(type: Type) -> int:
    """How many i64 slots a value of `type` flattens to."""
    if type in (INT, FLOAT, BOOL) or isinstance(type, ListType):
        return 1
    if type in (NONE, NEVER):
        return 0
    if isinstance(type, TensorType):
        return 1 + 2 * tensor_type(type).rank
    if isinstance(type, TupleType):
        return sum(slot_count(t) for t in type.elements)
    raise UnsupportedOpError("value", f"values of type {type} are not lowered")


def flatten(builder: ir.IRBuilder, value, type: Type) -> list:
    """`value` as i64 slots (see `slot_count`)."""
    if value is UNINITIALIZED_VALUE:
        return [ir.Constant(I64, 0)] * slot_count(type)
    if type == INT:
        return [value]
    if type == FLOAT:
        return [builder.bitcast(value, I64)]
    if type == BOOL:
        return [builder.zext(value, I64)]
    if type == NONE:
        return []
    if isinstance(type, ListType):
        return [builder.ptrtoint(value.pointer, I64)]
    if isinstance(type, TensorType):
        if value.rank != tensor_type(type).rank:
            raise AssertionError(f"a rank-{value.rank} value flattened as {type}")
        return [builder.ptrtoint(value.data, I64), *value.shape, *value.strides]
    if isinstance(type, TupleType):
        return [slot for v, t in zip(value, type.elements) for slot in flatten(builder, v, t)]
    raise UnsupportedOpError("value", f"values of type {type} are not lowered")


def unflatten(builder: ir.IRBuilder, slots: list, type: Type):
    """The value of `type` stored in `slots`. Dims the type fixes become
    constants, so LLVM can fold what depends on them."""
    if type == INT:
        return slots[0]
    if type == FLOAT:
        return builder.bitcast(slots[0], F64)
    if type == BOOL:
        return builder.trunc(slots[0], I1)
    if type == NONE:
        return NONE_VALUE
    if isinstance(type, ListType):
        return NativeList(type, builder.inttoptr(slots[0], I64P))
    if isinstance(type, TensorType):
        rank = tensor_type(type).rank
        data = builder.inttoptr(slots[0], storage_type(type.dtype).as_pointer())
        shape = [ir.Constant(I64, d) if isinstance(d, int) else s for d, s in zip(type.shape, slots[1:1 + rank])]
        return NativeTensor(type.dtype, data, shape, list(slots[1 + rank:1 + 2 * rank]))
    if isinstance(type, TupleType):
        values, start = [], 0
        for element in type.elements:
            count = slot_count(element)
            values.append(unflatten(builder, slots[start:start + count], element))
            start += count
        return tuple(values)
    raise UnsupportedOpError("value", f"values of type {type} are not lowered")


def constant_array(array, type: TensorType) -> np.ndarray:
    """A tensor constant as compiled code reads it: C-contiguous, of the
    node's dtype, read-only (asarray, since ascontiguousarray makes 0-d 1-d)."""
    array = np.asarray(array, dtype=type.dtype.numpy, order="C").view()  # a view: the graph's array stays writeable
    array.setflags(write=False)
    return array
