"""jitc.nn: every layer's eager forward against its own NumPy formula,
written here independently of the layer; every layer scripted (on the
llvm backend and the interpreter) against its eager run; the module tree,
state dicts, and scripted modules saved and loaded in a fresh process."""
from __future__ import annotations

import math

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view

import jitc
from jitc import nn
from support.backend_checks import check
from support.compare import assert_same
from support.processes import run_program

BACKENDS = ["llvm", "interpreter"]
DTYPES = [np.float32, np.float64]

def _rng(seed=0):
    return np.random.default_rng(seed)


def _normal(rng, dtype, *shape):
    return rng.standard_normal(shape).astype(dtype)


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


# -- one case per layer: (module, inputs, the layer's formula written independently) -----------------
def linear_case(dtype, rng):
    layer = nn.Linear(5, 3, dtype=dtype, rng=rng)
    x = _normal(rng, dtype, 4, 5)
    return layer, (x,), lambda x: np.einsum("bi,oi->bo", x, layer.weight) + layer.bias


def linear_without_bias_case(dtype, rng):
    layer = nn.Linear(5, 3, bias=False, dtype=dtype, rng=rng)
    x = _normal(rng, dtype, 2, 7, 5)
    return layer, (x,), lambda x: np.einsum("abi,oi->abo", x, layer.weight)


def _conv_reference(layer):
    (pad_h, pad_w), (stride_h, stride_w) = layer.padding, layer.stride

    def reference(x):
        padded = np.pad(x, ((0, 0), (0, 0), (pad_h, pad_h), (pad_w, pad_w)))
        windows = sliding_window_view(padded, layer.weight.shape[2:], axis=(2, 3))[:, :, ::stride_h, ::stride_w]
        y = np.einsum("nchwij,ocij->nohw", windows, layer.weight)
        return y if layer.bias is None else y + layer.bias[:, None, None]
    return reference


def conv2d_case(dtype, rng):
    layer = nn.Conv2d(3, 4, 3, dtype=dtype, rng=rng)
    return layer, (_normal(rng, dtype, 2, 3, 7, 6),), _conv_reference(layer)


def conv2d_strided_padded_case(dtype, rng):
    layer = nn.Conv2d(2, 5, (3, 2), stride=(2, 1), padding=(1, 2), dtype=dtype, rng=rng)
    return layer, (_normal(rng, dtype, 3, 2, 8, 5),), _conv_reference(layer)


def layer_norm_case(dtype, rng):
    layer = nn.LayerNorm(6, eps=1e-3, dtype=dtype)
    layer.weight = _normal(rng, dtype, 6)  # not ones and zeros, so that both are checked
    layer.bias = _normal(rng, dtype, 6)
    x = _normal(rng, dtype, 3, 4, 6) * 3 + 1

    def reference(x):
        return (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-3) * layer.weight + layer.bias
    return layer, (x,), reference


def embedding_case(dtype, rng):
    layer = nn.Embedding(10, 4, dtype=dtype, rng=rng)
    ids = rng.integers(0, 10, (3, 5))
    return layer, (ids,), lambda ids: np.take(layer.weight, ids, axis=0)


def relu_case(dtype, rng):
    return nn.ReLU(), (_normal(rng, dtype, 4, 5),), lambda x: np.where(x > 0, x, np.zeros_like(x))


def tanh_case(dtype, rng):
    return nn.Tanh(), (_normal(rng, dtype, 4, 5),), lambda x: np.sinh(x) / np.cosh(x)


def gelu_case(dtype, rng):
    # 0.5 (1 + tanh(z)) is sigmoid(2 z): the same function, by another formula.
    def reference(x):
        return x * _sigmoid(2 * math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))
    return nn.GELU(), (_normal(rng, dtype, 4, 5) * 3,), reference


def rnn_cell_case(dtype, rng):
    layer = nn.RNNCell(3, 4, dtype=dtype, rng=rng)
    x, h = _normal(rng, dtype, 2, 3), _normal(rng, dtype, 2, 4)

    def reference(x, h):
        return np.tanh(np.einsum("bi,hi->bh", x, layer.weight_ih) + layer.bias_ih
                       + np.einsum("bj,hj->bh", h, layer.weight_hh) + layer.bias_hh)
    return layer, (x, h), reference


