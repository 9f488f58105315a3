"""The scripter's expressions and simple statements: operators, calls
through the NumPy table, methods and attributes, indexing, tuples and
lists, names from outside the function, annotations and locations."""
from __future__ import annotations

import math

import numpy as np
import pytest

from jitc.errors import ScriptError
from jitc.frontend.scripter import script_graph, script_graph_with_arity, type_from_annotation
from jitc.ir.types import BOOL, FLOAT, INT, NONE, TENSOR, DType, ListType, TensorType, TupleType
from support.script_checks import DTYPES, check_script, kinds, random_arrays

OFFSET = np.array([1.0, 2.0, 3.0], dtype=np.float32)
GAIN = 3
SHAPE = (3, -1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_arithmetic_bitwise_and_comparison_operators(dtype):
    def operators(x, y):
        a = (x + y) * 2 - y / 3 + x // 2 + x % 1.5 + abs(-x) ** 2 + +x
        b = x @ y.T
        c = (x > y) & (x <= 0) | ~(y == x) ^ (x != 1)
        return a, b, c, -x, x >= y, x < 0.5

    rng = np.random.default_rng(0)
    check_script(operators, *[random_arrays(rng, dtype, (n, 3), (n, 3)) for n in (1, 4)])


def test_operators_on_python_scalars_follow_python():
    def scalars(n: int, f: float, b: bool):
        return n + 1, n / 2, n // 3, -n, f * n, b & True, n < f, not b, n ** 2, b + b

    check_script(scalars, (7, 2.5, True), (-3, 0.5, False))


def test_constants_fold_at_compile_time():
    def folded(x):
        return x.sum(axis=-1 + 0) * (2 ** 3 // 3) + math.sqrt(4.0) + min(1, 2) + float(GAIN)

    graph = check_script(folded, (np.ones((2, 3)),))
    constants = [n.attributes["value"] for n in graph.walk() if n.kind == "prim::Constant"]
    assert constants == [2, 2.0, 1, 3.0]
    assert next(graph.walk()).attributes == {"axis": -1, "keepdims": False}


def rank_and_dtype_dispatch(x):
    if x.dtype == np.float32 and x.ndim == 1:
        return x * 2
    if x.ndim == 1:
        x = x[None]
    if x.dtype != np.dtype("float64") or np.ndim(x) != 2:
        return x.sum(axis=(0, 1))
    return x.sum(axis=1) + (x.dtype == float)


def test_rank_and_dtype_are_known_while_compiling():
    """`x.ndim` and `x.dtype == ...` pick a branch while compiling (a graph
    is compiled per rank and dtype), so each branch needs only to compile
    for the arguments that reach it."""
    rng = np.random.default_rng(5)
    graph = None
    for shape in ((3,), (2, 3), (2, 3, 4)):
        for dtype in DTYPES:
            types = [TensorType(DType.from_numpy(np.dtype(dtype)), ("*",) * len(shape))]
            graph = check_script(rank_and_dtype_dispatch, random_arrays(rng, dtype, shape), param_types=types)
    assert "prim::If" not in kinds(graph) and "np::ndim" not in kinds(graph)


def compares_a_dtype_with_an_array(x):
    return x.dtype < x


def test_a_dtype_compares_only_by_equality():
    with pytest.raises(ScriptError, match="a dtype can be compared only with == or != to another dtype, not with <"):
        script_graph(compares_a_dtype_with_an_array, [TensorType(DType.FLOAT64, ("*",))])


@pytest.mark.parametrize("dtype", DTYPES)
def test_methods_attributes_and_numpy_functions(dtype):
    def calls(x):
        a = x.sum(axis=1, keepdims=True) / x.shape[1]
        b = np.where(x > 0, x, 0.1 * x).T.mean(axis=0)
        c = x.reshape(-1, 2).astype(np.float32)
        d = np.concatenate([x, -x], axis=1) + np.zeros((x.shape[0], 1))
        return a, b, c, d, x.ndim, x.size, np.float32(2.5) * x.max()

    rng = np.random.default_rng(1)
    check_script(calls, *[random_arrays(rng, dtype, (n, 4)) for n in (1, 3)])


@pytest.mark.parametrize("dtype", DTYPES)
def test_indexing_with_ints_slices_none_and_ellipsis(dtype):
    def index(x, i: int):
        return x[i], x[1:-1, ::2], x[..., None], x[None, :, -1], x[i:i + 2], x[::-1, 1], x[..., 0]

    rng = np.random.default_rng(2)
    x = random_arrays(rng, dtype, (4, 5))[0]
    check_script(index, (x, 0), (x, 2), (x, -1))


def test_shape_unpacking_and_tuples_of_values():
    def reshape(x):
        n, d = x.shape
        shape = (d, n)
        first, second = shape
        first, second = second, first
        y = x.reshape(shape)
        return y, first, second, len(shape), x.reshape(SHAPE), x.shape[0]

    check_script(reshape, (np.arange(6.0).reshape(2, 3),), (np.arange(12.0).reshape(6, 2),))


def test_shapes_of_arrays_with_known_rank_are_python_tuples():
    def shape_tuple(x):
        return x.reshape(x.shape + (1,)), x.shape[-1]

    graph = script_graph(shape_tuple, [TensorType(DType.FLOAT64, ("*", "*"))])
    assert "np::shape" not in kinds(graph)
    check_script(shape_tuple, (np.ones((2, 3)),), param_types=[TensorType(DType.FLOAT64, ("*", "*"))])


def test_augmented_assignment_writes_into_arrays_and_rebinds_scalars():
    def augmented(x, n: int):
        y = x
        y += 1.0  # writes into x, the caller's array, as NumPy does
        y *= 2
        n -= 1
        z = x * 1
        z -= 1  # z is the only name of its array
        return x, y, n, z

    check_script(augmented, (np.zeros(2), 3))


def test_list_literals_are_ir_lists_except_as_call_arguments():
    def lists(x):
        pair = [x, x * 2]
        pair += [x * 3]
        return np.stack(pair), np.stack([x, -x], axis=1), pair[1], np.asarray([1.0, 2.0])

    graph = check_script(lists, (np.arange(3.0),))
    assert kinds(graph).count("prim::ListConstruct") == 3


def test_globals_and_closures_are_resolved_at_compile_time():
    bias = np.float32(0.5)
    power = 2

    def outside(x):
        return (x + OFFSET) * GAIN + bias + x ** power, OFFSET.sum()

    graph = check_script(outside, (np.ones(3, np.float32),), (np.zeros(3, np.float32),))
    assert sorted(graph.tensors) == ["OFFSET", "bias"]
    tensor_constants = [n for n in graph.walk() if n.kind == "prim::Constant" and n.output.type.is_tensor]
    assert [c.output.name for c in tensor_constants] == ["bias", "OFFSET"]


def test_returned_values_and_arity():
    def nothing(x):
        pass

    def one_tuple(x):
        return (x,)

    def pair(x):
        return x, 1

    assert [script_graph_with_arity(f)[1] for f in (nothing, one_tuple, pair)] == [None, 1, 2]
    assert script_graph(nothing).returns[0].type == NONE
    check_script(one_tuple, (np.ones(2),))
    check_script(pair, (np.ones(2),))


def test_docstrings_pass_and_bare_expressions_are_skipped():
    def quiet(x):
        """A docstring."""
        pass
        ...
        return x

    assert kinds(script_graph(quiet)) == []


def test_annotations_give_parameter_types():
    def annotated(x: np.ndarray, n: int, f: float, b: bool, xs: list[np.ndarray], t: tuple[int, float],
                  plain):
        return x

    graph = script_graph(annotated)
    assert [p.type for p in graph.params] == [TENSOR, INT, FLOAT, BOOL, ListType(TENSOR),
                                              TupleType((INT, FLOAT)), TENSOR]
    assert [p.name for p in graph.params] == ["x", "n", "f", "b", "xs", "t", "plain"]


def test_param_types_override_annotations():
    def typed(x: np.ndarray, n: int):
        return x * n

    types = [TensorType(DType.FLOAT32, ("*",)), FLOAT]
    graph = script_graph(typed, types)
    assert [p.type for p in graph.params] == types
    assert graph.returns[0].type == TensorType(DType.FLOAT32, ("*",))


@pytest.mark.parametrize("annotation, expected", [
    (np.ndarray, TENSOR), (int, INT), (float, FLOAT), (bool, BOOL), (None, NONE), (list, ListType(TENSOR)),
    (list[int], ListType(INT)), (tuple[np.ndarray, int], TupleType((TENSOR, INT))),
    (tuple[int, ...], None), (dict, None), (str, None)])
def test_type_from_annotation(annotation, expected):
    assert type_from_annotation(annotation) == expected


def test_every_node_carries_its_source_location():
    def located(x, n: int):
        y = np.tanh(x)
        for i in range(n):
            y = y + i
        return y

    graph = script_graph(located)
    tanh = next(node for node in graph.walk() if node.kind == "np::tanh")
    first_line = located.__code__.co_firstlineno
    assert (tanh.source.line, tanh.source.column, tanh.source.end_column) == (first_line + 1, 12, 22)
    loop = next(node for node in graph.walk() if node.kind == "prim::Loop")
    assert (loop.source.line, loop.source.end_line) == (first_line + 2, first_line + 3)
    assert all(node.source.filename == __file__ for node in graph.walk())
