"""The `jitc` command: inspect, run, graph and bench on saved models,
called in-process through `jitc.cli.main` (and once as `python -m jitc`);
every error is one line on stderr and exit status 2."""
from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

import jitc
from jitc.cli import graph_to_dot, main, parse_value
from support.compare import assert_same

WEIGHTS = np.linspace(-1.0, 1.0, 12).reshape(4, 3)


def two_outputs(x, scale: float = 2.0):
    y = np.tanh(x @ WEIGHTS) * scale
    return y, y.sum(axis=1)


def looped(x, n: int = 3):
    for i in range(n):
        x = x * 0.5 + 1.0
    return x


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    directory = tmp_path_factory.mktemp("cli")
    function = jitc.script(two_outputs)
    x = np.random.default_rng(0).standard_normal((5, 4))
    function(x)
    jitc.save(function, directory / "model.jitc", extra_files={"readme.txt": b"hello"})
    np.save(directory / "x.npy", x)
    return directory, x


def _run(capsys, *argv):
    status = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_inspect_lists_entry_points_parameters_ops_and_caches(model, capsys):
    directory, _ = model
    status, out, err = _run(capsys, "inspect", directory / "model.jitc")
    assert status == 0 and err == ""
    assert "function two_outputs(x, scale=2.0) -> 2 output(s)" in out
    assert "specialisations saved: 1" in out
    assert "(Double(*, *), float) -> (Double(*, 3), Double(*))" in out
    assert "parameters: 1 tensor(s), 12 elements, 96 bytes" in out
    assert "np::matmul" in out and "np::tanh" in out
    assert "extra files: readme.txt (5 bytes)" in out
    assert re.search(r"native code: \S+, llvmlite [0-9.]+ \([0-9.]+ KiB\)", out)  # compiled by llvm before saving


def test_inspect_json(model, capsys):
    directory, _ = model
    status, out, _ = _run(capsys, "inspect", "--json", directory / "model.jitc")
    info = json.loads(out)
    assert status == 0 and info["format_version"] == 2
    natives = info["native"]  # the compiled version's code, and the runtime library's matmul it calls
    assert len(natives) == 2
    for native in natives:
        assert native["file"].startswith("native/") and native["size"] > 0 and "llvmlite" in native["target"]
    [entry] = info["entry_points"]
    assert entry["signature"] == "(x, scale=2.0)" and entry["node_counts"]["np::matmul"] >= 1
    assert info["tensors"] == {"count": 1, "elements": 12, "bytes": 96}


def test_run_writes_numbered_outputs(model, capsys, tmp_path):
    directory, x = model
    status, out, err = _run(capsys, "run", directory / "model.jitc", "--input", directory / "x.npy",
                            "--arg", "scale=0.5", "--output", tmp_path / "y.npy")
    assert status == 0, err
    expected = two_outputs(x, scale=0.5)
    assert_same(np.load(tmp_path / "y_0.npy"), expected[0])
    assert_same(np.load(tmp_path / "y_1.npy"), expected[1])
    assert "wrote" in out


def test_run_with_one_output_path_per_result(model, capsys, tmp_path):
    directory, x = model
    status, _, err = _run(capsys, "run", directory / "model.jitc", "--input", directory / "x.npy",
                          "--output", tmp_path / "a.npy", "--output", tmp_path / "b.npy", "--backend", "interpreter")
    assert status == 0, err
    assert_same(np.load(tmp_path / "a.npy"), two_outputs(x)[0])
    assert_same(np.load(tmp_path / "b.npy"), two_outputs(x)[1])


def test_run_prints_results_without_output(model, capsys):
    directory, _ = model
    status, out, _ = _run(capsys, "run", directory / "model.jitc", "--input", directory / "x.npy")
    assert status == 0 and "output 0: float64 [5, 3]" in out and "output 1: float64 [5]" in out


def test_graph_text_is_the_loaded_graph(model, capsys):
    directory, _ = model
    status, out, _ = _run(capsys, "graph", directory / "model.jitc")
    assert status == 0 and out == str(jitc.load(directory / "model.jitc").graph)
    status, out, _ = _run(capsys, "graph", directory / "model.jitc", "--specialized")
    assert status == 0 and out.startswith("graph(%x : Double(*, *), %scale : float):")


def test_graph_dot(model, capsys):
    directory, _ = model
    status, out, _ = _run(capsys, "graph", directory / "model.jitc", "--dot")
    assert status == 0
    assert out.startswith('digraph "two_outputs" {') and out.rstrip().endswith("}")
    assert '[label="np::matmul"]' in out and '[label="np::tanh"]' in out
    assert 'input0 [shape=ellipse, label="%x : Double(*, *)"]' in out  # the graph of the called version
    assert '-> return [label="%' in out


def test_dot_of_a_loop_shows_captured_values_dashed(tmp_path):
    function = jitc.script(looped, backend="interpreter")
    function(np.ones(3))
    dot = graph_to_dot(function.graph, "looped")
    assert '[label="prim::Loop (1 block)"]' in dot
    assert 'input0 -> node' in dot and 'input1 -> node' in dot