def rnn_cell_relu_case(dtype, rng):
    layer = nn.RNNCell(3, 4, bias=False, nonlinearity="relu", dtype=dtype, rng=rng)
    x, h = _normal(rng, dtype, 2, 3), _normal(rng, dtype, 2, 4)

    def reference(x, h):
        return np.clip(x @ layer.weight_ih.T + h @ layer.weight_hh.T, 0, None)
    return layer, (x, h), reference


def lstm_cell_case(dtype, rng):
    layer = nn.LSTMCell(3, 4, dtype=dtype, rng=rng)
    x, h, c = _normal(rng, dtype, 2, 3), _normal(rng, dtype, 2, 4), _normal(rng, dtype, 2, 4)

    def reference(x, state):
        h, c = state
        gates = x @ layer.weight_ih.T + layer.bias_ih + h @ layer.weight_hh.T + layer.bias_hh
        i, f, g, o = np.split(gates, 4, axis=1)
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        return _sigmoid(o) * np.tanh(c), c
    return layer, (x, (h, c)), reference


CASES = [linear_case, linear_without_bias_case, conv2d_case, conv2d_strided_padded_case, layer_norm_case,
         embedding_case, relu_case, tanh_case, gelu_case, rnn_cell_case, rnn_cell_relu_case, lstm_cell_case]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
def test_eager_forward_matches_the_formula(case, dtype):
    layer, args, reference = case(dtype, _rng())
    with np.errstate(over="ignore"):
        expected = reference(*args)
    assert_same(layer(*args), expected, rtol=1e-5 if dtype == np.float32 else 1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.__name__)
def test_scripted_layer_matches_eager(case, dtype, backend):
    layer, args, _ = case(dtype, _rng())
    check(jitc.script(layer, backend=backend), layer, args)


def test_gelu_is_close_to_the_exact_gelu():
    x = np.linspace(-6, 6, 101)
    exact = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in x])
    np.testing.assert_allclose(nn.GELU()(x), exact, atol=1e-3)


def test_state_defaults_to_zeros():
    rng = _rng(1)
    x = _normal(rng, np.float32, 2, 3)
    rnn, lstm = nn.RNNCell(3, 4, rng=rng), nn.LSTMCell(3, 4, rng=rng)
    zeros = np.zeros((2, 4), np.float32)
    assert_same(rnn(x), rnn(x, zeros))
    assert_same(lstm(x), lstm(x, (zeros, zeros)))


# -- initialisation ----------------------------------------------------------------------------------
def test_initialisation_is_reproducible_from_the_rng():
    first, second = nn.Conv2d(2, 3, 3, rng=_rng(5)), nn.Conv2d(2, 3, 3, rng=_rng(5))
    assert_same(first.weight, second.weight)
    assert not np.array_equal(first.weight, nn.Conv2d(2, 3, 3, rng=_rng(6)).weight)
    assert np.abs(first.weight).max() <= 1 / math.sqrt(2 * 3 * 3)
    assert nn.Linear(4, 2, dtype=np.float64, rng=1).weight.dtype == np.float64


def test_bad_nonlinearity_is_refused():
    with pytest.raises(ValueError, match="nonlinearity must be 'tanh' or 'relu'"):
        nn.RNNCell(2, 2, nonlinearity="sigmoid")


# -- the module tree --------------------------------------------------------------------------------
class Blocks(nn.Module):
    """Parameters in a submodule, a ModuleList, and a list of tuples."""

    def __init__(self, rng):
        self.scale = 0.5
        self.embed = nn.Linear(3, 4, rng=rng)
        self.layers = nn.ModuleList([nn.Linear(4, 4, rng=rng), nn.Tanh(), nn.Linear(4, 4, bias=False, rng=rng)])
        self.pairs = [(_normal(rng, np.float32, 4), _normal(rng, np.float32, 4)) for _ in range(2)]

    def forward(self, x):
        x = self.embed(x)
        for layer in self.layers:
            x = layer(x)
        for gain, shift in self.pairs:
            x = x * gain + shift
        return x * self.scale


def test_named_parameters_follow_the_module_tree():
    model = Blocks(_rng())
    assert list(dict(model.named_parameters())) == [
        "embed.weight", "embed.bias", "layers.0.weight", "layers.0.bias", "layers.2.weight",
        "pairs.0.0", "pairs.0.1", "pairs.1.0", "pairs.1.1"]
    assert model.state_dict()["layers.2.weight"] is model.layers[2].weight
    assert [name for name, _ in model.named_modules()] == ["", "embed", "layers", "layers.0", "layers.1",
                                                           "layers.2"]
    assert len(list(model.parameters())) == 9


