"""The op table: every op is declared once, with its schema, its type rule,
its NumPy reference implementation, its purity and how it reads as code.

Frontends, the printer, the verifier, the interpreter, the constant folder
and the backends all look ops up here by name (`np::add`, `prim::Loop`).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from ..errors import IRTypeError, UnknownOpError
from ..types import Type


class Group(enum.Enum):
    """Families of ops; passes and backends match whole groups at once."""

    CONSTANT = "constant"
    UNARY = "unary"              # elementwise, one input
    BINARY = "binary"            # elementwise, two inputs (with broadcasting)
    TERNARY = "ternary"          # elementwise, three inputs (where, clip)
    REDUCTION = "reduction"      # over axes, with keepdims
    SHAPE = "shape"              # reshape, transpose, ...: move data, no arithmetic
    INDEX = "index"              # basic indexing: select, slice
    JOIN = "join"                # stack, concatenate: many tensors into one
    LINALG = "linalg"            # matmul
    CREATION = "creation"        # zeros, ones, full
    CAST = "cast"                # astype
    QUERY = "query"              # shape, ndim, size: facts about a tensor
    SCALAR = "scalar"            # conversions between Python scalars and tensors
    LIST = "list"
    TUPLE = "tuple"
    CONTROL = "control"          # prim::If, prim::Loop
    EFFECT = "effect"            # run for what they do: runtime checks, writes into arguments


ELEMENTWISE_GROUPS = frozenset({Group.UNARY, Group.BINARY, Group.TERNARY})


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()


class _Unknown:
    """The value of an input that is not a compile-time constant."""

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        raise TypeError("UNKNOWN has no truth value; compare with `is UNKNOWN`")


UNKNOWN = _Unknown()


@dataclass(frozen=True)
class InferContext:
    """What a type rule sees: the input types, the attributes (defaults
    filled in), the constant values of inputs where they are known, how many
    outputs the node has (for ops such as `prim::ListUnpack`), and the types
    the node already declares (control flow and tensor constants keep those)."""

    op: "OpDef"
    input_types: tuple[Type, ...]
    attributes: Mapping[str, Any]
    constants: tuple[Any, ...]
    num_outputs: int
    declared_types: tuple[Type, ...] | None = None

    def error(self, message: str) -> IRTypeError:
        return IRTypeError(f"{self.op.name}: {message}")


@dataclass(frozen=True)
class OpDef:
    """One entry of the op table.

    `inputs` names the operands; a name starting with `*` takes the rest
    (it must come last). `attributes` maps each attribute to its default, or
    to `REQUIRED`. `reference(*inputs, **attributes)` computes the op with
    NumPy and returns one value, or a tuple when `num_outputs != 1`; ops with
    blocks (control flow) have none, the interpreter runs them itself.
    `code` is a format string for the Python-like `.code` view (`{0}` is the
    first input, `{axis}` an attribute, `{shape}` the variadic inputs joined by
    commas and `{shape_tuple}` the same as a Python tuple), or a function of the input texts and
    the attributes (defaults filled in) for what a format string cannot say,
    such as indexing along an axis; by default `np.<name>(...)`.
    """

    name: str
    group: Group
    inputs: tuple[str, ...]
    infer: Callable[[InferContext], Sequence[Type]]
    reference: Callable[..., Any] | None
    attributes: Mapping[str, Any] = field(default_factory=dict)
    num_outputs: int | None = 1
    num_blocks: int = 0
    pure: bool = True
    code: str | Callable[[Sequence[str], Mapping[str, Any]], str] | None = None
    doc: str = ""

    @property
    def namespace(self) -> str:
        return self.name.split("::", 1)[0]

    @property
    def short_name(self) -> str:
        return self.name.split("::", 1)[1]

    @property
    def is_variadic(self) -> bool:
        return bool(self.inputs) and self.inputs[-1].startswith("*")

    @property
    def is_elementwise(self) -> bool:
        return self.group in ELEMENTWISE_GROUPS

    def check_arity(self, count: int) -> None:
        fixed = len(self.inputs) - (1 if self.is_variadic else 0)
        if count < fixed or (count > fixed and not self.is_variadic):
            expected = f"at least {fixed}" if self.is_variadic else str(fixed)
            raise IRTypeError(f"{self.name} takes {expected} input(s), got {count}")

    def bind_attributes(self, given: Mapping[str, Any]) -> dict:
        """Attributes with defaults filled in; unknown or missing ones are errors."""
        unknown = set(given) - set(self.attributes)
        if unknown:
            raise IRTypeError(f"{self.name} has no attribute(s) {', '.join(sorted(unknown))}")
        bound = {}
        for name, default in self.attributes.items():
            if name in given:
                bound[name] = given[name]
            elif default is REQUIRED:
                raise IRTypeError(f"{self.name} requires attribute '{name}'")
            else:
                bound[name] = default
        return bound

    def infer_types(self, input_types: Sequence[Type], attributes: Mapping[str, Any],
                    constants: Sequence[Any] | None = None,
                    num_outputs: int | None = None,
                    declared_types: Sequence[Type] | None = None) -> tuple[Type, ...]:
        self.check_arity(len(input_types))
        constants = tuple(constants) if constants is not None else (UNKNOWN,) * len(input_types)
        if num_outputs is None:
            num_outputs = self.num_outputs if self.num_outputs is not None else len(declared_types or ())
        context = InferContext(self, tuple(input_types), self.bind_attributes(attributes), constants,
                               num_outputs, None if declared_types is None else tuple(declared_types))
        result = tuple(self.infer(context))
        if self.num_outputs is not None and len(result) != self.num_outputs:
            raise IRTypeError(f"{self.name}: type rule gave {len(result)} outputs, "
                              f"expected {self.num_outputs}")
        return result

    def run_reference(self, inputs: Sequence[Any], attributes: Mapping[str, Any]) -> tuple:
        """Run the NumPy reference; always returns a tuple of outputs."""
        if self.reference is None:
            raise IRTypeError(f"{self.name} has no reference implementation")
        result = self.reference(*inputs, **self.bind_attributes(attributes))
        return result if self.num_outputs != 1 else (result,)


_TABLE: dict[str, OpDef] = {}


def register(op: OpDef) -> OpDef:
    if op.name in _TABLE:
        raise ValueError(f"op {op.name} is declared twice")
    if "::" not in op.name:
        raise ValueError(f"op name {op.name!r} must be namespace::name")
    _TABLE[op.name] = op
    return op


def get_op(name: str) -> OpDef:
    try:
        return _TABLE[name]
    except KeyError:
        raise UnknownOpError(f"unknown op '{name}'") from None


def has_op(name: str) -> bool:
    return name in _TABLE


def all_ops() -> list[OpDef]:
    return list(_TABLE.values())
