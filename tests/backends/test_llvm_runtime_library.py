"""The runtime library (runtime_library.py): graph-independent helpers
compiled once per cache folder, loaded before any object that calls them."""
from __future__ import annotations

import textwrap

import numpy as np

from support.processes import run_program

# Scripts one of two float32 products (argv[1]: "a" or "b": different graphs, one kernel),
# prints where the graph's code came from and how many library functions this process compiled.
PROGRAM = textwrap.dedent('''
    import sys
    import numpy as np
    import jitc
    from jitc.backends.llvm import runtime_library

    compiled_here = []
    build = runtime_library._compile
    runtime_library._compile = lambda name: compiled_here.append(name) or build(name)

    def a(x, w):
        return np.tanh(x @ w)

    def b(x, w):
        return x @ w + 1.0

    function = {"a": a, "b": b}[sys.argv[1]]
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((9, 40)).astype(np.float32), rng.standard_normal((40, 37)).astype(np.float32)
    compiled = jitc.script(function)
    np.testing.assert_allclose(compiled(x, w), function(x, w), rtol=1e-4, atol=1e-5)
    print(compiled.compile_stats()[0]["code_from"], len(compiled_here))
''')


def _run(tmp_path, cache, which: str) -> str:
    return run_program(PROGRAM, tmp_path, which, JITC_CACHE_DIR=str(cache))


def test_library_compiles_once_per_cache_folder(tmp_path):
    cache = tmp_path / "cache"
    assert _run(tmp_path, cache, "a") == "compiled 1"
    assert len(list(cache.glob("*.jitclib"))) == 1
    assert _run(tmp_path, cache, "b") == "compiled 0"  # a new graph: compiled, the kernel loaded from the cache
    assert _run(tmp_path, cache, "a") == "disk 0"      # a cached graph: the kernel loaded before it
    assert _run(tmp_path, tmp_path / "other", "a") == "compiled 1"


def test_damaged_library_entry_is_rebuilt(tmp_path):
    cache = tmp_path / "cache"
    assert _run(tmp_path, cache, "a") == "compiled 1"
    entry, = cache.glob("*.jitclib")
    data = bytearray(entry.read_bytes())
    data[len(data) // 2] ^= 0xFF
    entry.write_bytes(bytes(data))
    assert _run(tmp_path, cache, "a") == "disk 1"  # the graph's object from the cache, the library rebuilt
    assert _run(tmp_path, cache, "b") == "compiled 0"


def test_a_library_this_process_cannot_build_makes_the_graph_compile_again():
    from jitc.backends.llvm import engine, runtime_library
    assert not runtime_library.ensure("jitc_rt_matmul_float32_1_" + "0" * 20)
    assert engine.load_object(b"\x7fELF calls jitc_rt_matmul_float32_1_" + b"0" * 20, ["f"], "") is None


def test_modules_declare_the_kernel_and_exports_keep_their_own():
    from jitc.backends.llvm import runtime_library
    from jitc.backends.llvm.codegen import GraphCodegen
    import jitc

    def product(x, w):
        return x @ w

    x = np.ones((4, 8), np.float32)
    graph = jitc.script(product).graph_for(x, x.T.copy())
    jit, export = (str(GraphCodegen(graph, "f", runtime_library=flag).generate()) for flag in (True, False))
    assert f'declare i32 @"{runtime_library.PREFIX}matmul_float32' in jit and "jitc_matmul." not in jit
    assert runtime_library.PREFIX not in export and "jitc_matmul.float32" in export
