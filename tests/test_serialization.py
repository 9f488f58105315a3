"""jitc.save / jitc.load: round trips, loading in a process that never
sees the source, and damaged files that must end in LoadError."""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import jitc
from support.compare import assert_same


def mlp(x, w1, b1, w2, b2):
    return np.tanh(x @ w1 + b1) @ w2 + b2


def _mlp_inputs(rng, batch=4):
    shapes = [(batch, 6), (6, 8), (8,), (8, 2), (2,)]
    return tuple(rng.standard_normal(s).astype(np.float32) for s in shapes)


def _affine_with_weights(rng):
    """A traced function whose weights are tensor constants in the graph."""
    w, b = rng.standard_normal((6, 3)), rng.standard_normal(3)

    def affine(x):
        return np.maximum(x @ w + b, 0.0)
    return affine, jitc.trace(affine, rng.standard_normal((2, 6)), backend="interpreter")


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory):
    rng = np.random.default_rng(0)
    affine, traced = _affine_with_weights(rng)
    path = tmp_path_factory.mktemp("model") / "affine.jitc"
    jitc.save(traced, path)
    return path, affine


def test_round_trip_keeps_graph_and_results(tmp_path):
    rng = np.random.default_rng(1)
    traced = jitc.trace(mlp, _mlp_inputs(rng), backend="interpreter")
    jitc.save(traced, tmp_path / "mlp.jitc")
    loaded = jitc.load(tmp_path / "mlp.jitc", backend="interpreter")
    assert str(loaded.graph) == str(traced.graph)
    assert list(loaded.signature.parameters) == ["x", "w1", "b1", "w2", "b2"]
    for batch in (1, 5):
        args = _mlp_inputs(rng, batch)
        assert_same(loaded(*args), mlp(*args))


def test_tensor_constants_survive(saved_model):
    path, affine = saved_model
    loaded = jitc.load(path)
    x = np.random.default_rng(2).standard_normal((7, 6))
    assert_same(loaded(x), affine(x))
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    assert not any(name.endswith((".pkl", ".pickle", ".py")) for name in names)


def test_fresh_process_without_the_source_loads_and_runs(saved_model, tmp_path):
    path, affine = saved_model
    x = np.random.default_rng(3).standard_normal((5, 6))
    np.save(tmp_path / "x.npy", x)
    script = textwrap.dedent(f"""
        import sys
        import numpy as np
        try:
            import test_serialization
        except ImportError:
            pass
        else:
            raise SystemExit("the defining module must not be importable here")
        import jitc
        model = jitc.load({str(path)!r})
        np.save({str(tmp_path / 'y.npy')!r}, model(np.load({str(tmp_path / 'x.npy')!r})))
    """)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, check=True, timeout=120)
    assert_same(np.load(tmp_path / "y.npy"), affine(x))


def test_newer_format_version_is_refused(saved_model, tmp_path):
    path, _ = saved_model
    copy = tmp_path / "newer.jitc"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(copy, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "manifest.json":
                manifest = json.loads(data)
                manifest["format_version"] = 99
                data = json.dumps(manifest).encode()
            target.writestr(item, data)
    with pytest.raises(jitc.LoadError, match="format version 99, newer than"):
        jitc.load(copy)


def test_changed_tensor_bytes_fail_the_checksum(saved_model, tmp_path):
    path, _ = saved_model
    copy = tmp_path / "tampered.jitc"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(copy, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename.startswith("tensors/"):
                data = bytes([data[0] ^ 1]) + data[1:]
            target.writestr(item, data)
    with pytest.raises(jitc.LoadError, match="checksum"):
        jitc.load(copy)


def test_not_a_zip_file(tmp_path):
    (tmp_path / "junk.jitc").write_bytes(b"\x80\x04 this is not a model")
    with pytest.raises(jitc.LoadError, match="cannot open"):
        jitc.load(tmp_path / "junk.jitc")


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_mutated_files_end_in_load_error_or_load_cleanly(saved_model, tmp_path_factory, data):
    """Flip, insert, delete bytes or truncate: loading either succeeds (the
    change hit bytes nothing reads) or raises LoadError; nothing else."""
    path, _ = saved_model
    original = bytearray(path.read_bytes())
    mutated = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        if not mutated:
            break
        action = data.draw(st.sampled_from(["flip", "truncate", "insert", "delete"]))
        position = data.draw(st.integers(0, max(len(mutated) - 1, 0)))
        if action == "flip":
            mutated[position] ^= data.draw(st.integers(1, 255))
        elif action == "truncate":
            del mutated[position:]
        elif action == "insert":
            mutated[position:position] = data.draw(st.binary(min_size=1, max_size=8))
        else:
            del mutated[position]
    target = tmp_path_factory.mktemp("fuzz") / "mutated.jitc"
    target.write_bytes(bytes(mutated))
    try:
        jitc.load(target, backend="interpreter")
    except jitc.LoadError:
        pass


def test_saving_refuses_defaults_it_cannot_store(tmp_path):
    rng = np.random.default_rng(4)
    traced = jitc.trace(mlp, _mlp_inputs(rng), backend="interpreter")
    traced.signature = traced.signature.replace(parameters=[
        p.replace(default=object()) if p.name == "b2" else p for p in traced.signature.parameters.values()])
    with pytest.raises(TypeError, match="default value of parameter 'b2'"):
        jitc.save(traced, pathlib.Path(tmp_path) / "bad.jitc")
