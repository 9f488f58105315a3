"""The op table: every op is declared completely, and every type rule agrees
with what its NumPy reference really does, on random inputs of every dtype,
Python scalars included:

- where NumPy returns a result, the rule accepts the input types and
  predicts exactly the result's type (dtype, shape, Python scalar kind), and
  still predicts a type the result belongs to when sizes are symbolic or
  size arguments are not constants;
- where NumPy raises because of types or shapes, the rule raises IRTypeError.
"""
from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from jitc.ir.errors import IRTypeError
from jitc.ir.interpreter import value_matches_type
from jitc.ir.ops import UNKNOWN, Group, OpDef, all_ops, get_op
from jitc.ir.types import (ANY_DIM, BOOL, FLOAT, INT, NONE, DType, ListType, TensorType, TupleType, Type,
                           type_of_value)

RUN_BY_INTERPRETER = {"prim::If", "prim::Loop", "prim::FusionGroup", "prim::CallFunction", "prim::Constant",
                      "prim::Uninitialized"}
# Its output types are declared by the Python function it calls, so random
# calls cannot check them; tests/frontend/test_script_ignore.py does.
DECLARED_BY_PYTHON = {"prim::PythonCall"}
DTYPES = [np.float32, np.float64, np.int32, np.int64, np.bool_]
# Groups whose rules see everything NumPy's result depends on, so they must
# reject every input NumPy rejects. A list type forgets its length and joins
# its elements' shapes, so join, list and tuple rules cannot.
COMPLETE_GROUPS = {Group.UNARY, Group.BINARY, Group.TERNARY, Group.REDUCTION, Group.SHAPE,
                   Group.INDEX, Group.LINALG, Group.CREATION, Group.CAST, Group.QUERY, Group.SCALAR}


@dataclass
class Call:
    """The inputs and attributes of one call of an op's reference."""

    inputs: tuple
    attributes: dict = field(default_factory=dict)
    num_outputs: int | None = None


# -- random operands ------------------------------------------------------------------------
# Built once: strategies made per draw (flatmap) would cost more than the checks.
SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, max_side=3)
SMALL_SHAPES = hnp.array_shapes(min_dims=0, max_dims=2, max_side=3)
_HALVES = st.integers(-4, 4)  # array elements are these over 2: -2.0 ... 2.0
_SCALARS = st.one_of(st.integers(-3, 3), st.floats(-2, 2), st.booleans())


@functools.lru_cache(maxsize=None)
def _halves(size: int):
    return st.lists(_HALVES, min_size=size, max_size=size)


def python_scalars():
    return _SCALARS


@st.composite
def arrays(draw, shape=SHAPES, dtypes=tuple(DTYPES)):
    """A small array of one of `dtypes`, its values in -2 ... 2."""
    shape = draw(shape) if isinstance(shape, st.SearchStrategy) else shape
    values = np.array(draw(_halves(math.prod(shape))), dtype=np.float64).reshape(shape) / 2
    return np.asarray(values).astype(draw(st.sampled_from(dtypes)))


@st.composite
def elementwise_calls(draw, op: OpDef):
    """Operands whose shapes broadcast together, or now and then ones that may not."""
    count = len(op.inputs)
    if draw(st.integers(0, 3)):
        shapes = draw(_broadcastable_shapes(count)).input_shapes
    else:
        shapes = [draw(SMALL_SHAPES) for _ in range(count)]
    return Call(tuple(draw(operand(shape)) for shape in shapes))


@functools.lru_cache(maxsize=None)
def _broadcastable_shapes(count: int):
    return hnp.mutually_broadcastable_shapes(num_shapes=count, max_dims=3, max_side=3)


@functools.lru_cache(maxsize=None)
def operand(shape):
    """An array of `shape`, or now and then a Python or NumPy scalar."""
    return st.one_of(arrays(shape), arrays(shape), arrays(shape), _SCALARS, arrays(()).map(lambda a: a[()]))


