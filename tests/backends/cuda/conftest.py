"""The CUDA backend's tests run its kernels in numba's CUDA simulator
(NUMBA_ENABLE_CUDASIM=1), so CI needs no GPU; JITC_TEST_CUDA=device runs
them on the machine's GPU instead. numba reads the switch when numba.cuda
is first imported, so it is set here, while pytest collects (every xdist
worker collects every folder before it runs a test); if numba.cuda was
imported earlier without it, the tests skip and say so."""
import os
import sys

import pytest

ON_DEVICE = os.environ.get("JITC_TEST_CUDA", "simulator") == "device"
if not ON_DEVICE:
    os.environ["NUMBA_ENABLE_CUDASIM"] = "1"


def _ready() -> str | None:
    """Why the CUDA tests cannot run here, or None."""
    try:
        from numba.core import config
        if not ON_DEVICE and "numba.cuda" not in sys.modules:
            config.ENABLE_CUDASIM = 1  # numba.core.config was read before the variable was set
        from jitc.backends.cuda.runtime import cuda_module
        cuda_module()
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    if not ON_DEVICE and not config.ENABLE_CUDASIM:
        return "numba.cuda was imported before the simulator could be switched on"
    return None


NOT_READY = _ready()


def pytest_collection_modifyitems(config, items):
    if NOT_READY is None:
        return
    here = os.path.dirname(__file__)
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.skip(reason=f"the CUDA backend cannot run: {NOT_READY}"))


@pytest.fixture(autouse=True)
def _quick_thread_switches():
    """The simulator runs a block's threads as Python threads that meet at
    cuda.syncthreads() while a manager thread polls them; with Python's
    default 5 ms switch interval every meeting costs milliseconds."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(interval)
