"""Types of IR values: tensors with a dtype and a (possibly symbolic) shape,
Python scalars, tuples, lists and None.

Python scalars (`int`, `float`, `bool`) are *weak* in NumPy 2 promotion: a
`float32` array plus a Python float stays `float32`. NumPy scalars are strong,
so the IR represents them as 0-d tensors.

A dimension is a known `int`, the anonymous symbol `"*"`, or a named symbol
(`"N"`, `"s0"`): equal names denote equal sizes. A tensor whose `dtype` or
`shape` is `None` is not yet specialised (it prints as `Tensor`, `Float(...)`
or `Tensor(*, 4)`).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Union

import numpy as np

Dim = Union[int, str]
ANY_DIM = "*"


class DType(enum.Enum):
    """Element types, named as in NumPy; `type_name` is the TorchScript-style
    spelling used by the text form (`Float(*, 64)` is a float32 tensor)."""

    BOOL = "bool"
    INT8 = "int8"
    UINT8 = "uint8"
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    INT64 = "int64"
    UINT64 = "uint64"
    FLOAT16 = "float16"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    COMPLEX64 = "complex64"
    COMPLEX128 = "complex128"

    @property
    def numpy(self) -> np.dtype:
        return np.dtype(self.value)

    @property
    def type_name(self) -> str:
        return _TYPE_NAMES[self]

    @property
    def is_float(self) -> bool:
        return self in (DType.FLOAT16, DType.FLOAT32, DType.FLOAT64)

    @property
    def is_complex(self) -> bool:
        return self in (DType.COMPLEX64, DType.COMPLEX128)

    @property
    def is_integer(self) -> bool:
        return self.numpy.kind in "iu"

    @property
    def is_unsigned(self) -> bool:
        """An unsigned integer: divides, compares, widens and converts to
        float as unsigned (bool, although unsigned in registers, is not one)."""
        return self.numpy.kind == "u"

    @property
    def itemsize(self) -> int:
        return self.numpy.itemsize

    @staticmethod
    def from_numpy(dtype) -> "DType":
        found = _BY_NUMPY.get(dtype)  # the per-call path: a dict lookup, not a name lookup
        if found is not None:
            return found
        name = np.dtype(dtype).name
        if np.dtype(dtype).kind == "c":
            raise TypeError(f"complex numbers are not supported by jitc (dtype {name}); "
                            "pass the real and imaginary parts as two float arrays")
        try:
            return DType(name)
        except ValueError:
            raise TypeError(f"jitc does not support dtype {name}") from None

    def __repr__(self) -> str:
        return f"DType.{self.name}"


_TYPE_NAMES = {
    DType.BOOL: "Bool",
    DType.INT8: "Char",
    DType.UINT8: "Byte",
    DType.INT16: "Short",
    DType.UINT16: "UShort",
    DType.INT32: "Int",
    DType.UINT32: "UInt",
    DType.INT64: "Long",
    DType.UINT64: "ULong",
    DType.FLOAT16: "Half",
    DType.FLOAT32: "Float",
    DType.FLOAT64: "Double",
    DType.COMPLEX64: "ComplexFloat",
    DType.COMPLEX128: "ComplexDouble",
}
_BY_NUMPY = {np.dtype(d.value): d for d in DType if not d.is_complex}
DTYPE_BY_TYPE_NAME = {name: dtype for dtype, name in _TYPE_NAMES.items()}


class Type:
    """Base of all IR types; instances are immutable and compare by value."""

    def __str__(self) -> str:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    @property
    def is_tensor(self) -> bool:
        return isinstance(self, TensorType)

    @property
    def is_scalar(self) -> bool:
        return isinstance(self, ScalarType)


@dataclass(frozen=True)
class TensorType(Type):
    dtype: DType | None = None
    shape: tuple[Dim, ...] | None = None

    def __post_init__(self):
        if self.shape is not None:
            object.__setattr__(self, "shape", tuple(self.shape))

    @property
    def rank(self) -> int | None:
        return None if self.shape is None else len(self.shape)

    @property
    def is_specialised(self) -> bool:
        return self.dtype is not None and self.shape is not None

    def with_shape(self, shape) -> "TensorType":
        return TensorType(self.dtype, None if shape is None else tuple(shape))

    def with_dtype(self, dtype: DType | None) -> "TensorType":
        return TensorType(dtype, self.shape)

    def __str__(self) -> str:
        head = "Tensor" if self.dtype is None else self.dtype.type_name
        if self.shape is None:
            return head if self.dtype is None else f"{head}(...)"
        return f"{head}({', '.join(str(d) for d in self.shape)})"


class ScalarType(Type):
    """A Python scalar: weak in promotion, passed by value."""

    python_type: type


@dataclass(frozen=True)
class IntType(ScalarType):
    python_type = int

    def __str__(self) -> str:
        return "int"


@dataclass(frozen=True)
class FloatType(ScalarType):
    python_type = float

    def __str__(self) -> str:
        return "float"


@dataclass(frozen=True)
class BoolType(ScalarType):
    python_type = bool

    def __str__(self) -> str:
        return "bool"


@dataclass(frozen=True)
class NoneType(Type):
    def __str__(self) -> str:
        return "None"


@dataclass(frozen=True)
class StringType(Type):
    """Only for messages (assertions, raised exceptions)."""

    def __str__(self) -> str:
        return "str"


@dataclass(frozen=True)
class NeverType(Type):
    """The type of no value: the element type of an empty list literal
    (`List[Never]`), which joins with any list type."""

    def __str__(self) -> str:
        return "Never"


@dataclass(frozen=True)
class TupleType(Type):
    elements: tuple[Type, ...]

    def __post_init__(self):
        object.__setattr__(self, "elements", tuple(self.elements))

    def __str__(self) -> str:
        return f"Tuple[{', '.join(str(e) for e in self.elements)}]"


@dataclass(frozen=True)
class ListType(Type):
    element: Type

    def __str__(self) -> str:
        return f"List[{self.element}]"


INT = IntType()
FLOAT = FloatType()
BOOL = BoolType()
NONE = NoneType()
NEVER = NeverType()
STRING = StringType()
TENSOR = TensorType()

SCALAR_DTYPES = {INT: DType.INT64, FLOAT: DType.FLOAT64, BOOL: DType.BOOL}


def scalar_type_of(python_type: type) -> ScalarType:
    return {bool: BOOL, int: INT, float: FLOAT}[python_type]


def type_of_value(value) -> Type:
    """The IR type of a concrete runtime value (used by the interpreter's
    checks, by constant folding and by the dispatchers). NumPy scalars are
    0-d tensors, np.float64 too, although it subclasses float."""
    if isinstance(value, (np.ndarray, np.generic)):
        return TensorType(DType.from_numpy(value.dtype), np.shape(value))
    if isinstance(value, bool):
        return BOOL
    if isinstance(value, int):
        return INT
    if isinstance(value, float):
        return FLOAT
    if value is None:
        return NONE
    if isinstance(value, str):
        return STRING
    if isinstance(value, tuple):
        return TupleType(tuple(type_of_value(v) for v in value))
    if isinstance(value, list):
        if not value:
            raise TypeError("the type of an empty list cannot be inferred from its value")
        return ListType(join_types([type_of_value(v) for v in value]))
    raise TypeError(f"jitc has no IR type for a value of type {type(value).__name__}")


def join_dims(a: Dim, b: Dim) -> Dim:
    """The most precise dim that covers both `a` and `b`."""
    return a if a == b else ANY_DIM


def join_types(types) -> Type:
    """The most precise type that covers every type in `types` (used where
    control flow merges values and where lists take elements of several
    shapes). Raises TypeError when the types have different kinds."""
    types = list(types)
    result = types[0]
    for other in types[1:]:
        result = _join_two(result, other)
    return result


def _join_two(a: Type, b: Type) -> Type:
    if a == b or b == NEVER:
        return a
    if a == NEVER:
        return b
    if isinstance(a, TensorType) and isinstance(b, TensorType):
        dtype = a.dtype if a.dtype == b.dtype else None
        if a.shape is None or b.shape is None or len(a.shape) != len(b.shape):
            shape = None
        else:
            shape = tuple(join_dims(x, y) for x, y in zip(a.shape, b.shape))
        return TensorType(dtype, shape)
    if isinstance(a, ListType) and isinstance(b, ListType):
        return ListType(_join_two(a.element, b.element))
    if isinstance(a, TupleType) and isinstance(b, TupleType) and len(a.elements) == len(b.elements):
        return TupleType(tuple(_join_two(x, y) for x, y in zip(a.elements, b.elements)))
    raise TypeError(f"cannot merge values of types {a} and {b}")


def is_subtype(specific: Type, general: Type) -> bool:
    """True when every value of `specific` is also a value of `general`
    (a `Float(3, 4)` is a `Float(*, *)`, which is a `Tensor`)."""
    if specific == general or specific == NEVER:
        return True
    if isinstance(specific, TensorType) and isinstance(general, TensorType):
        if general.dtype is not None and specific.dtype != general.dtype:
            return False
        if general.shape is None:
            return True
        if specific.shape is None or len(specific.shape) != len(general.shape):
            return False
        return all(isinstance(g, str) or s == g for s, g in zip(specific.shape, general.shape))
    if isinstance(specific, ListType) and isinstance(general, ListType):
        return is_subtype(specific.element, general.element)
    if isinstance(specific, TupleType) and isinstance(general, TupleType):
        return len(specific.elements) == len(general.elements) and all(
            is_subtype(s, g) for s, g in zip(specific.elements, general.elements))
    return False
