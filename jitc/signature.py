"""Argument signatures: the IR type a call argument specialises a
parameter to, and the generic type a frontend compiles for.

A tensor argument specialises its parameter to its dtype and rank; each dim
is `1` where the argument has size 1 there and `*` elsewhere, so one
compiled version serves every size of the same rank, while broadcasting
stays known at compile time.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ir.types import (ANY_DIM, BOOL, FLOAT, INT, NEVER, NONE, DType, ListType, TensorType, TupleType,
                       Type, join_types)


@dataclass(frozen=True)
class SpecializedValue(Type):
    """In a signature, an int or bool argument whose value the compiled
    version is specialised on (a split count, an axis), as JAX's static
    arguments: calls with another value use another version. Never the
    type of a graph value: the graph's parameter keeps `type`."""

    type: Type
    value: int | bool

    def __str__(self) -> str:
        return f"{self.type}={self.value!r}"


def specialize_value(type: Type, value) -> Type:
    """`type` for an argument of a parameter the function is specialised on."""
    if type in (INT, BOOL):
        return SpecializedValue(type, value)
    return type


def value_type(type: Type) -> Type:
    """The graph type of a signature entry: a specialised value's type."""
    return type.type if isinstance(type, SpecializedValue) else type


def _is_device_array(value) -> bool:
    """A GPU array, which backend="cuda" takes in place. The CUDA backend is
    imported only for values of no plain Python kind: importing it costs
    `import jitc` (and so every `jitc.load`) tens of milliseconds."""
    if value is None or isinstance(value, (bool, int, float, list, tuple)):
        return False
    from .backends.cuda.runtime import is_device_array
    return is_device_array(value)


def argument_type(value, name: str) -> Type:
    """The IR type of one call argument; TypeError names the parameter."""
    if isinstance(value, (np.ndarray, np.generic)) or _is_device_array(value):  # backend="cuda" takes GPU arrays in place
        try:
            dtype = DType.from_numpy(value.dtype)
        except TypeError as error:
            raise TypeError(f"argument '{name}': {error}") from None
        return TensorType(dtype, tuple(1 if d == 1 else ANY_DIM for d in value.shape))
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        if not -2**63 <= value < 2**63:
            raise OverflowError(f"argument '{name}': {value} does not fit in int64")
        return INT
    if isinstance(value, float):
        return FLOAT
    if value is None:
        return NONE
    if isinstance(value, list):
        if not value:
            return ListType(NEVER)
        try:
            return ListType(join_types([argument_type(v, f"{name}[{i}]") for i, v in enumerate(value)]))
        except TypeError as error:
            raise TypeError(f"argument '{name}': list elements of different kinds: {error}") from None
    if isinstance(value, tuple):
        return TupleType(tuple(argument_type(v, f"{name}[{i}]") for i, v in enumerate(value)))
    raise TypeError(f"argument '{name}': jitc cannot pass a value of type {type(value).__name__}; "
                    "pass NumPy arrays, Python scalars, or lists and tuples of those")


def generic_type(type: Type) -> Type:
    """What the scripter compiles a parameter as, before specialisation:
    tensors keep their dtype and rank but not their sizes; scalars, lists
    and tuples keep their kind."""
    if isinstance(type, TensorType):
        return TensorType(type.dtype, None if type.shape is None else (ANY_DIM,) * len(type.shape))
    if isinstance(type, ListType):
        return ListType(generic_type(type.element))
    if isinstance(type, TupleType):
        return TupleType(tuple(generic_type(t) for t in type.elements))
    return type  # scalars, None, and specialised values, whose value is part of the generic graph


def describe(type: Type) -> str:
    """A type as a user reads it in an error message."""
    if isinstance(type, TensorType):
        if type.dtype is None:
            return "an array"
        if type.shape is None:
            return f"a {type.dtype.value} array"
        if any(isinstance(d, int) and d != 1 for d in type.shape):
            shape = ", ".join(str(d) for d in type.shape)
            return f"a {type.dtype.value} array of shape ({shape})"
        return f"a {len(type.shape)}-d {type.dtype.value} array"
    if isinstance(type, SpecializedValue):
        return f"{describe(type.type)} equal to {type.value!r}"
    return {INT: "an int", FLOAT: "a float", BOOL: "a bool", NONE: "None"}.get(type, str(type))