def test_a_shared_module_is_listed_once():
    layer = nn.Linear(2, 2, rng=_rng())
    model = nn.Sequential(layer, nn.ReLU(), layer)
    assert list(dict(model.named_parameters())) == ["0.weight", "0.bias"]
    assert len(list(model.modules())) == 3


def test_module_list_indexes_iterates_and_slices():
    layers = [nn.Linear(2, 2, rng=_rng(i)) for i in range(3)]
    listed = nn.ModuleList(iter(layers))
    assert len(listed) == 3 and list(listed) == layers and listed[-1] is layers[2]
    assert isinstance(listed[1:], nn.ModuleList) and list(listed[1:]) == layers[1:]
    assert listed != nn.ModuleList(layers), "module lists compare by identity, as modules do"
    assert [name for name, _ in listed.named_children()] == ["0", "1", "2"]
    with pytest.raises(TypeError, match="holds modules, got ndarray"):
        nn.ModuleList([layers[0], np.zeros(2)])


def test_sequential_applies_its_modules_in_order():
    rng = _rng(2)
    first, second = nn.Linear(3, 5, rng=rng), nn.Linear(5, 2, rng=rng)
    model = nn.Sequential(first, nn.ReLU(), second)
    x = _normal(rng, np.float32, 4, 3)
    assert_same(model(x), second(np.maximum(first(x), 0)))
    assert isinstance(model[:2], nn.Sequential) and model[2] is second


def test_eager_tree_model_matches_its_formula():
    model = Blocks(_rng())
    x = _normal(_rng(1), np.float32, 2, 3)
    h = np.tanh(model.layers[0](model.embed(x))) @ model.layers[2].weight.T
    for gain, shift in model.pairs:
        h = h * gain + shift
    assert_same(model(x), h * 0.5)


def test_state_dict_round_trip():
    source, target = Blocks(_rng(0)), Blocks(_rng(1))
    x = _normal(_rng(2), np.float32, 2, 3)
    assert not np.allclose(source(x), target(x))
    state = {name: array.astype(np.float64) for name, array in source.state_dict().items()}
    old = target.pairs[0][0]
    target.load_state_dict(state)
    assert_same(target(x), source(x))
    assert target.pairs[0][0].dtype == np.float32 and target.pairs[0][0] is not state["pairs.0.0"]
    assert not np.array_equal(old, target.pairs[0][0]), "the old arrays are left as they were"
    for name, array in target.state_dict().items():
        assert_same(array, source.state_dict()[name])


def test_load_state_dict_names_what_does_not_fit():
    model = Blocks(_rng())
    state = model.state_dict()
    with pytest.raises(KeyError, match=r"missing \['embed.bias'\], unexpected \['extra'\]"):
        model.load_state_dict({**{k: v for k, v in state.items() if k != "embed.bias"}, "extra": state["embed.bias"]})
    with pytest.raises(ValueError, match=r"'embed.weight' has shape \(3, 4\), the module's has \(4, 3\)"):
        model.load_state_dict({**state, "embed.weight": state["embed.weight"].T})
    model.load_state_dict({"embed.bias": np.ones(4)}, strict=False)
    assert_same(model.embed.bias, np.ones(4, np.float32))


def test_repr_shows_the_tree():
    text = repr(nn.Sequential(nn.Linear(2, 3), nn.ReLU()))
    assert text == ("Sequential(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n  (1): ReLU()\n)")


def test_forward_is_required():
    with pytest.raises(NotImplementedError, match="Module does not define forward"):
        nn.Module()(1)


# -- scripting modules --------------------------------------------------------------------------------
def _affine(x, gain, shift):
    return x * gain + shift


class Flat(nn.Module):
    """No submodules: an array, a list of weight tuples, an int and a
    float attribute, a method and a plain function."""

    def __init__(self, rng):
        self.repeats = 2
        self.scale = 0.5
        self.weight = _normal(rng, np.float32, 3, 4)
        self.pairs = [(_normal(rng, np.float32, 4), _normal(rng, np.float32, 4)) for _ in range(2)]

    def squash(self, x):
        return np.tanh(x) * self.scale

    def forward(self, x):
        x = x @ self.weight
        for gain, shift in self.pairs:
            x = _affine(x, gain, shift)
        for _ in range(self.repeats):
            x = self.squash(x)
        return x


