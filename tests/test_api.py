"""The public API end to end: script and trace on the default backend and
the interpreter, checked against eager NumPy; dispatch, argument errors,
fallback, JITC_DISABLE, inspection."""
from __future__ import annotations

import pathlib
import subprocess
import sys
import warnings

import numpy as np
import pytest

import jitc
from jitc.ir.interpreter import run_graph
from jitc.ir.parser import parse_graph
from support.compare import assert_same

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "examples"))
from mlp import example_inputs as mlp_inputs, mlp  # noqa: E402
from rnn import example_inputs as rnn_inputs, rnn  # noqa: E402

BACKENDS = ["llvm", "interpreter"]


def assert_compiled_matches(compiled, function, args, rtol=None):
    """Compiled result == eager NumPy, and == the interpreter on the same
    specialised graph."""
    expected = function(*args)
    assert_same(compiled(*args), expected, rtol=rtol)
    assert_same(compiled.pack(run_graph(compiled.graph_for(*args), *args, check_types=True)), expected,
                rtol=rtol)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rnn_example_scripts_and_matches_numpy(backend, dtype):
    compiled = jitc.script(rnn, backend=backend)
    for T, B, D in ((5, 3, 8), (1, 1, 4), (9, 2, 16)):
        assert_compiled_matches(compiled, rnn, rnn_inputs(T, B, D, dtype), rtol=1e-4 if dtype == np.float32 else None)
    assert len(compiled.compile_stats()) <= 3  # (1, 1, 4) differs only in which dims are 1


def test_rnn_runs_natively_on_llvm():
    compiled = jitc.script(rnn)
    args = rnn_inputs(4, 2, 8)
    with warnings.catch_warnings():
        warnings.simplefilter("error", jitc.CompileWarning)
        compiled(*args)
    assert {s["backend"] for s in compiled.compile_stats()} == {"llvm"}
    graph = compiled.graph_for(*args)
    assert any(node.kind == "prim::Loop" for node in graph.walk())


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("batch", [1, 16])
def test_traced_mlp_matches_numpy(backend, batch):
    args = mlp_inputs(batch=batch, width=32)
    traced = jitc.trace(mlp, args, backend=backend)
    assert_compiled_matches(traced, mlp, args)
    text = str(traced.graph)
    assert text.startswith("graph(%x : Float(") and "np::matmul" in text
    assert str(parse_graph(text)) == text


def test_one_compilation_per_signature_kind():
    compiled = jitc.script(rnn, backend="interpreter")
    for T in (3, 4, 5):
        compiled(*rnn_inputs(T, 2, 4))
    assert len(compiled.compile_stats()) == 1
    compiled(*rnn_inputs(3, 2, 4, dtype=np.float64))
    assert len(compiled.compile_stats()) == 2
    stats = compiled.compile_stats()[0]
    assert set(stats) >= {"signature", "backend", "code_from", "frontend", "optimize", "codegen"}
    assert all(stats[stage] >= 0 for stage in ("frontend", "optimize", "codegen"))


def test_wrong_arguments_name_the_parameter():
    def add(x, y):
        return x + y
    compiled = jitc.script(add, backend="interpreter")
    with pytest.raises(TypeError, match=r"add\(\): missing a required argument: 'y'"):
        compiled(np.ones(3))
    with pytest.raises(TypeError, match=r"argument 'x': jitc cannot pass a value of type str"):
        compiled("a", np.ones(3))
    with pytest.raises(TypeError, match=r"argument 'y': jitc does not support dtype object"):
        compiled(np.ones(3), np.array([None]))


def test_runtime_shape_errors_are_value_errors():
    def add(x, y):
        return x + y
    for backend in BACKENDS:
        compiled = jitc.script(add, backend=backend)
        with pytest.raises(ValueError, match="broadcast"):
            compiled(np.ones(3), np.ones(4))


def test_keyword_arguments_and_defaults():
    def affine(x, scale=2.0, shift=1):
        return x * scale + shift
    compiled = jitc.script(affine, backend="interpreter")
    x = np.arange(4.0)
    assert_same(compiled(x), affine(x))
    assert_same(compiled(x, shift=3, scale=0.5), affine(x, 0.5, 3))


def test_zero_dimensional_results_are_numpy_scalars():
    def total(x):
        return x.sum()
    for backend in BACKENDS:
        result = jitc.script(total, backend=backend)(np.ones(3, np.float32))
        assert_same(result, np.ones(3, np.float32).sum())


