"""`@jitc.ignore`: a function or Module method so marked stays in Python.
Scripted code calls it through a `prim::PythonCall` node (the graph names
it), whose result types come from its return annotation; only the
interpreter runs the node, so a function calling one runs there with one
CompileWarning, and `jitc.save` refuses it. Every compiled result is
compared with the eager run of the same code."""
from __future__ import annotations

import warnings

import numpy as np
import numpy.typing as npt
import pytest

import jitc
from jitc.backends import UnsupportedOpError, get_backend
from jitc.errors import ScriptError
from jitc.ir.parser import parse_graph
from jitc.ir.types import NONE, TENSOR, DType, TensorType
from jitc.ir.verifier import VerificationError, verify
from support.compare import assert_same

BACKENDS = ("llvm", "interpreter")
CALLS: list = []


@jitc.ignore
def column_stats(y: np.ndarray, scale: float = 1.0) -> tuple[np.ndarray, float]:
    CALLS.append(("column_stats", y.shape))
    return y.max(axis=0) * scale, float(y.std())


@jitc.ignore
def log_value(y, label="value"):
    CALLS.append((label, float(np.sum(y))))


@jitc.ignore
def halve(y: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return y / 2


@jitc.ignore
def unannotated_double(y):
    return y * 2


@jitc.ignore
def identity(y: np.ndarray) -> np.ndarray:
    return y


def uses_ignored(x):
    top, spread = column_stats(np.exp(x), scale=2.0)
    log_value(top, label="top")
    return top / spread + unannotated_double(x).sum(axis=0)


def calls_in_a_loop(x, n: int):
    total = x * 0
    for i in range(n):
        log_value(x, label="step")
        total = total + x
    return total


def passes_through(x):
    return identity(x)


def run(function, backend, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jitc.CompileWarning)
        return jitc.script(function, backend=backend)(*args)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ignored_calls_run_in_python_and_match_eager(backend, dtype):
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(dtype)
    CALLS.clear()
    expected = uses_ignored(x)
    eager_calls = list(CALLS)
    CALLS.clear()
    assert_same(run(uses_ignored, backend, x), expected)
    assert CALLS == eager_calls  # called once each, with what the eager run passed
    expected = calls_in_a_loop(x, 3)
    CALLS.clear()
    assert_same(run(calls_in_a_loop, backend, x, 3), expected)
    assert [label for label, _ in CALLS] == ["step"] * 3


def test_the_graph_names_the_ignored_functions_and_types_their_results():
    function = jitc.script(uses_ignored, backend="interpreter")
    calls = [node for node in function.graph.walk() if node.kind == "prim::PythonCall"]
    assert [str(node.attributes["function"]) for node in calls] == ["column_stats", "log_value", "unannotated_double"]
    assert [str(value.type) for value in calls[0].outputs] == ["Tensor", "float"]
    assert calls[0].attributes["keywords"] == ("scale",)
    assert calls[1].outputs[0].type == NONE  # no `return value` in its body
    assert calls[2].outputs[0].type == TENSOR  # a `return value` and no annotation: an array
    assert 'prim::PythonCall[function="column_stats", keywords=("scale",), returns_tuple=True]' in str(function.graph)
    assert "column_stats(_" in function.code and "label='top')" in function.code


def test_annotated_dtype_types_the_result_and_llvm_refuses_the_node():
    x = np.linspace(0.0, 1.0, 5)
    function = jitc.script(lambda_free_halve, backend="interpreter")
    assert_same(function(x), lambda_free_halve(x))
    graph = function.graph_for(x)
    call = next(node for node in graph.walk() if node.kind == "prim::PythonCall")
    assert call.output.type == TensorType(DType.FLOAT64, None)
    assert str(graph.returns[0].type) == "Double(...)"
    with pytest.raises(UnsupportedOpError, match="prim::PythonCall"):
        get_backend("llvm").compile(graph)
    from jitc.backends.llvm import UNSUPPORTED_OPS
    assert "prim::PythonCall" in UNSUPPORTED_OPS


def lambda_free_halve(x):
    return halve(x) + 1


def warns_once(x):
    return halve(x) * 3


def test_one_compile_warning_names_the_ignored_function():
    function = jitc.script(warns_once)
    x = np.ones(3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert_same(function(x), warns_once(x))
        assert_same(function(np.ones((2, 2))), warns_once(np.ones((2, 2))))  # a second signature
    messages = [str(w.message) for w in caught if issubclass(w.category, jitc.CompileWarning)]
    assert messages == ["jitc: warns_once calls halve, marked @jitc.ignore, which stays in Python; "
                        "warns_once runs in the interpreter, not the llvm backend"]
    assert caught[0].filename == __file__  # points at the call, not at jitc
    assert {stats["backend"] for stats in function.compile_stats()} == {"interpreter"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        jitc.script(warns_once, backend="interpreter")(x)  # no fallback, no warning


class Scaled(jitc.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = jitc.nn.Linear(3, 2)
        self.seen = 0

    @jitc.ignore
    def record(self, y: np.ndarray) -> int:
        self.seen += 1
        return self.seen

    def forward(self, x):
        y = self.linear(x)
        count = self.record(y)
        return y * count


def test_ignored_module_method_stays_in_python():
    model = Scaled()
    x = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    expected = model(x)  # seen becomes 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scripted = jitc.script(model)
        assert_same(scripted(x), expected * 2)  # seen becomes 2: the method ran, in Python
    assert model.seen == 2
    assert any("Scaled.record" in str(w.message) for w in caught)
    assert 'function="Scaled.record"' in str(scripted.graph_for(x))


def test_a_result_that_is_an_argument_is_a_new_array():
    x = np.arange(4.0)
    result = run(passes_through, "interpreter", x)
    assert_same(result, x)
    assert not np.shares_memory(result, x)


@jitc.ignore
def writes_into_argument(y):
    y[0] = 1.0


def calls_a_writer(x):
    writes_into_argument(x)
    return x + 1


@jitc.ignore
def wrong_result(y) -> float:
    return y


def calls_wrong_result(x):
    return wrong_result(x) + 1


@jitc.ignore
def plain(y):
    return y


RELU = jitc.nn.ReLU()


def passes_a_module(x):
    return plain(RELU)


def test_errors_name_the_ignored_function():
    x = np.arange(3.0)
    with pytest.raises(ValueError, match="read-only") as raised:
        run(calls_a_writer, "interpreter", x)
    assert any("writes_into_argument is marked @jitc.ignore" in note for note in raised.value.__notes__)
    assert_same(x, np.arange(3.0))
    with pytest.raises(TypeError, match=r"wrong_result, marked @jitc.ignore \(called at .*test_script_ignore.py:\d+.*\), "
                                        r"returned a float64 array of shape \(3,\) where compiled code expects float"):
        run(calls_wrong_result, "interpreter", x)
    with pytest.raises(ScriptError, match="plain is marked @jitc.ignore, and compiled code can pass it arrays, "
                                          "scalars, strings, None, lists and tuples, not ReLU"):
        run(passes_a_module, "interpreter", x)


def test_save_refuses_and_text_cannot_call_python(tmp_path):
    function = jitc.script(lambda_free_halve, backend="interpreter")
    x = np.ones(3)
    function(x)
    with pytest.raises(ValueError, match="cannot save lambda_free_halve: it calls halve, marked @jitc.ignore, "
                                         "which stays in Python, and a model file never holds Python code"):
        jitc.save(function, tmp_path / "model.jitc")
    assert not (tmp_path / "model.jitc").exists()
    parsed = parse_graph(str(function.graph_for(x)))
    with pytest.raises(VerificationError, match="names the Python function 'halve' but holds no callable"):
        verify(parsed)

