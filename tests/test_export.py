"""`jitc export model.jitc --shared libmodel.so`: saved models as C shared
libraries. Each test scripts a function, calls it so that a version is
compiled, saves it, exports it with the CLI in a subprocess, builds a C
program from tests/export_c/ with the system `cc`, runs it on inputs written
as raw files, and compares what it writes with the function run eagerly in
NumPy, and with the loaded model run from Python on the llvm backend (the
same code generator on the same CPU: the same bits). Errors come back as a
nonzero status with the message Python raises."""
from __future__ import annotations

import pathlib
import platform
import shutil
import subprocess
import sys

import numpy as np
import pytest

import jitc
from jitc.cli import main
from support.compare import assert_same
from support.processes import ROOT

sys.path.insert(0, str(ROOT / "examples"))

from gpt2 import GPT2, TOLERANCE as GPT2_TOLERANCE  # noqa: E402
from mlp import example_inputs as mlp_inputs, mlp  # noqa: E402
from rnn import TOLERANCE as RNN_TOLERANCE, example_inputs as rnn_inputs, rnn  # noqa: E402

CC = shutil.which("cc")
pytestmark = pytest.mark.skipif(CC is None, reason="jitc export links libraries with the system C compiler, "
                                                   "and no `cc` is on PATH")
C_SOURCES = ROOT / "tests" / "export_c"
# jitc_tensor.dtype numbers, as the generated header documents them (part of the C API)
DTYPES = dict(enumerate(np.dtype(name) for name in (
    "bool", "int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float16", "float32",
    "float64")))
RNN_NAMES = ("x", "h", "W_h", "U_h", "b_h")

_, *MLP_WEIGHTS = mlp_inputs(batch=4, width=32)
GPT2_MODEL = GPT2()


def mlp_constants(x):
    return mlp(x, *MLP_WEIGHTS)


def gpt2(ids):
    return GPT2_MODEL(ids)


def affine(x, bias_pair, scale: float, shift: int, negate: bool):
    low, high = bias_pair
    y = x * scale + shift + low - high
    if negate:
        y = -y
    return y, float(y.sum()), x.shape[0] * shift, bool(y.max() > 0)


def halves(x, n: int):
    return np.stack(np.split(x, n))  # n decides the shape: compiled for one value of n


class Codec(jitc.nn.Module):
    """A module with two methods marked @jitc.export beside forward."""

    def __init__(self, rng):
        self.weight = rng.standard_normal((3, 4)).astype(np.float32)
        self.bias = rng.standard_normal(4).astype(np.float32)

    def forward(self, x):
        return x @ self.weight

    @jitc.export
    def encode(self, x, scale: float = 2.0):
        return np.tanh(x @ self.weight + self.bias) * scale

    @jitc.export
    def decode(self, code):
        return code @ self.weight.T, np.sqrt(np.sum(code * code, axis=-1))


def stacked(xs):
    return np.stack(xs)


def doubled(x):
    return x * 2.0


def bump(x):
    x += 1.0
    return x.sum()


# -- helpers -------------------------------------------------------------------------------------------
def save(function, folder: pathlib.Path, name: str, *calls) -> pathlib.Path:
    """Script `function`, call it on each argument tuple (each compiles a version), save it."""
    compiled = jitc.script(function)
    for args in calls:
        compiled(*args)
    path = folder / f"{name}.jitc"
    jitc.save(compiled, path)
    return path