def test_fallback_warns_once_and_still_computes(monkeypatch):
    from jitc.backends import UnsupportedOpError

    class Refusing:
        name = "llvm"

        def compile(self, graph):
            raise UnsupportedOpError("np::tanh", "not yet")
    monkeypatch.setattr("jitc.function.get_backend",
                        lambda name=None: Refusing() if name in (None, "llvm") else
                        __import__("jitc.backends", fromlist=["get_backend"]).get_backend(name))

    def squash(x):
        return np.tanh(x)
    compiled = jitc.script(squash)
    with pytest.warns(jitc.CompileWarning, match="cannot compile np::tanh: not yet"):
        assert_same(compiled(np.ones(2)), np.tanh(np.ones(2)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compiled(np.ones((2, 2)))


def test_jitc_disable_returns_the_python_function():
    code = ("import os; os.environ['JITC_DISABLE'] = '1'\n"
            "import jitc\n"
            "def f(x):\n    return x\n"
            "assert jitc.script(f) is f and jitc.trace(f, 1.0) is f\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_inspection_views():
    compiled = jitc.script(rnn, backend="interpreter")
    args = rnn_inputs(3, 2, 4)
    compiled(*args)
    assert "prim::Loop" in str(compiled.graph)
    assert "for t in range(" in compiled.code and "np.tanh(" in compiled.code
    specialised = str(compiled.graph_for(*args))
    assert "%x : Float(*, *, *)" in specialised and "List[Float(*, *)]" in specialised


def test_quickstart_example_runs():
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "quickstart.py")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "scripted RNN: matches NumPy" in result.stdout
    assert "rnn loaded from" in result.stdout and "mlp loaded from" in result.stdout


def _scaled(a, b):
    return a * b + 1


def test_native_entries_serve_several_signatures_and_decline_the_rest():
    compiled = jitc.script(_scaled)
    cases = [(np.ones(4, np.float32), np.ones(4, np.float32)), (np.ones(3), np.ones(3)),
             (np.ones((2, 2), np.int64), 3), (np.ones(4, np.float32), 2.5)]
    for _ in range(2):  # the second round is served by the native entries
        for args in cases:
            assert_same(compiled(*args), _scaled(*args))
    assert len(compiled.compile_stats()) == len(cases)
    assert_same(compiled(b=np.ones(2), a=np.arange(2.0)), _scaled(np.arange(2.0), np.ones(2)))  # keywords
    with pytest.raises(TypeError):
        compiled(np.ones(2))


def test_script_refuses_functions_without_source_at_decoration_and_parses_on_first_call(monkeypatch):
    """Decoration refuses what has no readable source; the source is parsed
    only when scripted (a process served by the caches never parses it)."""
    from jitc.errors import ScriptError
    from jitc.frontend import script_source
    namespace = {}
    exec("def made_by_exec(x):\n    return x\n", namespace)
    for function, message in ((namespace["made_by_exec"], "cannot read the source of made_by_exec"),
                              (lambda x: x, "needs a function written with `def`"),
                              (len, "needs a function written with `def`")):
        with pytest.raises(ScriptError, match=message):
            jitc.script(function)
    parsed = []
    original = script_source.FunctionSource.__init__
    monkeypatch.setattr(script_source.FunctionSource, "__init__",
                        lambda self, function: (parsed.append(function), original(self, function))[1])
    monkeypatch.setenv("JITC_DISABLE_CACHE", "1")
    compiled = jitc.script(_halve)
    assert parsed == []
    assert compiled(np.arange(4.0)).tolist() == [0.0, 0.5, 1.0, 1.5]
    assert parsed


def _halve(x):
    return x / 2


def scaled_sum(x, y):
    return np.sum(x * 2.0 + y)


def test_the_garbage_collector_is_paused_while_compiling_only(monkeypatch):
    """Compiling runs with the cyclic GC off (it cost 50-130 ms of a cold GPT-2
    compile); it is on again afterwards, also when compiling fails, and a
    caller that turned it off keeps it off."""
    import gc
    seen = []
    compiled = jitc.script(scaled_sum)
    compile_types = type(compiled).compile

    def recording(self, types):
        seen.append(gc.isenabled())
        return compile_types(self, types)
    monkeypatch.setattr(type(compiled), "compile", recording)
    x = np.arange(4.0)
    assert compiled(x, x) == scaled_sum(x, x)
    assert seen == [False] and gc.isenabled()
    with pytest.raises(ValueError):
        compiled(np.ones((2, 2)), np.ones((3, 3)))  # a new signature: compiles, then fails at run time
    assert gc.isenabled()
    with pytest.raises(TypeError):
        compiled(np.ones(2, dtype=np.complex128), x)
    assert gc.isenabled()
    gc.disable()
    try:
        assert jitc.script(scaled_sum)(x, x) == scaled_sum(x, x)
        assert not gc.isenabled()
    finally:
        gc.enable()
