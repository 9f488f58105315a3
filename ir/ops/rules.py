"""Building blocks for type rules: NumPy broadcasting over symbolic dims,
NumPy 2 dtype promotion with weak Python scalars, axis normalisation.

Dtype results come from NumPy itself (`ufunc.resolve_dtypes`, or running
the reference on empty arrays), so they match NumPy exactly by construction.
"""
from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np

from ..errors import IRTypeError
from ..types import (ANY_DIM, BOOL, FLOAT, INT, DType, Dim, ScalarType, TensorType, Type,
                     scalar_type_of)

WEAK_EXAMPLES = {INT: 1, FLOAT: 1.0, BOOL: True}
# How Python scalars enter `ufunc.resolve_dtypes`: int and float as weak types;
# a bool as the bool dtype, which it is to NumPy (the lowest kind, so never widening).
WEAK_PYTHON_TYPES = {INT: int, FLOAT: float, BOOL: np.dtype(bool)}


def broadcast_dims(a: Dim, b: Dim) -> Dim:
    if a == b:
        return a
    if a == 1:
        return b
    if b == 1:
        return a
    if isinstance(a, int) and isinstance(b, int):
        raise IRTypeError(f"dimensions {a} and {b} cannot be broadcast together")
    if isinstance(a, int):
        return a  # b is symbolic: it must be a or 1 at run time, the result is a
    if isinstance(b, int):
        return b
    return ANY_DIM


def broadcast_shapes(*shapes: tuple[Dim, ...] | None) -> tuple[Dim, ...] | None:
    """NumPy broadcasting of shapes whose dims may be symbols; None when a
    rank is unknown. A mismatch that is certain raises IRTypeError."""
    if any(shape is None for shape in shapes):
        return None
    rank = max((len(s) for s in shapes), default=0)
    result: list[Dim] = [1] * rank
    for shape in shapes:
        padded = (1,) * (rank - len(shape)) + tuple(shape)
        try:
            result = [broadcast_dims(x, y) for x, y in zip(result, padded)]
        except IRTypeError:
            raise IRTypeError("operands could not be broadcast together with shapes "
                              + " ".join(format_shape(s) for s in shapes)) from None
    return tuple(result)


def format_shape(shape: Sequence[Dim]) -> str:
    inner = ",".join(str(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def shape_of(type: Type) -> tuple[Dim, ...] | None:
    """The broadcast shape of an operand: () for Python scalars."""
    if isinstance(type, ScalarType):
        return ()
    if isinstance(type, TensorType):
        return type.shape
    raise IRTypeError(f"expected a tensor or a scalar, got {type}")


def dtype_operand(type: Type):
    """How an operand enters NumPy's promotion: a dtype for tensors, the
    Python type for weak scalars, None when the dtype is not known yet."""
    if isinstance(type, ScalarType):
        return WEAK_PYTHON_TYPES[type]
    if isinstance(type, TensorType):
        return None if type.dtype is None else type.dtype.numpy
    raise IRTypeError(f"expected a tensor or a scalar, got {type}")


def ufunc_dtypes(ufunc: np.ufunc, types: Sequence[Type]) -> tuple[DType, ...] | None:
    """The loop dtypes NumPy picks for `ufunc` on these operand types:
    input dtypes after casting, then output dtypes. None if any is unknown."""
    operands = [dtype_operand(t) for t in types]
    if any(o is None for o in operands):
        return None
    try:
        resolved = ufunc.resolve_dtypes(tuple(operands) + (None,) * ufunc.nout)
    except Exception as error:  # numpy raises several types (UFuncTypeError, TypeError...)
        names = ", ".join(str(t) for t in types)
        raise IRTypeError(f"np.{ufunc.__name__} is not defined for ({names}): {error}") from None
    return tuple(DType.from_numpy(d) for d in resolved)


def python_scalar_result(python_op, types: Sequence[Type]) -> ScalarType:
    """Result type of a Python operator on Python scalars (True + True is an
    int, 1 / 2 a float), found by running the operator on examples."""
    try:
        result = python_op(*[WEAK_EXAMPLES[t] for t in types])
    except Exception as error:
        raise IRTypeError(f"not defined for ({', '.join(map(str, types))}): {error}") from None
    return scalar_type_of(type(result))


def dtype_by_example(function, dtypes: Sequence[DType | None], *args, **kwargs) -> DType | None:
    """The result dtype of `function` on empty arrays of `dtypes`: the way
    to match NumPy for functions that are not ufuncs (sum, mean, where...)."""
    if any(d is None for d in dtypes):
        return None
    examples = [np.zeros((1,), d.numpy) for d in dtypes]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            result = function(*examples, *args, **kwargs)
    return DType.from_numpy(np.asarray(result).dtype)


def normalize_axis(axis: int, rank: int, what: str = "axis") -> int:
    if not -rank <= axis < rank:
        raise IRTypeError(f"{what} {axis} is out of bounds for array of dimension {rank}")
    return axis % rank


def normalize_axes(axis, rank: int) -> tuple[int, ...]:
    """`axis` as a sorted tuple of non-negative axes (None means all)."""
    if axis is None:
        return tuple(range(rank))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    normalized = tuple(normalize_axis(a, rank) for a in axes)
    if len(set(normalized)) != len(normalized):
        raise IRTypeError(f"repeated axis in {axis}")
    return tuple(sorted(normalized))


def tensor_input(context, index: int) -> TensorType:
    """The type of input `index`, which must be a tensor."""
    type = context.input_types[index]
    if not isinstance(type, TensorType):
        raise context.error(f"input {context.op.inputs[min(index, len(context.op.inputs) - 1)]} "
                            f"must be a tensor, got {type}")
    return type


def array_like_input(context, index: int) -> TensorType:
    """The type of input `index` as a tensor: Python scalars count as 0-d
    tensors of their default dtype (as `np.asarray` would make them)."""
    type = context.input_types[index]
    if isinstance(type, ScalarType):
        return TensorType({INT: DType.INT64, FLOAT: DType.FLOAT64, BOOL: DType.BOOL}[type], ())
    return tensor_input(context, index)


def scalar_input(context, index: int, *allowed: ScalarType) -> ScalarType:
    type = context.input_types[index]
    if not isinstance(type, ScalarType) or (allowed and type not in allowed):
        names = " or ".join(str(t) for t in allowed) or "a scalar"
        raise context.error(f"input {index} must be {names}, got {type}")
    return type


def known_int(context, index: int) -> Any:
    """The constant value of an int input, or a symbolic dim when unknown."""
    value = context.constants[index]
    from .registry import UNKNOWN
    return ANY_DIM if value is UNKNOWN else value
