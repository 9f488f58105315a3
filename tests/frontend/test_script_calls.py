"""Calls in scripted code: Python functions, methods, callable objects,
lambdas and compiled functions inlined into the caller's graph; list
comprehensions and the builtins that iterate; ints specialised on their
value where they decide structure. Every function runs compiled on both
backends and is compared with its eager NumPy run on several sizes and
both float dtypes; the errors are checked for their text, file and line."""
from __future__ import annotations

import math
import statistics
import warnings

import numpy as np
import pytest

import jitc
from jitc.errors import ScriptError
from jitc.frontend.scripter import script_graph
from jitc.ir.types import INT, DType, ListType, TensorType
from support.backend_checks import check
from support.script_checks import DTYPES, assert_points_at, kinds

BACKENDS = ("llvm", "interpreter")
SIZES = (1, 3, 8)
_COMPILED: dict = {}


def compiled(function, backend):
    """`function` scripted for `backend`, once per test session."""
    key = (function, backend)
    if key not in _COMPILED:
        _COMPILED[key] = jitc.script(function, backend=backend)
    return _COMPILED[key]


def check_both(function, *args, rtol=None, atol=None):
    """Compiled on each backend, the interpreted graph and eager NumPy agree."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jitc.CompileWarning)
        for backend in BACKENDS:
            check(compiled(function, backend), function, args, rtol, atol)


def normal(rng, dtype, *shape):
    return rng.standard_normal(shape).astype(dtype)


# -- plain Python functions --------------------------------------------------------------------------
OFFSET = np.linspace(-1.0, 1.0, 5)


def affine(x, scale=2.0, *, shift=1.0):
    return x * scale + shift


def clipped(x, low=-0.5, high=0.5):
    return np.minimum(np.maximum(x, low), high)


def calls_with_defaults_and_keywords(x):
    return affine(x) + affine(x, 3.0, shift=-1.0) + clipped(high=0.25, x=x)


def total_of(first, *rest):
    return sum(rest, first), len(rest)


def calls_with_star_args(x, y):
    total, count = total_of(x, y, x * y)
    pair = (x, y)
    again, _ = total_of(*pair)
    return total * count + again


def sign_and_magnitude(x):
    if x.sum() > 0:
        return np.abs(x), 1.0
    return np.abs(x), -1.0


def calls_a_function_with_early_returns(x):
    magnitude, sign = sign_and_magnitude(x)
    return magnitude * sign


def with_offset(x):
    return x + OFFSET[: x.shape[-1]].sum() * math.pi


def normalized(x):
    return with_offset(x) / (1.0 + np.abs(with_offset(x)).max())


def calls_nested_functions_with_their_globals(x):
    return normalized(x) * 2.0


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("function", [calls_with_defaults_and_keywords, calls_a_function_with_early_returns,
                                      calls_nested_functions_with_their_globals])
def test_python_functions_are_inlined(function, dtype):
    rng = np.random.default_rng(1)
    for size in SIZES:
        check_both(function, normal(rng, dtype, size, 4))


def fill_tail(a, value):
    a[1:] = value
    return a.sum()


def writes_through_a_call(x):
    y = x * 2.0
    total = fill_tail(y, 0.5)
    return y, total


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_callee_writes_into_the_callers_array(dtype):
    rng = np.random.default_rng(13)
    for size in SIZES:
        check_both(writes_through_a_call, normal(rng, dtype, size, 3))


@pytest.mark.parametrize("dtype", DTYPES)
def test_star_args_are_a_python_tuple(dtype):
    rng = np.random.default_rng(2)
    for size in SIZES:
        check_both(calls_with_star_args, normal(rng, dtype, size), normal(rng, dtype, size))


def test_inlined_nodes_carry_the_callees_source_locations():
    graph = script_graph(calls_nested_functions_with_their_globals)

    def lines(kind):
        return {node.source.line for node in graph.walk() if node.kind == kind}

    def body_line(function):
        return function.__code__.co_firstlineno + 1

    assert lines("np::add") == {body_line(with_offset), body_line(normalized)}
    assert lines("np::divide") == {body_line(normalized)}
    assert lines("np::max") == {body_line(normalized)}
    assert all(node.source.filename == __file__ for node in graph.walk())


# -- methods, callable objects, modules --------------------------------------------------------------------
class Dense:
    """A plain Python object: its arrays are constants, its ints decide structure."""

    def __init__(self, inputs, outputs, repeats):
        rng = np.random.default_rng(inputs * outputs)
        self.weight = rng.standard_normal((inputs, outputs))
        self.bias = rng.standard_normal(outputs)
        self.repeats = repeats

    def apply(self, x):
        y = x @ self.weight.astype(x.dtype) + self.bias.astype(x.dtype)
        for _ in range(self.repeats):
            y = np.tanh(y)
        return y

    def __call__(self, x):
        return self.apply(x) * 0.5


class Scaled(jitc.nn.Module):
    def __init__(self, inner, scale):
        self.inner = inner
        self.scale = scale

    def forward(self, x, bias=0.0):
        return self.inner(x) * self.scale + bias


DENSE = Dense(4, 3, repeats=2)
SCALED = Scaled(DENSE, 3.0)


def calls_a_bound_method(x):
    return DENSE.apply(x)


def calls_a_callable_object(x):
    return DENSE(x) + DENSE.apply(x)


def calls_a_module(x):
    return SCALED(x) + SCALED(x, bias=1.0) + SCALED.forward(x)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("function", [calls_a_bound_method, calls_a_callable_object, calls_a_module])
def test_methods_and_callable_objects_are_inlined_with_self_as_a_constant(function, dtype):
    rng = np.random.default_rng(3)
    for size in SIZES:
        check_both(function, normal(rng, dtype, size, 4))


def test_each_array_of_an_object_is_one_constant_however_often_it_is_called():
    graph = script_graph(calls_a_module, [TensorType(DType.FLOAT32, ("*", "*"))])
    assert sorted(graph.tensors) == ["bias", "weight"]
    assert kinds(graph).count("prim::Loop") == 3  # one `for _ in range(self.repeats)` per call


# -- compiled functions --------------------------------------------------------------------------------------
@jitc.script
def scripted_gelu(x):
    return 0.5 * x * (1.0 + np.tanh(0.7978845608 * (x + 0.044715 * x ** 3)))


def calls_a_scripted_function(x):
    return scripted_gelu(x) + scripted_gelu(x * 2.0)


def softsign(x):
    return x / (1.0 + np.abs(x))


TRACED: dict = {}


def calls_a_traced_function(x):
    return TRACED["softsign"](x) * 2.0


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_scripted_function_is_inlined(dtype):
    rng = np.random.default_rng(4)
    for size in SIZES:
        check_both(calls_a_scripted_function, normal(rng, dtype, size, 3))


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_traced_function_is_inlined_from_its_graph(dtype):
    rng = np.random.default_rng(5)
    TRACED["softsign"] = jitc.trace(softsign, normal(rng, dtype, 2, 3))
    _COMPILED.pop((calls_a_traced_function, "llvm"), None)
    _COMPILED.pop((calls_a_traced_function, "interpreter"), None)
    for size in SIZES:
        check_both(calls_a_traced_function, normal(rng, dtype, size, 3))
    graph = compiled(calls_a_traced_function, "llvm").graph
    assert "np::divide" in kinds(graph)
    divide = next(node for node in graph.walk() if node.kind == "np::divide")
    assert divide.source.line == softsign.__code__.co_firstlineno + 1


# -- lambdas ------------------------------------------------------------------------------------------------
def apply_twice(function, x):
    return function(function(x))


def uses_lambdas(x):
    relu = lambda t: np.maximum(t, 0)
    scale = 2.0
    scaled = lambda t, k=0.5: t * scale * k
    scale = 3.0  # read when the lambda is called, as in Python
    return relu(x) + scaled(x) + scaled(x, k=1.5) + apply_twice(lambda t: t * t, x)


def maps_a_lambda(x, y):
    total = lambda *terms, weight=1.0: sum(terms) * weight
    return list(map(lambda a, b: a * b + 1.0, [x, y], [y, x])) + [total(x, y, x), total(y, weight=0.5)]


@pytest.mark.parametrize("dtype", DTYPES)
def test_lambdas_close_over_the_current_variables(dtype):
    rng = np.random.default_rng(6)
    for size in SIZES:
        check_both(uses_lambdas, normal(rng, dtype, size, 2))
        check_both(maps_a_lambda, normal(rng, dtype, size), normal(rng, dtype, size))


# -- list comprehensions ---------------------------------------------------------------------------------------
def comprehension_over_a_tuple_with_conditions(x):
    scaled = [x * k for k in (1.0, 2.0, 3.0, 4.0) if k != 3.0]
    positive = [t for t in scaled if t.sum() > 0]  # decided at run time
    return np.stack(scaled), len(positive)


def nested_comprehension_with_tuple_targets(x, y):
    pairs = [(a, b) for a in (x, y) for b in (y, x)]
    return np.concatenate([a * b for a, b in pairs], axis=0)


def comprehension_over_zip_and_enumerate(x, y):
    mixed = [a + b * i for i, (a, b) in enumerate(zip((x, y, x), (y, x, y)))]
    return sum(mixed)


def comprehension_over_range(x):
    powers = [x ** i for i in range(1, 4)]
    return np.stack(powers, axis=-1)


def comprehension_over_a_list_argument(xs: list, n: int):
    grown = [t * 2.0 for t in xs if t.sum() > 0]
    counted = [i * 1.5 for i in range(n)]
    return len(grown), counted, [t.sum() for t in xs]


def comprehension_over_the_rows_of_an_array(x):
    return np.stack([row * row.sum() for row in x])


def transposes_lists_with_zip_star(x, y, z):
    rows = [(x, y), (y, z), (z, x)]
    columns = [np.stack(column) for column in zip(*rows)]
    return columns[0] + columns[1]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("function, arity", [
    (comprehension_over_a_tuple_with_conditions, 1), (nested_comprehension_with_tuple_targets, 2),
    (comprehension_over_zip_and_enumerate, 2), (comprehension_over_range, 1),
    (comprehension_over_the_rows_of_an_array, 1), (transposes_lists_with_zip_star, 3)])
def test_list_comprehensions(function, arity, dtype):
    rng = np.random.default_rng(7)
    for size in SIZES:
        check_both(function, *(normal(rng, dtype, size, 2) for _ in range(arity)))


@pytest.mark.parametrize("dtype", DTYPES)
def test_comprehensions_over_runtime_lists_and_ranges_are_loops(dtype):
    rng = np.random.default_rng(8)
    for count in (0, 1, 4):
        xs = [normal(rng, dtype, 3) for _ in range(count)]
        check_both(comprehension_over_a_list_argument, xs, count)
    graph = compiled(comprehension_over_a_list_argument, "llvm").graph
    assert kinds(graph).count("prim::Loop") == 3
    assert compiled(comprehension_over_a_list_argument, "llvm").static_parameters == set()


def test_known_comprehensions_unroll_into_the_graph():
    float64 = TensorType(DType.FLOAT64, ("*", "*"))
    graph = script_graph(nested_comprehension_with_tuple_targets, [float64, float64])
    assert "prim::Loop" not in kinds(graph) and kinds(graph).count("np::multiply") == 4
    graph = script_graph(comprehension_over_a_list_argument, [ListType(float64), INT])
    loop = next(node for node in graph.walk() if node.kind == "prim::Loop")
    assert str(loop.outputs[0].type) == "List[Double(*, *)]"


# -- ints that decide structure -----------------------------------------------------------------------------
def split_heads(x, n_head: int):
    heads = np.split(x, n_head, axis=-1)
    return np.concatenate([head * (i + 1) for i, head in enumerate(heads)], axis=-1)


def reduce_along(x, axis: int, keep: bool):
    return x.sum(axis=axis, keepdims=keep) / x.shape[axis]


def picks_from_a_tuple(x, index: int, repeats):
    options = (x, x * 2.0, np.tanh(x))
    total = options[index * 2 - 2]
    for _ in range(repeats):
        total = total + options[index - 1]
    return total


def uses_ints_as_data(x, n: int):
    total = x * 0.0
    for i in range(n):
        total = total + x * i
    return total + n


def picks_options_by_a_comprehension_index(x, n: int):
    options = (x, x * 2.0, np.tanh(x), x - 1.0)
    return np.stack([options[i] for i in range(n)])


def zips_the_columns_of_n_rows(x, n: int):
    rows = [(x * i, x + i) for i in range(n)]
    firsts, seconds = zip(*rows)
    return np.stack(firsts) - np.stack(seconds)


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_comprehension_over_range_of_an_int_unrolls_when_its_index_or_length_decides_structure(dtype):
    rng = np.random.default_rng(12)
    for size in SIZES:
        for n in (1, 2, 4):
            check_both(picks_options_by_a_comprehension_index, normal(rng, dtype, size), n)
            check_both(zips_the_columns_of_n_rows, normal(rng, dtype, size, 2), n)
    for function in (picks_options_by_a_comprehension_index, zips_the_columns_of_n_rows):
        assert compiled(function, "llvm").static_parameters == {"n"}
        assert "prim::Loop" not in kinds(compiled(function, "llvm").graph)


@pytest.mark.parametrize("dtype", DTYPES)
def test_an_int_that_decides_structure_is_specialised_on_its_value(dtype):
    rng = np.random.default_rng(9)
    for size in SIZES:
        for n_head in (1, 2, 4):
            check_both(split_heads, normal(rng, dtype, size, 8), n_head)
        for axis, keep in ((0, False), (-1, True), (1, False)):
            check_both(reduce_along, normal(rng, dtype, size, 5), axis, keep)
        for index in (1, 2):
            check_both(picks_from_a_tuple, normal(rng, dtype, size), index, size)
    function = compiled(split_heads, "llvm")
    assert function.static_parameters == {"n_head"}
    assert {tuple(stats["signature"]) for stats in function.compile_stats()} >= {
        (f"{DType.from_numpy(np.dtype(dtype)).type_name}(*, *)", f"int={n}") for n in (1, 2, 4)}
    assert compiled(reduce_along, "llvm").static_parameters == {"axis", "keep"}
    assert compiled(picks_from_a_tuple, "llvm").static_parameters == {"index"}


@pytest.mark.parametrize("dtype", DTYPES)
def test_ints_used_as_data_are_not_specialised(dtype):
    rng = np.random.default_rng(10)
    function = compiled(uses_ints_as_data, "llvm")
    before = len(function.compile_stats())
    for n in (0, 1, 5):
        check_both(uses_ints_as_data, normal(rng, dtype, 3, 2), n)
    assert function.static_parameters == set()
    assert len(function.compile_stats()) == before + 1


def test_a_model_file_keeps_the_values_of_specialised_ints(tmp_path):
    function = jitc.script(split_heads, backend="interpreter")
    x = np.random.default_rng(11).standard_normal((3, 8))
    for n_head in (2, 4):
        function(x, n_head)
    jitc.save(function, tmp_path / "heads.jitc")
    loaded = jitc.load(tmp_path / "heads.jitc", backend="interpreter")
    assert loaded.static_parameters == {"n_head"}
    for n_head in (2, 4):
        np.testing.assert_allclose(loaded(x, n_head), split_heads(x, n_head), rtol=1e-12)
    with pytest.raises(TypeError, match="n_head=2"):
        loaded(x, 8)


# -- errors --------------------------------------------------------------------------------------------------
def countdown(x, n: int):
    if n > 0:
        return countdown(x, n - 1)
    return x


def ping(x):
    return pong(x) + 1.0


def pong(x):
    return ping(x) * 2.0


class Opaque:
    pass


OPAQUE = Opaque()


def calls_an_opaque_object(x):
    return OPAQUE(x)


def calls_the_standard_library(x):
    return statistics.mean(x)


def calls_with_a_bad_keyword(x):
    return affine(x, bogus=1.0)


def calls_with_a_missing_argument(x):
    return clipped()


def broken(x):
    return x + undefined_name  # noqa: F821


def calls_a_broken_function(x):
    return broken(x) * 2.0


def unknown_method(x):
    return DENSE.missing(x)


def starts_a_spread_of_an_array(x):
    return affine(*x)


def spreads_a_non_dict(x):
    options = (1.0, 2.0)
    return affine(x, **options)


def recursive_lambda(x):
    again = lambda t: again(t) + 1.0
    return again(x)


@jitc.ignore
def stays_in_python(x):
    return x


def passes_an_object_to_an_ignored_function(x):
    return stays_in_python(DENSE)


ERROR_CASES = [
    (countdown, "recursive call: countdown -> countdown", "countdown(x, n - 1)"),
    (ping, "recursive call: ping -> pong -> ping", "ping(x)"),
    (recursive_lambda, "recursive call: <lambda> at line", "again(t)"),
    (calls_an_opaque_object, "Opaque is not callable", "OPAQUE(x)"),
    (calls_the_standard_library, "mean is not supported by jitc", "statistics.mean(x)"),
    (calls_with_a_bad_keyword, "affine(): got an unexpected keyword argument 'bogus'", "affine(x, bogus=1.0)"),
    (calls_with_a_missing_argument, "clipped(): missing a required argument: 'x'", "clipped()"),
    (calls_a_broken_function, "name 'undefined_name' is not defined", "undefined_name"),
    (unknown_method, "'Dense' object has no attribute 'missing'", "DENSE.missing"),
    (starts_a_spread_of_an_array, "*x in a call needs a tuple or a list whose length is known", "*x"),
    (spreads_a_non_dict, "**kwargs in calls are supported only for the dict of a **kwargs parameter",
     "**options"),
    (passes_an_object_to_an_ignored_function, "stays_in_python is marked @jitc.ignore, and compiled code can "
     "pass it arrays, scalars, strings, None, lists and tuples, not Dense", "stays_in_python(DENSE)"),
]


@pytest.mark.parametrize("function, message, construct", ERROR_CASES, ids=[case[0].__name__ for case in ERROR_CASES])
def test_call_errors_name_the_problem_and_point_at_the_construct(function, message, construct):
    with pytest.raises(ScriptError) as info:
        script_graph(function)
    assert message in info.value.message
    assert info.value.location.filename == __file__
    assert_points_at(info.value, construct)


def test_an_error_inside_a_callee_notes_the_call_site():
    with pytest.raises(ScriptError) as info:
        script_graph(calls_a_broken_function)
    assert info.value.location.line == broken.__code__.co_firstlineno + 1
    call_line = calls_a_broken_function.__code__.co_firstlineno + 1
    assert info.value.__notes__ == [f"  in broken, called from {__file__}, line {call_line}"]


def test_a_function_without_source_cannot_be_inlined():
    namespace = {}
    exec("def made_by_exec(x):\n    return x\n", namespace)

    def calls_it(x):
        return made_by_exec(x)

    made_by_exec = namespace["made_by_exec"]
    with pytest.raises(ScriptError) as info:
        script_graph(calls_it)
    assert "cannot inline the call of made_by_exec" in info.value.message
    assert "cannot read the source" in info.value.message
    assert_points_at(info.value, "made_by_exec(x)")


def test_an_ignored_function_still_runs_eagerly():
    x = np.ones(3)
    assert stays_in_python(x) is x
