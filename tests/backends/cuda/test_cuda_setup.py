"""The CUDA backend's place in the package: numba.cuda imports under the
simulator (a regression guard for the NumPy < 2.5 pin: numba-cuda 0.30
fails to import on NumPy 2.5), and every op of the table is lowered or
listed as unsupported with a reason that compiling it raises."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import jitc
from jitc.backends import UnsupportedOpError, get_backend
from jitc.backends.cuda import UNSUPPORTED_OPS
from jitc.ir.ops.registry import all_ops


def test_numba_cuda_imports_under_the_simulator():
    environment = dict(os.environ, NUMBA_ENABLE_CUDASIM="1")
    completed = subprocess.run(
        [sys.executable, "-c", "import numba.cuda, numpy; print(numba.cuda.is_available(), numpy.__version__)"],
        env=environment, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    available, numpy_version = completed.stdout.split()
    assert available == "True"
    assert tuple(int(part) for part in numpy_version.split(".")[:2]) < (2, 5), "pyproject pins numpy<2.5 for numba-cuda"


def test_the_cuda_backend_is_registered():
    assert get_backend("cuda").name == "cuda"


def test_every_op_is_lowered_or_listed_as_unsupported_with_a_reason():
    names = {op.name for op in all_ops()}
    unknown = set(UNSUPPORTED_OPS) - names
    assert not unknown, f"UNSUPPORTED_OPS names ops that are not in the table: {sorted(unknown)}"
    for name, reason in UNSUPPORTED_OPS.items():
        assert isinstance(reason, str) and reason.strip(), f"{name} is unsupported without a reason"


def write_into_argument(x):
    x[0] = 1.0
    return x


UNSUPPORTED_EXAMPLES = {
    "prim::CopyInto": (write_into_argument, (np.ones(3),)),
}


@pytest.mark.parametrize("name", sorted(UNSUPPORTED_EXAMPLES))
def test_unsupported_ops_raise_unsupported_op_error_naming_them(name):
    function, args = UNSUPPORTED_EXAMPLES[name]
    graph = jitc.script(function, backend="interpreter").graph_for(*args)
    with pytest.raises(UnsupportedOpError, match=name):
        get_backend("cuda").compile(graph)


def test_gpu_benchmarks_run_or_say_why_not():
    root = os.path.join(os.path.dirname(__file__), "..", "..", "..")
    environment = {name: value for name, value in os.environ.items() if name != "NUMBA_ENABLE_CUDASIM"}
    completed = subprocess.run([sys.executable, "-m", "benchmarks.gpu", "--quick", "--filter", "gelu", "--repeat", "1"],
                               cwd=root, env=environment, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr
    assert "benchmarks.gpu: skipped, " in completed.stdout or "gelu_64M" in completed.stdout, completed.stdout