@pytest.mark.parametrize("backend", BACKENDS)
def test_scripted_flat_model_matches_eager(backend):
    model = Flat(_rng())
    compiled = jitc.script(model, backend=backend)
    for batch in (1, 3):
        check(compiled, model, (_normal(_rng(batch), np.float32, batch, 3),))


@pytest.mark.parametrize("backend", BACKENDS)
def test_scripted_tree_model_matches_eager(backend):
    model = Blocks(_rng())
    compiled = jitc.script(model, backend=backend)
    for batch in (1, 3):
        check(compiled, model, (_normal(_rng(batch), np.float32, batch, 3),))


class PlainListOfLayers(nn.Module):
    """Submodules in a plain Python list, as much NumPy model code holds them."""

    def __init__(self, rng):
        super().__init__()
        self.layers = [nn.Linear(3, 4, rng=rng), nn.Linear(4, 2, rng=rng)]

    def forward(self, x):
        for layer in self.layers:
            x = np.tanh(layer(x))
        return x * len(self.layers)


@pytest.mark.parametrize("backend", BACKENDS)
def test_scripted_plain_list_of_layers_is_unrolled(backend):
    model = PlainListOfLayers(_rng(5))
    compiled = jitc.script(model, backend=backend)
    for batch in (1, 3):
        check(compiled, model, (_normal(_rng(batch), np.float32, batch, 3),))
    assert not any(node.kind == "prim::Loop" for node in compiled.graph.walk())


@pytest.mark.parametrize("backend", BACKENDS)
def test_scripted_sequential_matches_eager(backend):
    rng = _rng(3)
    model = nn.Sequential(nn.Linear(3, 5, rng=rng), nn.GELU(), nn.Linear(5, 2, rng=rng))
    check(jitc.script(model, backend=backend), model, (_normal(rng, np.float32, 4, 3),))


def test_graph_names_parameters_by_their_paths():
    model = Flat(_rng())
    compiled = jitc.script(model)
    compiled(_normal(_rng(1), np.float32, 2, 3))
    assert set(compiled.graph.tensors) == set(model.state_dict())
    text = str(compiled.graph)
    assert "prim::Constant[value=@pairs.1.0]()" in text and "@weight" in text
    for name, array in model.state_dict().items():
        assert compiled.graph.tensors[name] is array
    assert compiled.__name__ == "Flat" and repr(compiled) == "<ScriptModule Flat (llvm)>"


def test_traced_module_names_parameters_by_their_paths():
    model = nn.LayerNorm(4)
    x = _normal(_rng(), np.float32, 3, 4)
    traced = jitc.trace(model, x)
    assert set(traced.graph.tensors) == {"weight", "bias"}
    assert_same(traced(x), model(x))


def test_scripted_module_keeps_the_values_it_was_compiled_with():
    model = nn.Linear(3, 2, rng=_rng())
    x = _normal(_rng(1), np.float32, 4, 3)
    compiled = jitc.script(model)
    before = compiled(x)
    model.load_state_dict({name: array + 1 for name, array in model.state_dict().items()})
    assert_same(compiled(x), before)
    assert_same(jitc.script(model)(x), model(x))


def test_disabled_script_returns_the_module(monkeypatch):
    monkeypatch.setenv("JITC_DISABLE", "1")
    model = nn.ReLU()
    assert jitc.script(model) is model


def test_saved_module_loads_and_runs_in_a_fresh_process(tmp_path):
    model = Flat(_rng())
    x = _normal(_rng(1), np.float32, 5, 3)
    compiled = jitc.script(model, backend="interpreter")
    compiled(x)
    jitc.save(compiled, tmp_path / "flat.jitc")
    np.save(tmp_path / "x.npy", x)
    program = f"""
import sys
import numpy as np
import jitc
assert "test_nn" not in sys.modules
model = jitc.load({str(tmp_path / 'flat.jitc')!r})
print(model.__name__, sorted(model.graph.tensors))
np.save({str(tmp_path / 'y.npy')!r}, model(np.load({str(tmp_path / 'x.npy')!r})))
"""
    assert run_program(program, tmp_path) == "Flat ['pairs.0.0', 'pairs.0.1', 'pairs.1.0', 'pairs.1.1', 'weight']"
    assert_same(np.load(tmp_path / "y.npy"), model(x))


