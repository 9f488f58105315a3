"""The thread pool that runs split loops (backends/llvm/thread_pool.py):
results equal NumPy's for loops and 1-row products of many sizes, errors
inside split loops are raised, many Python threads may call at once, a
forked child still computes, idle workers stop spinning, and
JITC_THREAD_POOL=0 / JITC_NUM_THREADS=1 keep threads per call / one thread.
Each case runs in a child process with a timeout, so that a hang fails."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from support.processes import ROOT

PROGRAM = textwrap.dedent('''
    import os, sys, threading, time
    import numpy as np
    import jitc
    from jitc.backends.llvm import parallel, thread_pool

    expect_pool = sys.argv[1] == "1"
    assert parallel.uses_pool() == expect_pool, (parallel.uses_pool(), expect_pool)
    rng = np.random.default_rng(0)

    def affine(x, y):
        return np.tanh(x * y + 1.0)

    def product(x, w):
        return x @ w

    def power(x, y):
        return x ** y

    compiled_affine, compiled_product, compiled_power = map(jitc.script, (affine, product, power))

    def check_sizes():
        for n in (1, 7, 8191, 8192, 16385, 40000, 100003):
            x, y = rng.standard_normal((2, n)).astype(np.float32)
            np.testing.assert_allclose(compiled_affine(x, y), affine(x, y), rtol=2e-6, atol=2e-6)
        for rows, inner, columns in ((1, 256, 256), (1, 300, 1001), (2, 512, 129), (3, 64, 17), (1, 9, 5),
                                     (5, 256, 256), (1, 1000, 1), (1, 0, 40), (0, 8, 8), (1, 4096, 17), (3, 2048, 100)):
            for dtype in (np.float32, np.float64):
                x = rng.standard_normal((rows, inner)).astype(dtype)
                w = rng.standard_normal((inner, columns)).astype(dtype)
                np.testing.assert_allclose(compiled_product(x, w), product(x, w), rtol=1e-4, atol=1e-4)
        x = rng.standard_normal((1, 512)).astype(np.float32)
        w = rng.standard_normal((1024, 768)).astype(np.float32)[::2, ::3]  # strided weights: not the kernel
        np.testing.assert_allclose(compiled_product(x, w), product(x, w), rtol=1e-4, atol=1e-4)

    def check_errors():
        xi, yi = rng.integers(-3, 4, 200000), rng.integers(0, 3, 200000)
        np.testing.assert_array_equal(compiled_power(xi, yi), power(xi, yi))
        for where in (5, 120000, 199999):  # the first piece, a worker's, the last
            bad = yi.copy()
            bad[where] = -1
            try:
                compiled_power(xi, bad)
            except ValueError as error:
                assert "Integers to negative integer powers are not allowed" in str(error), error
            else:
                raise AssertionError("no ValueError")
        np.testing.assert_array_equal(compiled_power(xi, yi), power(xi, yi))  # the pool works after errors

    def check_concurrent_callers():
        failures = []

        def hammer(seed):
            local = np.random.default_rng(seed)
            x = local.standard_normal((1, 256)).astype(np.float32)
            w = local.standard_normal((256, 256)).astype(np.float32)
            a, b = local.standard_normal((2, 50000)).astype(np.float32)
            for _ in range(200):
                if not np.allclose(compiled_product(x, w), product(x, w), rtol=1e-4, atol=1e-4):
                    failures.append(("product", seed))
                if not np.allclose(compiled_affine(a, b), affine(a, b), rtol=2e-6, atol=2e-6):
                    failures.append(("affine", seed))

        threads = [threading.Thread(target=hammer, args=(seed,)) for seed in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not failures, failures[:5]

    def check_forked_child():
        pid = os.fork()
        if pid == 0:
            try:
                check_sizes()
                check_errors()
                code = 0
            except BaseException as error:
                print("child:", repr(error), file=sys.stderr)
                code = 1
            os._exit(code)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                assert os.waitstatus_to_exitcode(status) == 0, status
                return
            time.sleep(0.01)
        os.kill(pid, 9)
        raise AssertionError("the forked child hung")

    def workers():
        """This process's threads that Python did not start, with their states."""
        found, python = {}, {thread.native_id for thread in threading.enumerate()}
        for task in os.listdir("/proc/self/task"):
            if int(task) not in python:
                with open(f"/proc/self/task/{task}/stat") as stat:
                    found[task] = stat.read().rsplit(")", 1)[1].split()[0]
        return found

    def check_idle_workers_sleep():
        x, y = rng.standard_normal((2, 100000)).astype(np.float32)
        compiled_affine(x, y)
        deadline = time.monotonic() + 30
        while any(state == "R" for state in workers().values()):
            assert time.monotonic() < deadline, workers()
            time.sleep(0.01)
        time.sleep(0.05)  # long past the spin time: woken by the next split
        np.testing.assert_allclose(compiled_affine(x, y), affine(x, y), rtol=2e-6, atol=2e-6)

    before = set(workers())
    check_sizes()
    check_errors()
    check_concurrent_callers()
    threads = parallel.thread_count()
    deadline = time.monotonic() + 10  # a joined Python thread's task may linger for a moment
    while len(set(workers()) - before) != (threads - 1 if expect_pool else 0) and time.monotonic() < deadline:
        time.sleep(0.01)
    started = set(workers()) - before
    if expect_pool:
        assert len(started) == threads - 1, (started, threads)
        check_idle_workers_sleep()
    else:
        assert not started, started  # threads per call are joined
    check_forked_child()
    check_sizes()
    print("ok")
