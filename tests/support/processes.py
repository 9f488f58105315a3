"""Running a program in a fresh Python process, as the tests about caches,
threads and model files need (jitc.script reads source, so the program is a file)."""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def run_program(source: str, folder: pathlib.Path, *args: str, name: str = "program.py", **environment) -> str:
    """Write `source` to folder/name, run it with `args` and extra environment
    variables (from the repository root), assert it succeeded, return its stripped output."""
    program = folder / name
    program.write_text(source)
    result = subprocess.run([sys.executable, str(program), *args], cwd=ROOT, env=dict(os.environ, **environment),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip()


CACHED_LAYER = """
import numpy as np
import jitc

def layer(x, w, b):
    return np.tanh(x @ w + b)

rng = np.random.default_rng(0)
args = (rng.standard_normal((5, 8)), rng.standard_normal((8, 3)), rng.standard_normal(3))
compiled = jitc.script(layer)
np.testing.assert_allclose(compiled(*args), layer(*args), rtol=1e-12)
assert "define" in compiled.llvm_ir(*args)  # read back, the IR is decompressed when asked for
stats = compiled.compile_stats()[0]
print(stats["graph_from"], stats["code_from"])
"""


def run_cached_layer(folder: pathlib.Path) -> tuple[str, str]:
    """Script and check a small layer in a fresh process caching in
    folder/cache: (where its optimised graph came from, where its object code came from)."""
    graph_from, code_from = run_program(CACHED_LAYER, folder, JITC_CACHE_DIR=str(folder / "cache")).split()
    return graph_from, code_from