# -- methods marked @jitc.export -----------------------------------------------------------------------
class Codec(nn.Module):
    """forward and two exported methods: one with a default, one with two
    results; `norm` is a plain helper that stays uncompiled."""

    def __init__(self, rng):
        self.weight = _normal(rng, np.float32, 3, 4)
        self.bias = _normal(rng, np.float32, 4)

    def forward(self, x):
        code, _ = self.decode(self.encode(x))
        return code

    @jitc.export
    def encode(self, x, scale: float = 2.0):
        return np.tanh(x @ self.weight + self.bias) * scale

    @jitc.export
    def decode(self, code):
        return code @ self.weight.T, self.norm(code)

    def norm(self, code):
        return np.sqrt(np.sum(code * code, axis=-1))


@pytest.mark.parametrize("backend", BACKENDS)
def test_exported_methods_compile_beside_forward(backend):
    model = Codec(_rng())
    compiled = jitc.script(model, backend=backend)
    assert list(compiled.methods) == ["forward", "encode", "decode"] and compiled.forward is compiled
    x = _normal(_rng(1), np.float32, 5, 3)
    check(compiled, model, (x,))
    check(compiled.encode, model.encode, (x, 0.5))
    assert_same(compiled.encode(x), check(compiled.encode, model.encode, (x, 2.0)))
    check(compiled.decode, model.decode, (model.encode(x),))
    assert set(compiled.encode.graph.tensors) == {"weight", "bias"}
    with pytest.raises(AttributeError, match="only methods marked @jitc.export are compiled"):
        compiled.norm


def test_an_exported_method_named_like_a_scripted_module_attribute_is_refused():
    class Clash(nn.Module):
        def forward(self, x):
            return x

        @jitc.export
        def graph(self, x):  # a property of scripted modules
            return x

    class InstanceClash(nn.Module):
        def forward(self, x):
            return x

        @jitc.export
        def backend(self, x):  # an attribute each scripted module sets
            return x

    with pytest.raises(ValueError, match=r"Clash.graph is marked @jitc.export, .*rename the method"):
        jitc.script(Clash())
    with pytest.raises(ValueError, match=r"InstanceClash.backend is marked @jitc.export"):
        jitc.script(InstanceClash())


def test_saved_module_keeps_every_method_with_its_signature(tmp_path):
    model = Codec(_rng())
    compiled = jitc.script(model)
    x = _normal(_rng(2), np.float32, 4, 3)
    compiled(x), compiled.encode(x), compiled.decode(model.encode(x))
    jitc.save(compiled, tmp_path / "codec.jitc")
    for trust in (False, True):
        loaded = jitc.load(tmp_path / "codec.jitc", trust_native_code=trust)
        assert list(loaded.methods) == ["forward", "encode", "decode"]
        assert [str(loaded.methods[name].signature) for name in loaded.methods] == [
            "(x)", "(x, scale=2.0)", "(code)"]
        assert loaded.__name__ == "Codec" and loaded.decode.__name__ == "Codec.decode"
        for batch in (4, 1):
            x = _normal(_rng(batch), np.float32, batch, 3)
            assert_same(loaded(x), model(x), rtol=1e-6, atol=1e-6)
            assert_same(loaded.forward(x), model(x), rtol=1e-6, atol=1e-6)
            assert_same(loaded.encode(x), model.encode(x), rtol=1e-6, atol=1e-6)
            assert_same(loaded.encode(x, scale=-1.0), model.encode(x, -1.0), rtol=1e-6, atol=1e-6)
            assert_same(loaded.decode(model.encode(x)), model.decode(model.encode(x)), rtol=1e-6, atol=1e-6)
        with pytest.raises(TypeError, match=r"Codec.encode\(\): .*argument"):
            loaded.encode(x, 1.0, 2.0)
        with pytest.raises(AttributeError, match="has no method 'norm'"):
            loaded.norm
    # A trusted file's optimised graphs run as saved; an untrusted file's are rebuilt by the passes.
    x = _normal(_rng(3), np.float32, 6, 3)  # sizes other than 1: the saved version's types
    assert loaded.encode.graph_for(x) is next(iter(loaded.encode.saved_specializations.values()))
    jitc.save(loaded, tmp_path / "again.jitc")
    again = jitc.load(tmp_path / "again.jitc", backend="interpreter")
    assert_same(again.decode(model.encode(x)), model.decode(model.encode(x)), rtol=1e-6, atol=1e-6)
