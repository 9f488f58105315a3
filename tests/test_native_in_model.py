"""Object code saved in a model file: listed always, used only when the
loader is told it may trust the file, and checked like every other entry."""
from __future__ import annotations

import textwrap
import zipfile

import numpy as np
import pytest

import jitc
from support.processes import run_program

SAVER = textwrap.dedent('''
    import sys
    import numpy as np
    import jitc

    def layer(x, w, b):
        return np.tanh(x @ w + b)

    rng = np.random.default_rng(0)
    args = (rng.standard_normal((5, 8)), rng.standard_normal((8, 3)), rng.standard_normal(3))
    compiled = jitc.script(layer)
    compiled(*args)
    jitc.save(compiled, sys.argv[1])
    np.savez(sys.argv[2], *args, expected=layer(*args))
''')

LOADER = textwrap.dedent('''
    import sys
    import numpy as np
    import jitc
    from jitc.backends.llvm import engine

    compiled_modules = []  # what LLVM compiles here (the runtime library's functions go through engine)
    compile_module = engine.compile_module
    engine.compile_module = lambda *args, **kwargs: compiled_modules.append(1) or compile_module(*args, **kwargs)
    stored = np.load(sys.argv[2])
    args = [stored[f"arr_{i}"] for i in range(3)]
    model = jitc.load(sys.argv[1], trust_native_code=sys.argv[3] == "trust")
    np.testing.assert_allclose(model(*args), stored["expected"], rtol=1e-12)
    print(model.compile_stats()[0]["code_from"], "library compiled" if compiled_modules else "library loaded")
''')


def _python(tmp_path, source: str, *args: str) -> str:
    name = "saver.py" if source is SAVER else "loader.py"
    return run_program(source, tmp_path, *args, name=name, JITC_DISABLE_CACHE="1")  # only the file may supply code


@pytest.fixture
def saved(tmp_path):
    model, data = tmp_path / "layer.jitc", tmp_path / "data.npz"
    _python(tmp_path, SAVER, str(model), str(data))
    return model, data


def test_native_code_runs_only_when_trusted(saved, tmp_path):
    model, data = saved
    with zipfile.ZipFile(model) as archive:
        assert any(name.startswith("native/") for name in archive.namelist())
    assert _python(tmp_path, LOADER, str(model), str(data), "distrust") == "compiled library compiled"
    # the file also holds the runtime library's matmul that its code calls: a trusting process compiles nothing
    assert _python(tmp_path, LOADER, str(model), str(data), "trust") == "file library loaded"


def test_damaged_native_code_is_a_load_error(saved, tmp_path):
    model, _ = saved
    damaged = tmp_path / "damaged.jitc"
    with zipfile.ZipFile(model) as source, zipfile.ZipFile(damaged, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename.startswith("native/"):
                data = data[:100] + bytes([data[100] ^ 0xFF]) + data[101:]
            target.writestr(info, data)
    for trust in (False, True):
        with pytest.raises(jitc.LoadError, match="native"):
            jitc.load(damaged, trust_native_code=trust)


def test_inspect_lists_the_native_targets(saved, capsys):
    from jitc.cli import main
    model, _ = saved
    assert main(["inspect", str(model)]) == 0
    assert "native code: " in capsys.readouterr().out
    loaded = jitc.load(model)
    x = np.ones((2, 8))
    assert loaded(x, np.ones((8, 3)), np.zeros(3)).shape == (2, 3)