def axes(rank: int):
    """Valid and out-of-range axis attributes: None, an int, a tuple. Not an
    int on 0-d input: NumPy's ufunc reductions take axis 0 and -1 there (a
    legacy quirk that mean, var and tuples do not share); the rules refuse it."""
    axis = st.integers(-rank - 1, rank)
    tuples = st.lists(axis, max_size=3).map(tuple)
    return st.one_of(st.none(), tuples) if rank == 0 else st.one_of(st.none(), axis, tuples)


@st.composite
def reduction_calls(draw, op: OpDef):
    x = draw(st.one_of(arrays(), python_scalars()))
    attributes = {"axis": draw(axes(np.ndim(x))), "keepdims": draw(st.booleans())}
    if "ddof" in op.attributes:
        attributes["ddof"] = draw(st.integers(0, 1))
    return Call((x,), attributes)


@st.composite
def shape_calls(draw, op: OpDef):
    x = draw(arrays())
    rank = np.ndim(x)
    sizes = st.lists(st.integers(-1, 4), max_size=3).map(tuple)
    if op.name == "np::reshape":
        factor = draw(st.sampled_from([d for d in range(1, x.size + 1) if x.size % d == 0] or [1]))
        target = draw(st.sampled_from([(x.size,), (factor, x.size // factor), (-1, factor), (factor, -1, 1)]) | sizes)
        return Call((x, *target))
    if op.name == "np::broadcast_to":
        return Call((x, *draw(st.one_of(sizes, st.just((2,) + x.shape)))))
    attribute = {"np::transpose": "axes", "np::expand_dims": "axis", "np::squeeze": "axis"}[op.name]
    permutation = st.permutations(range(rank)).map(tuple)
    values = {"np::transpose": st.none() | permutation | st.lists(st.integers(-rank, rank), max_size=3).map(tuple),
              "np::expand_dims": axes(rank + 1).filter(lambda axis: axis is not None),
              "np::squeeze": axes(rank)}[op.name]
    return Call((x,), {attribute: draw(values)})


@st.composite
def index_calls(draw, op: OpDef):
    x = draw(arrays())
    axis = {"axis": draw(st.integers(-np.ndim(x) - 1, np.ndim(x)))}
    bound = st.none() | st.integers(-4, 4)
    if op.name == "np::select":
        return Call((x, draw(st.integers(-4, 4))), axis)
    return Call((x, draw(bound), draw(bound), draw(bound)), axis)


@st.composite
def join_calls(draw, op: OpDef):
    shape = draw(SMALL_SHAPES)
    items = draw(st.lists(arrays(shape), min_size=1, max_size=3))
    return Call((items,), {"axis": draw(st.integers(-len(shape) - 2, len(shape) + 1))})


@st.composite
def matmul_calls(draw, op: OpDef):
    batch = draw(hnp.array_shapes(min_dims=0, max_dims=1, max_side=3))
    m, k, n = (draw(st.integers(1, 3)) for _ in range(3))
    compatible = st.sampled_from([((k,), (k,)), ((m, k), (k,)), ((k,), (k, n)), ((*batch, m, k), (k, n)),
                                  ((m, k), (*batch, k, n))])
    shapes = draw(compatible | st.tuples(SHAPES, SHAPES))
    return Call((draw(arrays(shapes[0])), draw(arrays(shapes[1]))))


@st.composite
def creation_calls(draw, op: OpDef):
    sizes = tuple(draw(st.lists(st.integers(-1, 3), max_size=3)))
    dtype = draw(st.sampled_from(DTYPES).map(DType.from_numpy))
    if op.name == "np::full":
        fill = draw(python_scalars() | arrays(()))
        return Call((fill, *sizes), {"dtype": draw(st.none() | st.just(dtype))})
    return Call(sizes, {"dtype": dtype})


@st.composite
def cast_calls(draw, op: OpDef):
    dtype = draw(st.sampled_from(DTYPES).map(DType.from_numpy))
    return Call((draw(arrays() | python_scalars()),), {"dtype": dtype})


@st.composite
def query_calls(draw, op: OpDef):
    x = draw(arrays())
    attributes = {"axis": draw(st.integers(-np.ndim(x) - 1, np.ndim(x)))} if "axis" in op.attributes else {}
    return Call((x,), attributes)


@st.composite
def scalar_calls(draw, op: OpDef):
    if op.name == "prim::NumToTensor":
        return Call((draw(python_scalars()),))
    small = hnp.array_shapes(min_dims=0, max_dims=2, max_side=2)
    return Call((draw(python_scalars() | arrays(small)),))


@st.composite
def list_calls(draw, op: OpDef):
    element = draw(st.sampled_from([st.integers(-3, 3), st.floats(-2, 2), arrays((2,))]))
    items = draw(st.lists(element, min_size=1, max_size=3))
    inputs = {"prim::ListConstruct": tuple(items), "prim::ListAppend": (items, draw(element)),
              "prim::ListAdd": (items, draw(st.lists(element, min_size=1, max_size=2))),
              "prim::ListIndex": (items, draw(st.integers(-len(items), len(items) - 1))),
              "prim::ListSet": (items, draw(st.integers(-len(items), len(items) - 1)), draw(element)),
              "prim::ListLen": (items,), "prim::ListUnpack": (items,)}[op.name]
    return Call(inputs, num_outputs=len(items) if op.name == "prim::ListUnpack" else None)


@st.composite
def tuple_calls(draw, op: OpDef):
    items = tuple(draw(st.lists(python_scalars() | arrays(), min_size=1, max_size=3)))
    if op.name == "prim::TupleConstruct":
        return Call(items)
    if op.name == "prim::TupleIndex":
        return Call((items,), {"index": draw(st.integers(-len(items), len(items) - 1))})
    return Call((items,), num_outputs=len(items))


@st.composite
def effect_calls(draw, op: OpDef):
    if op.name == "prim::Assert":
        return Call((draw(st.booleans()),), {"message": "checked at line 1"})
    target = draw(arrays())
    source = draw(arrays(target.shape, (target.dtype.type,)))
    passing = draw(st.lists(python_scalars() | arrays() | st.just(target), max_size=2))
    return Call((target, source, *passing), num_outputs=len(passing))


CALLS = {Group.UNARY: elementwise_calls, Group.BINARY: elementwise_calls, Group.TERNARY: elementwise_calls,
         Group.REDUCTION: reduction_calls, Group.SHAPE: shape_calls, Group.INDEX: index_calls,
         Group.JOIN: join_calls, Group.LINALG: matmul_calls, Group.CREATION: creation_calls,
         Group.CAST: cast_calls, Group.QUERY: query_calls, Group.SCALAR: scalar_calls,
         Group.LIST: list_calls, Group.TUPLE: tuple_calls, Group.EFFECT: effect_calls}
CHECKED_OPS = [op for op in all_ops() if op.group in CALLS and op.name not in DECLARED_BY_PYTHON]


# -- running rules and references ---------------------------------------------------------
def run_reference(op: OpDef, call: Call):
    """The reference's outputs, or the exception it raised."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            outputs = op.run_reference(call.inputs, call.attributes)
        except Exception as error:  # NumPy raises TypeError, ValueError, IndexError...
            return error
    return outputs


def infer(op: OpDef, types, call: Call, constants=None):
    """The rule's output types, or the IRTypeError it raised."""
    try:
        return op.infer_types(types, call.attributes, constants, call.num_outputs)
    except IRTypeError as error:
        return error


def constants_of(call: Call) -> list:
    """Inputs as the rule sees them when they are prim::Constants."""
    return [v if type(v) in (int, float, bool) or v is None else UNKNOWN for v in call.inputs]


def with_unit_values(call: Call):
    """The call with every array and Python scalar operand replaced by ones:
    what still raises then raises because of types or shapes, not values."""
    def unit(value):
        if isinstance(value, (np.ndarray, np.generic)):
            return np.ones_like(value)
        return type(value)(1) if type(value) in (int, float, bool) else value
    return Call(tuple(map(unit, call.inputs)), call.attributes, call.num_outputs)


def symbolic(type: Type, draw) -> Type:
    """`type` with some dims of its tensors replaced by symbols."""
    if isinstance(type, TensorType):
        return type.with_shape(ANY_DIM if draw(st.booleans()) else d for d in type.shape)
    if isinstance(type, ListType):
        return ListType(symbolic(type.element, draw))
    if isinstance(type, TupleType):
        return TupleType(tuple(symbolic(t, draw) for t in type.elements))
    return type


def describe(outputs) -> str:
    return ", ".join(f"{type(v).__name__} {getattr(v, 'dtype', '')}{np.shape(v)}" for v in outputs)


# -- the tests -------------------------------------------------------------------------------
@pytest.mark.parametrize("op", all_ops(), ids=lambda op: op.name)
def test_op_is_declared_completely(op):
    assert op.doc.strip(), f"{op.name} has no doc"
    assert isinstance(op.group, Group)
    assert callable(op.infer)
    if op.name in RUN_BY_INTERPRETER:
        assert op.reference is None
    else:
        assert callable(op.reference), f"{op.name} has no NumPy reference"
    assert not any(name.startswith("*") for name in op.inputs[:-1]), "only the last input may be variadic"
    assert (op.num_blocks > 0) == (op.group is Group.CONTROL)


def test_every_group_with_references_has_random_calls():
    """A new group needs a call strategy here before its rules go untested."""
    groups = {op.group for op in all_ops() if op.name not in RUN_BY_INTERPRETER}
    assert groups <= CALLS.keys(), f"no call strategy for {groups - CALLS.keys()}"


@pytest.mark.parametrize("op", CHECKED_OPS, ids=lambda op: op.name)
@settings(max_examples=max(10, settings.default.max_examples // 3))  # per op: ~90 runs share the budget
@given(data=st.data())
def test_type_rule_matches_numpy(op, data):
    call = data.draw(CALLS[op.group](op), label="call")
    types = [type_of_value(v) for v in call.inputs]
    predicted = infer(op, types, call, constants_of(call))
    outputs = run_reference(op, call)
    if isinstance(outputs, Exception):
        if op.is_elementwise:  # 1 // 0, int ** -1: raised for values, not types
            assume(isinstance(run_reference(op, with_unit_values(call)), Exception))
        if op.group in COMPLETE_GROUPS:
            assert isinstance(predicted, IRTypeError), \
                f"NumPy raises {outputs!r} but the rule gives {predicted} for {types}"
        return
    assert not isinstance(predicted, Exception), f"the rule rejects what NumPy accepts: {predicted}"
    assert len(predicted) == len(outputs)
    assert all(map(value_matches_type, outputs, predicted)), \
        f"{[str(t) for t in types]}: the rule gives {[str(t) for t in predicted]}, NumPy {describe(outputs)}"
    assert op.group not in COMPLETE_GROUPS or all(t.is_specialised for t in predicted if isinstance(t, TensorType)), \
        f"fully known inputs give a partly unknown type {[str(t) for t in predicted]}"
    for general in ([symbolic(t, data.draw) for t in types], types):
        weaker = infer(op, general, call, constants=None)  # symbolic sizes, sizes not constant
        assert isinstance(weaker, IRTypeError) or all(map(value_matches_type, outputs, weaker)), \
            f"{[str(t) for t in general]}: the rule gives {[str(t) for t in weaker]}, NumPy {describe(outputs)}"


# -- promotion and Python scalar semantics, written out ------------------------------------------
def tensor(dtype: DType, *shape) -> TensorType:
    return TensorType(dtype, shape)


F32, F64, I32, I64, B = DType.FLOAT32, DType.FLOAT64, DType.INT32, DType.INT64, DType.BOOL


@pytest.mark.parametrize("kind, inputs, expected", [
    ("np::add", [tensor(F32, 3), FLOAT], tensor(F32, 3)),              # Python float is weak
    ("np::multiply", [INT, tensor(F32, 3)], tensor(F32, 3)),
    ("np::add", [tensor(I32, 3), INT], tensor(I32, 3)),
    ("np::add", [tensor(I32, 3), FLOAT], tensor(F64, 3)),              # int array + float: default float
    ("np::add", [tensor(I32, 3), tensor(I64, 3)], tensor(I64, 3)),
    ("np::add", [tensor(F32, 3), tensor(F64)], tensor(F64, 3)),        # a 0-d array is strong
    ("np::add", [tensor(B, 3), tensor(B, 3)], tensor(B, 3)),
    ("np::add", [tensor(B, 3), INT], tensor(I64, 3)),
    ("np::multiply", [tensor(F32, 3), BOOL], tensor(F32, 3)),
    ("np::divide", [tensor(I32, 3), tensor(I32, 3)], tensor(F64, 3)),  # true_divide of ints
    ("np::divide", [tensor(F32, 3), INT], tensor(F32, 3)),
    ("np::less", [tensor(F32, 2, 1), tensor(F64, 3)], tensor(B, 2, 3)),
    ("np::sqrt", [tensor(I32, 3)], tensor(F64, 3)),
    ("np::sqrt", [tensor(B, 3)], tensor(DType.FLOAT16, 3)),
    ("np::where", [tensor(B, 3), tensor(F32, 3), FLOAT], tensor(F32, 3)),
    ("np::clip", [tensor(F32, 3), FLOAT, FLOAT], tensor(F32, 3)),
    ("np::clip", [FLOAT, tensor(F32, 3), tensor(F32, 3)], tensor(F64, 3)),  # x goes through asarray
    ("np::sum", [tensor(I32, 3)], tensor(I64)),
    ("np::mean", [tensor(I32, 3)], tensor(F64)),
    ("np::argmax", [tensor(F32, 3)], tensor(I64)),
    ("np::matmul", [tensor(F32, "N", 4), tensor(F64, 4, 5)], tensor(F64, "N", 5)),
    ("np::add", [INT, INT], INT),
    ("np::divide", [INT, INT], FLOAT),
    ("np::floor_divide", [INT, INT], INT),
    ("np::add", [BOOL, BOOL], INT),                                    # True + True == 2
    ("np::add", [INT, FLOAT], FLOAT),
    ("np::less", [INT, FLOAT], BOOL),
    ("np::negative", [BOOL], INT),
    ("np::maximum", [INT, INT], INT),
    ("np::bitwise_and", [BOOL, BOOL], BOOL),
])
def test_promotion(kind, inputs, expected):
    assert get_op(kind).infer_types(inputs, {}) == (expected,)


@pytest.mark.parametrize("kind, inputs", [
    ("np::maximum", [INT, FLOAT]),  # max(1, 2.5) is a float, max(3, 2.5) an int
    ("np::minimum", [BOOL, INT]),
    ("np::bitwise_and", [FLOAT, INT]),
    ("np::bitwise_or", [tensor(F32, 3), INT]),
    ("np::subtract", [tensor(B, 3), tensor(B, 3)]),
])
def test_scalar_and_dtype_rejections(kind, inputs):
    with pytest.raises(IRTypeError, match="not defined for"):
        get_op(kind).infer_types(inputs, {})


@pytest.mark.parametrize("kind, arguments, expected", [
    ("np::add", (1, 2), 3), ("np::divide", (1, 2), 0.5), ("np::add", (True, True), 2),
    ("np::floor_divide", (-7, 2), -4), ("np::power", (2, 3), 8), ("np::maximum", (1.5, 2.5), 2.5),
    ("np::less", (1, 1.5), True), ("np::negative", (True,), -1),
])
def test_python_scalar_references(kind, arguments, expected):
    [result] = get_op(kind).run_reference(arguments, {})
    assert type(result) is type(expected) and result == expected


@pytest.mark.parametrize("base, exponent", [(2, -1), (-8.0, 1 / 3)])
def test_python_power_refuses_results_of_another_type(base, exponent):
    """Python gives 0.5 and a complex number; the IR types int ** int as int
    and float ** float as float, so the reference raises as NumPy would."""
    with pytest.raises(ValueError):
        get_op("np::power").run_reference((base, exponent), {})


def test_python_scalar_references_follow_numpy_for_numpy_scalars():
    """np.float64 subclasses float but is a 0-d tensor: max() of it and a
    Python int must still give a NumPy value, as the rule says."""
    [result] = get_op("np::maximum").run_reference((np.float64(0.5), 3), {})
    assert isinstance(result, np.floating) and result == 3.0


@pytest.mark.parametrize("kind, inputs, constants, attributes, message", [
    ("np::add", [tensor(F32, 2, 3), tensor(F32, 4)], None, {}, "could not be broadcast"),
    ("np::where", [tensor(B, 2), tensor(F32, 3), FLOAT], None, {}, "could not be broadcast"),
    ("np::sum", [tensor(F32, 2, 3)], None, {"axis": 2}, "out of bounds"),
    ("np::mean", [tensor(F32, 2, 3)], None, {"axis": (0, -2)}, "repeated axis"),
    ("np::argmax", [tensor(F32, 2, 3)], None, {"axis": (0, 1)}, "axis must be None or an int"),
    ("np::reshape", [tensor(F32, 2, 3), INT, INT], [UNKNOWN, 4, 2], {}, "cannot reshape array of size 6"),
    ("np::reshape", [tensor(F32, 2, 3), INT, INT], [UNKNOWN, -1, -1], {}, "one unknown dimension"),
    ("np::matmul", [tensor(F32, 2, 3), tensor(F32, 4, 5)], None, {}, "mismatch"),
    ("np::matmul", [tensor(F32, 3), FLOAT], None, {}, "must be a tensor"),
    ("np::transpose", [tensor(F32, 2, 3)], None, {"axes": (0, 0)}, "not a permutation"),
    ("np::squeeze", [tensor(F32, 2, 3)], None, {"axis": 0}, "not equal to one"),
    ("np::select", [tensor(F32, 2, 3), INT], [UNKNOWN, 2], {}, "out of bounds"),
    ("np::select", [tensor(F32, 2, 3), BOOL], None, {}, "index must be an int"),  # x[True] adds an axis
    ("np::slice", [tensor(F32, 3), INT, INT, INT], [UNKNOWN, 0, 3, 0], {}, "step cannot be zero"),
    ("np::broadcast_to", [tensor(F32, 3), INT], [UNKNOWN, 1], {}, "cannot be broadcast"),
    ("np::zeros", [INT], [-1], {}, "negative"),
    ("prim::Float", [tensor(F32, 1)], None, {}, "only 0-d arrays"),
    ("prim::Bool", [tensor(F32, 1, 2)], None, {}, "only arrays of size 1"),
])
def test_rules_reject_what_numpy_rejects(kind, inputs, constants, attributes, message):
    with pytest.raises(IRTypeError, match=message):
        get_op(kind).infer_types(inputs, attributes, constants)


@pytest.mark.parametrize("kind, inputs, constants, attributes, expected", [
    ("np::add", [tensor(F32, "N", 1), tensor(F32, 3)], None, {}, tensor(F32, "N", 3)),
    ("np::add", [tensor(F32, "N"), tensor(F32, "M")], None, {}, tensor(F32, ANY_DIM)),
    ("np::reshape", [tensor(F32, "N", 6), INT, INT], [UNKNOWN, 3, -1], {}, tensor(F32, 3, ANY_DIM)),
    ("np::reshape", [tensor(F32, 2, 6), INT, INT], [UNKNOWN, -1, 4], {}, tensor(F32, 3, 4)),
    ("np::sum", [tensor(F32, "N", 3, 4)], None, {"axis": (0, -1), "keepdims": True}, tensor(F32, 1, 3, 1)),
    ("np::slice", [tensor(F32, 5, "N"), INT, NONE, INT], [UNKNOWN, 1, None, 2], {},
     tensor(F32, 2, "N")),
    ("np::select", [tensor(F32, 5, "N"), INT], None, {"axis": -1}, tensor(F32, 5)),
    ("np::broadcast_to", [tensor(F32, 1, "N"), INT, INT], [UNKNOWN, 4, UNKNOWN], {}, tensor(F32, 4, ANY_DIM)),
])
def test_shape_rules_on_symbols(kind, inputs, constants, attributes, expected):
    assert get_op(kind).infer_types(inputs, attributes, constants) == (expected,)