''')


def _run(tmp_path, *args: str, **environment) -> str:
    program = tmp_path / "program.py"
    program.write_text(PROGRAM)
    environment = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
                       **environment)  # threads of the BLAS would be counted as the pool's
    result = subprocess.run([sys.executable, str(program), *args], cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout.strip()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the pool and /proc are Linux's")
@pytest.mark.parametrize("threads, pool", [("3", "1"), ("2", "1"), ("3", "0"), ("1", "1")])
def test_thread_pool(threads, pool, tmp_path):
    expect_pool = pool == "1" and threads != "1"
    output = _run(tmp_path, "1" if expect_pool else "0", JITC_NUM_THREADS=threads, JITC_THREAD_POOL=pool)
    assert output.endswith("ok")



PINNED = textwrap.dedent('''
    import ctypes, os
    import numpy as np
    import jitc
    from jitc.backends.llvm import symbols, thread_pool

    def product(x, w):
        return x @ w

    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # the worker will share the caller's CPU
    compiled = jitc.script(product)
    rng = np.random.default_rng(1)
    x, w = rng.standard_normal((1, 256)).astype(np.float32), rng.standard_normal((256, 256)).astype(np.float32)
    for _ in range(3 * thread_pool._MISSES_BEFORE_SERIAL):
        np.testing.assert_allclose(compiled(x, w), product(x, w), rtol=1e-4, atol=1e-4)
    misses = ctypes.c_int64.from_address(symbols.address(thread_pool.POOL_SYMBOL) + 8 * thread_pool._MISSES).value
    helped = ctypes.c_int64.from_address(symbols.address(thread_pool.POOL_SYMBOL) + 8 * thread_pool._HELPED).value
    assert misses >= thread_pool._MISSES_BEFORE_SERIAL and helped == 0, (misses, helped)
    print("ok")
''')


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the pool and sched_setaffinity are Linux's")
def test_a_worker_on_the_callers_cpu_is_no_help(tmp_path):
    """Pinned to one CPU, no worker can help from another CPU (one that runs
    a piece runs it on the caller's): no split counts as helped, so small
    loops (a 1-row product) go serial, with the same results."""
    program = tmp_path / "program.py"
    program.write_text(PINNED)
    environment = dict(os.environ, JITC_NUM_THREADS="2", JITC_THREAD_POOL="1", OPENBLAS_NUM_THREADS="1")
    result = subprocess.run([sys.executable, str(program)], cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")