def test_bench_prints_percentiles_and_a_progress_bar(model, capsys):
    directory, _ = model
    status, out, err = _run(capsys, "bench", directory / "model.jitc", "--input", directory / "x.npy",
                            "--repeat", 20, "--warmup", 1)
    assert status == 0
    assert "latency over 20 calls: p50 " in out and " p90 " in out and " p99 " in out
    assert "first call (compiles):" in out
    assert "[##############################] 20/20" in err


@pytest.mark.parametrize("argv, message", [
    (["inspect", "{dir}/missing.jitc"], "cannot open"),
    (["inspect", "{dir}/x.npy"], "cannot open"),
    (["run", "{dir}/model.jitc", "--input", "{dir}/missing.npy"], "cannot read"),
    (["run", "{dir}/model.jitc", "--input", "{dir}/objects.npy"], "allow_pickle=False"),
    (["run", "{dir}/model.jitc", "--input", "{dir}/x.npy", "--arg", "scale"], "--arg expects name=value"),
    (["run", "{dir}/model.jitc", "--input", "{dir}/x.npy", "--arg", "bogus=1"], "bogus"),
    (["run", "{dir}/model.jitc", "--input", "{dir}/x.npy", "--output", "a.npy", "--output", "b.npy",
      "--output", "c.npy"], "returns 2 output"),
    (["run", "{dir}/model.jitc"], "missing a required argument: 'x'"),
    (["graph", "{dir}/model.jitc", "--graph", "7"], "out of range"),
    (["bench", "{dir}/model.jitc", "--input", "{dir}/x.npy", "--repeat", "0"], "--repeat"),
    (["run", "{dir}/model.jitc", "--input", "{dir}/x.npy", "--method", "encode"], "holds a function, not a module"),
    (["frobnicate"], "invalid choice"),
    ([], "required"),
])
def test_errors_exit_2_with_one_message_and_no_traceback(model, capsys, argv, message):
    directory, _ = model
    np.save(directory / "objects.npy", np.array([1, "a"], dtype=object), allow_pickle=True)
    status, _, err = _run(capsys, *[a.format(dir=directory) for a in argv])
    assert status == 2
    assert message in err and "Traceback" not in err


def test_parse_value_never_evaluates():
    assert parse_value("3") == 3 and parse_value("-2.5") == -2.5 and parse_value("True") is True
    assert parse_value("None") is None
    assert parse_value("__import__('os')") == "__import__('os')"


def test_python_dash_m_jitc_runs_the_console_entry(model, tmp_path):
    directory, _ = model
    result = subprocess.run([sys.executable, "-m", "jitc", "inspect", str(directory / "model.jitc")],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "function two_outputs(x, scale=2.0)" in result.stdout
    damaged = tmp_path / "damaged.jitc"
    damaged.write_bytes((directory / "model.jitc").read_bytes()[:300])
    result = subprocess.run([sys.executable, "-m", "jitc", "run", str(damaged)],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.startswith("jitc run: error: ")
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1


class Scaler(jitc.nn.Module):
    def __init__(self):
        self.weights = WEIGHTS

    def forward(self, x):
        return x @ self.weights

    @jitc.export
    def encode(self, x, scale: float = 2.0):
        return np.tanh(x @ self.weights) * scale


def test_a_saved_module_lists_runs_and_prints_each_method(tmp_path, capsys):
    module = Scaler()
    scripted = jitc.script(module)
    x = np.random.default_rng(1).standard_normal((3, 4))
    scripted(x), scripted.encode(x)
    jitc.save(scripted, tmp_path / "scaler.jitc")
    np.save(tmp_path / "x.npy", x)
    status, out, _ = _run(capsys, "inspect", tmp_path / "scaler.jitc")
    assert status == 0 and "module Scaler: methods forward, encode" in out
    assert "method forward(x) -> 1 output(s)" in out and "method encode(x, scale=2.0) -> 1 output(s)" in out
    for options, expected in (([], module(x)), (["--method", "forward"], module(x)),
                              (["--method", "encode", "--arg", "scale=0.5"], module.encode(x, 0.5))):
        status, _, err = _run(capsys, "run", tmp_path / "scaler.jitc", "--input", tmp_path / "x.npy", *options,
                              "--output", tmp_path / "y.npy")
        assert status == 0, err
        assert_same(np.load(tmp_path / "y.npy"), expected)
    status, out, err = _run(capsys, "bench", tmp_path / "scaler.jitc", "--input", tmp_path / "x.npy", "--repeat", "3",
                            "--trust-native-code")
    assert status == 0 and "latency over 3 calls" in out, err
    status, out, _ = _run(capsys, "graph", tmp_path / "scaler.jitc", "--method", "encode")
    assert status == 0 and out == str(jitc.load(tmp_path / "scaler.jitc").encode.graph)
    status, _, err = _run(capsys, "bench", tmp_path / "scaler.jitc", "--input", tmp_path / "x.npy",
                          "--method", "decode")
    assert status == 2 and "module Scaler has no method 'decode'; it has forward, encode" in err
