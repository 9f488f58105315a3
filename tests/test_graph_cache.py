"""The disk cache of optimised graphs (jitc/graph_cache.py): a scripted
function compiled again with the same source, values and signature takes
its graph from the cache (in this process or another); any change to what
scripting reads (a called function's source, a global, a module's
parameter) compiles again; a damaged entry is rebuilt; a function that
reads what cannot be fingerprinted is never cached."""
from __future__ import annotations

import importlib.util
import pathlib
import sys

import numpy as np
import pytest

import jitc
from jitc import graph_cache
from support.processes import run_cached_layer

MODEL = '''
import math

import numpy as np
import jitc

SCALE = {scale}

def helper(x):
    return np.tanh(x) * {factor}

def function(x, w):
    return helper(x @ w) + SCALE

def with_scalar_constant(x, t: float):
    return x * math.atan2(t, 2.0)

def through_module(x, w):
    return x @ w * settings.SCALE

class Layer(jitc.nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = np.full((3, 3), {weight})

    def forward(self, x):
        return helper(x @ self.weight)
'''


@pytest.fixture
def cache_folder(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("JITC_CACHE_DIR", str(folder))
    return folder


def load_model(folder: pathlib.Path, name: str = "cached_model", scale=1.0, factor=2.0, weight=0.5):
    """The MODEL module, written to folder/name.py and imported (jitc.script reads its source)."""
    path = folder / f"{name}.py"
    path.write_text(MODEL.format(scale=scale, factor=factor, weight=weight))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def run(compiled, module, *args):
    """Call `compiled`, check it against eager NumPy, and say where its graph came from."""
    result = compiled(*args)
    expected = module(*args) if not hasattr(module, "forward") else module.forward(*args)
    assert result.dtype == expected.dtype and result.shape == expected.shape
    tolerance = 1e-6 if expected.dtype == np.float32 else 1e-12  # tanh's documented bounds are a few ulp
    np.testing.assert_allclose(result, expected, rtol=tolerance, atol=tolerance)
    return compiled.compile_stats()[-1]["graph_from"]


ARGS = (np.linspace(-1, 1, 6).reshape(2, 3), np.linspace(0, 1, 9).reshape(3, 3))


def test_same_source_and_values_load_the_graph(cache_folder, tmp_path):
    model = load_model(tmp_path)
    assert run(jitc.script(model.function), model.function, *ARGS) == "built"
    assert len(list(cache_folder.glob("*.jitcgraph"))) == 1
    again = jitc.script(model.function)
    assert run(again, model.function, *ARGS) == "disk"
    assert "tanh" in again.code and again.graph.params[0].type.dtype.value == "float64"
    # another signature is another entry
    assert run(jitc.script(model.function), model.function, *(a.astype(np.float32) for a in ARGS)) == "built"


@pytest.mark.parametrize("backend", ["llvm", "interpreter"])
def test_zero_dimensional_constants_come_back_zero_dimensional(cache_folder, tmp_path, backend):
    model = load_model(tmp_path)  # atan2(t, 2.0) holds the 0-d array 2.0 as a tensor constant
    args = (ARGS[0], 0.5)
    assert run(jitc.script(model.with_scalar_constant, backend=backend), model.with_scalar_constant, *args) == "built"
    assert run(jitc.script(model.with_scalar_constant, backend=backend), model.with_scalar_constant, *args) == "disk"


def test_a_change_to_what_scripting_reads_compiles_again(cache_folder, tmp_path):
    model = load_model(tmp_path)
    assert run(jitc.script(model.function), model.function, *ARGS) == "built"
    model.SCALE = 2.0  # a global the function reads
    assert run(jitc.script(model.function), model.function, *ARGS) == "built"
    assert run(jitc.script(model.function), model.function, *ARGS) == "disk"
    edited = load_model(tmp_path, scale=2.0, factor=3.0)  # the called function's source
    assert run(jitc.script(edited.function), edited.function, *ARGS) == "built"
    assert run(jitc.script(edited.function), edited.function, *ARGS) == "disk"


def test_a_parameter_value_change_compiles_again(cache_folder, tmp_path):
    model = load_model(tmp_path)
    layer = model.Layer()
    x = ARGS[0]
    assert run(jitc.script(layer), layer, x) == "built"
    assert run(jitc.script(layer), layer, x) == "disk"
    layer.weight[0, 0] = 7.0
    assert run(jitc.script(layer), layer, x) == "built"
    assert run(jitc.script(model.Layer()), model.Layer(), x) == "disk"  # the first weights again


def test_a_damaged_entry_is_rebuilt(cache_folder, tmp_path):
    model = load_model(tmp_path)
    assert run(jitc.script(model.function), model.function, *ARGS) == "built"
    (entry,) = cache_folder.glob("*.jitcgraph")
    data = bytearray(entry.read_bytes())
    data[len(data) // 2] ^= 0x01
    entry.write_bytes(bytes(data))
    assert run(jitc.script(model.function), model.function, *ARGS) == "built"
    assert run(jitc.script(model.function), model.function, *ARGS) == "disk"
    entry.write_bytes(graph_cache.MAGIC + b"short")
    assert run(jitc.script(model.function), model.function, *ARGS) == "built"


def test_globals_read_through_another_module_are_not_cached(cache_folder, tmp_path):
    model = load_model(tmp_path)
    model.settings = load_model(tmp_path, name="settings_module")  # a user module: not fingerprinted
    assert graph_cache.key(model.through_module, ()) is None
    assert run(jitc.script(model.through_module), model.through_module, *ARGS) == "built"
    model.settings.SCALE = 5.0
    assert run(jitc.script(model.through_module), model.through_module, *ARGS) == "built"  # sees the new value
    assert not list(cache_folder.glob("*.jitcgraph"))


def test_objects_with_state_outside_their_dict_are_not_fingerprinted(tmp_path):
    import functools

    class Slotted:
        __slots__ = ("value",)

    def scale(x, factor):
        return x * factor

    model = load_model(tmp_path)
    for value in (functools.partial(scale, factor=2.0), Slotted(), np.random.default_rng(0), [].append):
        model.SCALE = value
        assert graph_cache.key(model.function, ()) is None, value
    model.SCALE = (1.0, "text", np.float32(2), np.dtype("int8"), np.arange(3), {"a": [None, slice(1, 2)]})
    assert graph_cache.key(model.function, ()) is not None


def test_a_second_process_skips_scripting_and_passes(tmp_path):
    assert run_cached_layer(tmp_path) == ("built", "compiled")
    assert run_cached_layer(tmp_path) == ("disk", "disk")
