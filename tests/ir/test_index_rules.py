"""The type rules of np::index and np::index_put against NumPy's indexing,
on random arrays and random indexes that mix ints, slices, None, `...`,
int arrays and boolean masks (the op table's shared walk has no calls of
this form):

- where NumPy returns, the rule accepts and predicts the result's type
  exactly, and a type the result belongs to when sizes are symbolic and
  int parts are not constants;
- where NumPy raises for types or shapes, the rule raises IRTypeError; only
  errors that depend on values (an id out of bounds, the number of true
  elements of a mask against a value's length) may pass the rule.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jitc.ir.errors import IRTypeError
from jitc.ir.interpreter import value_matches_type
from jitc.ir.ops import UNKNOWN, get_op
from jitc.ir.ops.indexing import index_plan, numpy_index
from jitc.ir.types import ANY_DIM, BOOL, FLOAT, INT, NONE, DType, TensorType, type_of_value

SIZES = st.sampled_from([0, 1, 2, 3])
VALUE_DEPENDENT = ("out of bounds", "input values to the", "could not be broadcast to indexing result")


@st.composite
def indexes(draw):
    """(items, parts) of a random index; int arrays hold small ids that are
    mostly in range, masks mostly fit the axes they cover."""
    items, parts = [], []
    for _ in range(draw(st.integers(0, 4))):
        item = draw(st.sampled_from(["int", "slice", "none", "...", "array", "array"]))
        if item == "..." and "..." in items:
            continue
        items.append(item)
        if item == "int":
            parts.append(draw(st.integers(-3, 3)))
        elif item == "slice":
            parts.extend([draw(st.none() | st.integers(-4, 4)), draw(st.none() | st.integers(-4, 4)),
                          draw(st.none() | st.sampled_from([-2, -1, 1, 2]))])
        elif item == "array":
            if draw(st.booleans()):
                shape = tuple(draw(st.lists(st.integers(0, 3), max_size=2)))
                dtype = draw(st.sampled_from([np.int64, np.int32, np.int8]))
                parts.append(np.asarray(draw(st.lists(st.integers(-2, 1), min_size=int(np.prod(shape)),
                                                      max_size=int(np.prod(shape))))).astype(dtype).reshape(shape))
            else:
                width = draw(st.integers(1, 2))
                shape = tuple(draw(st.lists(SIZES, min_size=width, max_size=width)))
                parts.append(np.asarray(draw(st.lists(st.booleans(), min_size=int(np.prod(shape)),
                                                      max_size=int(np.prod(shape))))).reshape(shape))
    return tuple(items), parts


def run(function):
    try:
        return function()
    except Exception as error:  # NumPy raises IndexError, ValueError, TypeError
        return error


def constants_of(inputs) -> list:
    return [v if type(v) in (int, float, bool) or v is None else UNKNOWN for v in inputs]


def symbolic(type):
    return type.with_shape(ANY_DIM for _ in type.shape) if isinstance(type, TensorType) else type


def check_rule(kind: str, inputs: list, items):
    op = get_op(kind)
    attributes = {"items": items}
    outputs = run(lambda: op.run_reference(inputs, attributes))
    types = [type_of_value(v) for v in inputs]
    predicted = run(lambda: op.infer_types(types, attributes, constants_of(inputs)))
    if isinstance(outputs, Exception):
        if not isinstance(predicted, IRTypeError):
            assert any(text in str(outputs) for text in VALUE_DEPENDENT), \
                f"NumPy raises {outputs!r}, the rule gives {predicted}"
        return
    assert not isinstance(predicted, Exception), f"the rule rejects what NumPy accepts: {predicted}"
    assert value_matches_type(outputs[0], predicted[0]) and predicted[0].is_specialised, \
        f"the rule gives {predicted[0]}, NumPy {outputs[0].dtype}{np.shape(outputs[0])}"
    general = op.infer_types([symbolic(t) for t in types], attributes)  # no constants: ints unknown
    assert value_matches_type(outputs[0], general[0]), f"{general[0]} for {np.shape(outputs[0])}"


ARRAYS = st.tuples(st.lists(SIZES, max_size=3).map(tuple), st.sampled_from([np.float32, np.int64, np.bool_]))


@settings(max_examples=300)
@given(data=st.data())
def test_index_rule_matches_numpy(data):
    shape, dtype = data.draw(ARRAYS)
    x = np.zeros(shape, dtype)
    items, parts = data.draw(indexes())
    check_rule("np::index", [x, *parts], items)


@settings(max_examples=300)
@given(data=st.data())
def test_index_put_rule_matches_numpy(data):
    shape, dtype = data.draw(ARRAYS)
    x = np.zeros(shape, dtype)
    items, parts = data.draw(indexes())
    region = run(lambda: x[numpy_index(items, parts)])
    region_shape = np.shape(region) if not isinstance(region, Exception) else (2,)
    value_shape = data.draw(st.sampled_from([(), region_shape, region_shape[1:], (1,) + region_shape, (3,),
                                             tuple(1 for _ in region_shape)]))
    value = data.draw(st.sampled_from([1.5, 2, np.ones(value_shape, np.float64), np.ones(value_shape, np.int8)]))
    check_rule("np::index_put", [x, value, *parts], items)


# -- written out --------------------------------------------------------------------------------------------
def tensor(dtype, *shape):
    return TensorType(dtype, shape)


F32, I64, B = DType.FLOAT32, DType.INT64, DType.BOOL


@pytest.mark.parametrize("items, rank, masks, block", [
    (("array",), 2, [None], 0),
    (("slice", "array"), 3, [None], 1),                 # next to each other: the ids' dims stay in place
    (("int", "slice", "array"), 3, [None], 0),          # an int counts as ids; apart, they go first
    (("slice", "array", "int"), 3, [None], 1),
    (("array", "...", "array"), 2, [None, None], 0),    # `...` parts them even when it stands for no axis
    (("none", "array", "none"), 2, [2], 1),             # a mask of rank 2: one dim in the result
    (("slice", "none"), 2, [], None),                   # no array: basic indexing
])
def test_where_the_advanced_dims_go(items, rank, masks, block):
    assert index_plan(items, rank, masks).block == block


@pytest.mark.parametrize("inputs, constants, items, expected", [
    ([tensor(F32, 5, 4), tensor(I64, 2, 3)], None, ("array",), tensor(F32, 2, 3, 4)),
    ([tensor(F32, 5, 4, 3), INT, tensor(I64, "N")], None, ("int", "...", "array"), tensor(F32, "N", 4)),
    ([tensor(F32, 5, 4), NONE, NONE, NONE, tensor(I64, 7)], [UNKNOWN, None, None, None, UNKNOWN],
     ("slice", "array"), tensor(F32, 5, 7)),
    ([tensor(F32, 5, 4), tensor(B, 5, 4)], None, ("array",), tensor(F32, ANY_DIM)),
    ([tensor(F32, 5, 4, 3), tensor(B, 5)], None, ("array",), tensor(F32, ANY_DIM, 4, 3)),
    ([tensor(F32, 5, 4), tensor(B, 5), tensor(I64, 1)], None, ("...", "array", "array"), tensor(F32, ANY_DIM)),
])
def test_index_shapes(inputs, constants, items, expected):
    assert get_op("np::index").infer_types(inputs, {"items": items}, constants) == (expected,)


@pytest.mark.parametrize("kind, inputs, constants, items, message", [
    ("np::index", [tensor(F32, 5), tensor(I64, 2), tensor(I64, 2)], None, ("array", "array"), "too many indices"),
    ("np::index", [tensor(F32, 5), tensor(DType.FLOAT64, 2)], None, ("array",), "integer \\(or boolean\\)"),
    ("np::index", [tensor(F32, 5), tensor(B)], None, ("array",), "0-d boolean"),
    ("np::index", [tensor(F32, 5, 4), BOOL, tensor(I64, 2)], None, ("int", "array"), "an int index must be an int"),
    ("np::index", [tensor(F32, 5, 4), tensor(I64, 2), tensor(I64, 3)], None, ("array", "array"),
     "could not be broadcast together"),
    ("np::index", [tensor(F32, 5, 4), tensor(B, 4)], None, ("array",), "boolean index did not match"),
    ("np::index", [tensor(F32, 5, 4), INT, tensor(I64, 3)], [UNKNOWN, 5, UNKNOWN], ("int", "array"),
     "index 5 is out of bounds for axis 0 with size 5"),
    ("np::index", [tensor(F32, 5), INT, INT, INT, tensor(I64, 3)], [UNKNOWN, 0, 1, 0, UNKNOWN],
     ("slice", "array"), "step cannot be zero"),
    ("np::index", [tensor(F32, 5), tensor(I64, 3)], None, ("array", "int"), "takes 2 part"),
    ("np::index", [tensor(F32, 5)], None, ("...", "..."), "single ellipsis"),
    ("np::index_put", [tensor(F32, 5, 4), tensor(F32, 3), INT], None, ("int",), "could not broadcast"),
    ("np::index_put", [tensor(F32, 5, 4), tensor(F32, 2, 4), INT], None, ("int",), "could not broadcast"),
    ("np::index_put", [tensor(F32, 5, 4), tensor(F32, 1, 2), tensor(B, 5, 4)], None, ("array",),
     "requires a 0 or 1-dimensional input"),
    ("np::index_put", [tensor(F32, 5, 4), FLOAT, tensor(F32, 2)], None, ("array",), "integer \\(or boolean\\)"),
])
def test_rules_reject_what_numpy_rejects(kind, inputs, constants, items, message):
    with pytest.raises(IRTypeError, match=message):
        get_op(kind).infer_types(inputs, {"items": items}, constants)
