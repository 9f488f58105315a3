"""Compile every kernel the CUDA tests generate with numba-cuda's real CUDA
compiler (to PTX, for an H100/H200, sm_90), on a machine without a GPU:

    python tests/backends/cuda/compile_to_ptx.py

Step 1 runs tests/backends/cuda in numba's simulator and records each
kernel's source with the types of the arguments it was launched with.
Step 2, in a fresh process without the simulator, types and compiles each
with `numba.cuda.compile_ptx`: what the simulator cannot check (numba's
nopython typing of the generated source, and NVVM) is checked here.
Needs numba-cuda and the NVVM and NVRTC libraries (pip packages
nvidia-cuda-nvcc-cu12 and nvidia-cuda-nvrtc-cu12, on LD_LIBRARY_PATH);
not part of the test suite.
"""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def argument_type(value) -> list:
    import numpy as np
    if hasattr(value, "dtype") and hasattr(value, "shape") and not isinstance(value, np.generic):
        return ["array", str(value.dtype), len(value.shape)]
    if isinstance(value, (bool, np.bool_)):
        return ["scalar", "bool"]
    if isinstance(value, (int, float, np.number)):
        return ["scalar", str(np.asarray(value).dtype)]
    raise TypeError(f"no numba type for a kernel argument of type {type(value).__name__}")


def record(path: str) -> int:
    """Run the CUDA tests in the simulator, writing [source, argument types] of every launch to `path`."""
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"
    import pytest
    from jitc.backends.cuda import kernels
    launches, compile_kernel = set(), kernels.compile_kernel

    class Recording:
        def __init__(self, source):
            self.source, self.kernel = source, compile_kernel(source)

        def __getitem__(self, configuration):
            launch = self.kernel[configuration]

            def run(*arguments):
                launches.add((self.source, json.dumps([argument_type(a) for a in arguments])))
                return launch(*arguments)
            return run

    for name in ("elementwise", "rows", "reductions", "linalg", "indexing", "scans"):
        module = __import__(f"jitc.backends.cuda.{name}", fromlist=["compile_kernel"])
        module.compile_kernel = Recording
    code = pytest.main([HERE, "-q", "-p", "no:cacheprovider", "-o", "addopts="])
    with open(path, "w") as file:
        json.dump([[source, json.loads(types)] for source, types in sorted(launches)], file)
    return int(code)


def compile_all(path: str) -> int:
    import numba
    import numpy as np
    from numba import cuda
    with open(path) as file:
        launches = json.load(file)
    failures = 0
    for source, types in launches:
        namespace = {"cuda": cuda, "math": math, "np": np}
        exec(compile(source, "<jitc cuda kernel>", "exec"), namespace)
        signature = tuple(numba.types.Array(numba.from_dtype(np.dtype(t[1])), t[2], "C") if t[0] == "array"
                          else numba.from_dtype(np.dtype(t[1])) for t in types)
        try:
            cuda.compile_ptx(namespace["kernel"], signature, cc=(9, 0))
        except Exception as error:
            failures += 1
            print(f"--- failed: {str(error).splitlines()[0]}\n{source}")
    print(f"{len(launches)} kernel launches compiled to PTX, {failures} failed")
    return int(failures > 0)


def main() -> int:
    if len(sys.argv) == 3:
        return {"record": record, "compile": compile_all}[sys.argv[1]](sys.argv[2])
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "launches.json")
        environment = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
        if subprocess.run([sys.executable, __file__, "record", path], env=environment).returncode:
            return 1
        return subprocess.run([sys.executable, __file__, "compile", path], env=environment).returncode


if __name__ == "__main__":
    sys.exit(main())
