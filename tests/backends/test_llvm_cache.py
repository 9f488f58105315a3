"""The compilation cache (backends/llvm/cache.py): a second process loads
object code instead of compiling, a damaged entry is rebuilt, and graphs
that differ only in their constants' values share code but not data."""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np

import jitc

ROOT = pathlib.Path(__file__).resolve().parents[2]

PROGRAM = textwrap.dedent('''
    import sys
    import numpy as np
    import jitc

    def layer(x, w, b):
        return np.tanh(x @ w + b)

    rng = np.random.default_rng(0)
    args = (rng.standard_normal((5, 8)), rng.standard_normal((8, 3)), rng.standard_normal(3))
    compiled = jitc.script(layer)
    np.testing.assert_allclose(compiled(*args), layer(*args), rtol=1e-12)
    print(compiled.compile_stats()[0]["code_from"])
''')


def _run(program: pathlib.Path, cache: pathlib.Path) -> str:
    environment = dict(os.environ, JITC_CACHE_DIR=str(cache))
    result = subprocess.run([sys.executable, str(program)], cwd=ROOT, env=environment, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip()


def test_a_second_process_loads_the_object_code(tmp_path):
    program, cache = tmp_path / "program.py", tmp_path / "cache"
    program.write_text(PROGRAM)
    assert _run(program, cache) == "compiled"
    assert len(list(cache.glob("*.jitcobj"))) == 1
    assert _run(program, cache) == "disk"


def test_a_damaged_entry_is_rebuilt(tmp_path):
    program, cache = tmp_path / "program.py", tmp_path / "cache"
    program.write_text(PROGRAM)
    _run(program, cache)
    (entry,) = cache.glob("*.jitcobj")
    data = bytearray(entry.read_bytes())
    data[len(data) // 2] ^= 0xFF
    entry.write_bytes(bytes(data))
    assert _run(program, cache) == "compiled"
    assert _run(program, cache) == "disk"
    entry.write_bytes(b"truncated")
    assert _run(program, cache) == "compiled"


def test_same_code_different_constants():
    rng = np.random.default_rng(1)
    traced = [jitc.trace(lambda x, w=w: x @ w, (rng.standard_normal((2, 3)),))
              for w in (np.ones((3, 4)), np.full((3, 4), 3.0))]
    x = rng.standard_normal((2, 3))
    first, second = (t(x) for t in traced)
    np.testing.assert_allclose(first, x @ np.ones((3, 4)))
    np.testing.assert_allclose(second, x @ np.full((3, 4), 3.0))
    assert traced[1].compile_stats()[0]["code_from"] == "memory"