def export(model: pathlib.Path, *options: str) -> pathlib.Path:
    """`jitc export` in a fresh process; the library's path (its header is beside it)."""
    library = model.with_name(f"lib{model.stem}.so")
    result = subprocess.run([sys.executable, "-m", "jitc", "export", str(model), "--shared", str(library), *options],
                            cwd=model.parent, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert (model.with_suffix(".h")).exists() and library.exists()
    return library


def build(program: str, folder: pathlib.Path, *libraries: str) -> pathlib.Path:
    """tests/export_c/<program>.c linked with lib<name>.so of each library in `folder`."""
    executable = folder / program
    result = subprocess.run([CC, "-O2", "-std=c11", "-Wall", "-Wextra", "-Werror", f"-I{folder}", f"-I{C_SOURCES}",
                             "-o", str(executable), str(C_SOURCES / f"{program}.c"), f"-L{folder}",
                             *(f"-l{name}" for name in libraries), f"-Wl,-rpath,{folder}"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return executable


def run(executable: pathlib.Path, *args) -> tuple[int, str, str]:
    result = subprocess.run([str(executable), *map(str, args)], capture_output=True, text=True, timeout=120)
    return result.returncode, result.stdout, result.stderr


def write_inputs(folder: pathlib.Path, arrays: dict) -> None:
    for name, array in arrays.items():
        np.ascontiguousarray(array).tofile(folder / f"{name}.bin")


def read_outputs(folder: pathlib.Path, stdout: str) -> dict:
    """The arrays the program wrote ("NAME DTYPE NDIM SIZES..." lines) and
    its scalars ("NAME VALUE" lines, as text)."""
    found = {}
    for line in stdout.splitlines():
        name, *fields = line.split()
        if len(fields) == 1:
            found[name] = fields[0]
            continue
        dtype, ndim, shape = DTYPES[int(fields[0])], int(fields[1]), tuple(map(int, fields[2:]))
        assert len(shape) == ndim
        found[name] = np.fromfile(folder / f"{name}.bin", dtype).reshape(shape)
    return found


def python_error(function, *args) -> str:
    """What calling `function` raises, as the C API words it."""
    with pytest.raises(Exception) as raised:
        function(*args)
    return f"{type(raised.value).__name__}: {raised.value}"


def needed_libraries(path: pathlib.Path) -> list[str]:
    """The shared libraries an ELF file asks the loader for."""
    readelf = shutil.which("readelf")
    if readelf is None:
        pytest.skip("readelf (binutils) is not installed")
    listing = subprocess.run([readelf, "-d", str(path)], capture_output=True, text=True, check=True).stdout
    return [line.split("[")[1].rstrip("]") for line in listing.splitlines() if "(NEEDED)" in line]


# -- tests -----------------------------------------------------------------------------------------------
def test_rnn_runs_from_c_as_in_python_and_reports_shape_errors(tmp_path):
    model = save(rnn, tmp_path, "rnn", rnn_inputs(T=5, B=3, D=4))
    export(model)
    header = (tmp_path / "rnn.h").read_text()
    assert "int rnn(const float *x_data, const int64_t *x_shape," in header
    program = build("rnn_main", tmp_path, "rnn")
    loaded = jitc.load(model)
    for T, B, D in ((9, 4, 6), (2, 7, 16)):  # other sizes than the saved call's: sizes are passed at run time
        args = rnn_inputs(T=T, B=B, D=D, seed=T)
        write_inputs(tmp_path, dict(zip(RNN_NAMES, args)))
        status, out, err = run(program, tmp_path, T, B, D, D)
        assert status == 0, err
        outputs = read_outputs(tmp_path, out)
        result = (outputs["out_0"], outputs["out_1"])
        assert_same(result, rnn(*args), rtol=RNN_TOLERANCE, atol=RNN_TOLERANCE)
        for from_c, from_python in zip(result, loaded(*args)):
            np.testing.assert_array_equal(from_c, from_python)

    bad = list(rnn_inputs(T=3, B=4, D=6))
    bad[1] = np.zeros((4, 7), np.float32)  # h @ U_h: 7 against 6
    write_inputs(tmp_path, dict(zip(RNN_NAMES, bad)))
    status, out, err = run(program, tmp_path, 3, 4, 6, 7)
    assert (status, out) == (3, "")
    assert err.strip() == f"status 1: {python_error(loaded, *bad)}"
    assert "matmul" in err and "rnn.py:" in err  # NumPy's message and the line it comes from

    single_step = rnn_inputs(T=1, B=4, D=6)  # the version was compiled for T other than 1
    write_inputs(tmp_path, dict(zip(RNN_NAMES, single_step)))
    status, _, err = run(program, tmp_path, 1, 4, 6, 6)
    assert status == 3
    assert "argument 'x': this version was compiled for sizes other than 1 at axis 0, got 1" in err


@pytest.mark.parametrize("cpu", [None, "x86-64"] if platform.machine() == "x86_64" else [None])
def test_mlp_weights_live_in_the_library_and_no_python_is_linked(tmp_path, cpu):
    x = mlp_inputs(batch=5, width=32, seed=1)[0]
    model = save(mlp_constants, tmp_path, "mlp", (x,))
    library = export(model, *(["--cpu", cpu] if cpu else []))
    program = build("mlp_main", tmp_path, "mlp")
    for path in (library, program):
        assert not [name for name in needed_libraries(path) if "python" in name.lower()]
    assert "cblas" not in (tmp_path / "mlp.h").read_text()  # BLAS is bound inside, not part of the API
    for batch in (3, 40):
        x = mlp_inputs(batch=batch, width=32, seed=batch)[0]
        write_inputs(tmp_path, {"x": x})
        status, out, err = run(program, tmp_path, batch, 32)
        assert status == 0, err
        result = read_outputs(tmp_path, out)["out"]
        assert_same(result, mlp_constants(x), rtol=1e-5, atol=1e-5)  # float32, summed in another order
        if cpu is None:
            np.testing.assert_array_equal(result, jitc.load(model)(x))

    narrow = np.ones((3, 31), np.float32)
    write_inputs(tmp_path, {"x": narrow})
    status, _, err = run(program, tmp_path, 3, 31)
    assert status == 3
    assert err.strip() == f"status 1: {python_error(jitc.load(model), narrow)}"


def test_gpt2_example_runs_from_c(tmp_path):
    ids = np.random.default_rng(1).integers(0, 256, size=16)
    model = save(gpt2, tmp_path, "gpt2", (ids,))
    export(model)
    program = build("gpt2_main", tmp_path, "gpt2")
    loaded = jitc.load(model)
    for length in (16, 5):
        tokens = np.random.default_rng(length).integers(0, 256, size=length)
        write_inputs(tmp_path, {"ids": tokens})
        status, out, err = run(program, tmp_path, length)
        assert status == 0, err
        logits = read_outputs(tmp_path, out)["out"]
        assert_same(logits, GPT2_MODEL(tokens), rtol=GPT2_TOLERANCE, atol=GPT2_TOLERANCE)
        np.testing.assert_array_equal(logits, loaded(tokens))


def test_scalars_tuples_versions_and_two_libraries_in_one_program(tmp_path):
    rng = np.random.default_rng(2)
    x, low, high = rng.standard_normal((2, 3)), rng.standard_normal(3), rng.standard_normal(3)
    f32 = [a.astype(np.float32) for a in (x, low, high)]
    affine_model = save(affine, tmp_path, "affine", (x, (low, high), 1.0, 1, True),
                        (f32[0], tuple(f32[1:]), 1.0, 1, True))  # versions affine_0 (float64), affine_1 (float32)
    values = np.linspace(-1.0, 1.0, 8)
    halves_model = save(halves, tmp_path, "halves", (values, 2))
    export(affine_model)
    export(halves_model)
    header = (tmp_path / "affine.h").read_text()
    assert "int affine_0(const double *x_data" in header and "int affine_1(const float *x_data" in header
    assert "n: int, must be 2" in (tmp_path / "halves.h").read_text()
    write_inputs(tmp_path, {"x64": x, "low64": low, "high64": high, "x32": f32[0], "low32": f32[1],
                            "high32": f32[2], "values": values})
    program = build("scalars_main", tmp_path, "affine", "halves")

    status, out, err = run(program, tmp_path, 2)
    assert status == 0, err
    found = read_outputs(tmp_path, out)
    for prefix, args in (("64", (x, (low, high), 2.5, 3, True)), ("32", (f32[0], tuple(f32[1:]), -0.5, 2, False))):
        y, total, product, positive = affine(*args)
        assert_same(found[f"y{prefix}"], y)
        np.testing.assert_allclose(float(found[f"f{prefix}_sum"]), total, rtol=1e-12 if prefix == "64" else 1e-6)
        assert int(found[f"f{prefix}_product"]) == product
        assert bool(int(found[f"f{prefix}_positive"])) == positive
    assert_same(found["stacked"], halves(values, 2))

    status, out, err = run(program, tmp_path, 4)
    assert status == 3 and "y64" in out  # the calls before it succeeded
    assert err.strip() == "status 1: ValueError: argument 'n': this version was compiled for n=2, got 4"


def test_each_method_of_a_module_is_a_c_function(tmp_path):
    rng = np.random.default_rng(3)
    module = Codec(rng)
    scripted = jitc.script(module)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    scripted(x), scripted.encode(x), scripted.decode(module.encode(x))
    jitc.save(scripted, tmp_path / "codec.jitc")
    export(tmp_path / "codec.jitc")
    header = (tmp_path / "codec.h").read_text()
    assert "Codec_encode: Codec.encode(x, scale=2.0)" in header and "int Codec_decode(const float *code_data" in header
    program = build("methods_main", tmp_path, "codec")
    loaded = jitc.load(tmp_path / "codec.jitc")
    for batch in (5, 2):
        x = rng.standard_normal((batch, 3)).astype(np.float32)
        code = module.encode(x)
        write_inputs(tmp_path, {"x": x, "code": code})
        status, out, err = run(program, tmp_path, batch, 0.25)
        assert status == 0, err
        found = read_outputs(tmp_path, out)
        for name, eager, python in (("forward", module(x), loaded(x)),
                                    ("encoded", module.encode(x, 0.25), loaded.encode(x, 0.25)),
                                    ("decoded", module.decode(code)[0], loaded.decode(code)[0]),
                                    ("norm", module.decode(code)[1], loaded.decode(code)[1])):
            assert_same(found[name], eager, rtol=1e-5, atol=1e-5)  # float32, summed in another order
            np.testing.assert_array_equal(found[name], python)


def test_arguments_written_in_place_and_null_pointers(tmp_path):
    model = save(bump, tmp_path, "bump", (np.zeros(3),))
    export(model)
    assert "int bump(double *x_data, const int64_t *x_shape," in (tmp_path / "bump.h").read_text()
    program = build("inplace_main", tmp_path, "bump")
    x = np.array([0.5, -2.0, 3.25, 1e10])
    write_inputs(tmp_path, {"x": x})
    status, out, err = run(program, tmp_path)
    assert status == 0, err
    expected = x.copy()
    total = bump(expected)
    lines = out.splitlines()
    np.testing.assert_array_equal(np.array(lines[0].split()[1:], dtype=float), expected)
    assert float(lines[1].split()[1]) == total
    assert lines[2] == "no shape 1 ValueError: argument 'x': its shape pointer is NULL"
    assert lines[3] == "no data 1 ValueError: argument 'x': its data pointer is NULL"
    assert lines[4] == "empty sum 0"


def test_entry_points_the_c_api_cannot_take_are_refused(tmp_path, capsys):
    lists = save(stacked, tmp_path, "stacked", ([np.ones(2), np.zeros(2)],))
    assert main(["export", str(lists), "--shared", str(tmp_path / "libstacked.so")]) == 2
    assert "parameter xs is List[Double(*)]" in capsys.readouterr().err
    never_called = save(doubled, tmp_path, "never")
    assert main(["export", str(never_called), "--shared", str(tmp_path / "libnever.so")]) == 2
    assert "has no compiled version saved: call it on example arguments before jitc.save" in capsys.readouterr().err
    assert not list(tmp_path.glob("*.so")) and not list(tmp_path.glob("*.h"))
