"""Time each workload in NumPy, jitc and whichever peers are installed.

    python -m benchmarks.run [--quick] [--filter NAME] [--repeat N] [--startup]

Peers: NumPy eager (the baseline and the oracle), `jitc.script` (default
backend), and when importable numba (`numba.njit`), PyTorch (eager,
`torch.jit.script`, `torch.compile`) and JAX (`jax.jit`). A peer missing
from this machine is skipped with a note; nothing is installed.

For each workload and peer: build the callable, call it once (that call
compiles; its time is reported as `compile`), check its result against
NumPy's with `np.allclose(rtol, atol)` (the tolerances are printed), and
only if it agrees, time it: the median over `--repeat` repeats of the time
per call, each repeat calling it in a loop long enough to take at least
`MIN_REPEAT_SECONDS`. A peer that fails or disagrees gets a row saying so
instead of a time. Columns `/numpy` and `/jitc` are time ratios: below 1
is faster than NumPy (or jitc).

Every jitc compile here is cold: the run points JITC_CACHE_DIR at a new
empty folder (unless it is set already). Two more rows time the GPT-2
example's start-up, each in fresh Python processes that share a new cache
folder: `gpt2_cold_compile` (jitc.script(model) and its first call, LLVM
included) and `gpt2_cached_load` (the same in a second process, the
optimised graph and the object code coming from the disk caches); the note
says where each came from and splits the time into the graph cache's key,
scripting, graph passes and code generation or loading. `--startup`
adds benchmarks/startup.py's table: a saved model's start-up in fresh
processes (import jitc, jitc.load, first call).
"""
from __future__ import annotations

import argparse
import math
import os
import platform
import re
import json
import statistics
import subprocess
import sys
import tempfile
import time
import types
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from .workloads import Workload, get_workloads

MIN_REPEAT_SECONDS = 0.02
QUICK_MIN_REPEAT_SECONDS = 0.001


@dataclass
class Result:
    workload: str
    peer: str
    seconds: float | None = None     # median time per call
    compile_seconds: float | None = None
    note: str = ""


# -- peers: each builds a callable that takes NumPy inputs and returns a NumPy result ------------
def _numpy_peer(workload: Workload) -> Callable:
    return workload.function


def _jitc_peer(workload: Workload) -> Callable:
    import jitc
    return jitc.script(workload.function)


def _numba_peer(workload: Workload) -> Callable:
    import numba
    return numba.njit(workload.function)


def _torch_peer(mode: str) -> Callable[[Workload], Callable]:
    def build(workload: Workload) -> Callable:
        import torch
        function = workload.torch_function
        if mode == "jit.script":
            function = torch.jit.script(function)
        elif mode == "compile":
            function = torch.compile(function)

        def call(*args):
            with torch.no_grad():
                return function(*(torch.from_numpy(np.ascontiguousarray(a)) for a in args))
        call.to_numpy = lambda result: result.numpy()
        return call
    return build


def _jax_peer(workload: Workload) -> Callable:
    import jax
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)  # keep float64 inputs float64, as NumPy does
    # The same source, with `np` meaning jax.numpy.
    source = workload.function
    function = types.FunctionType(source.__code__, {**source.__globals__, "np": jnp}, source.__name__)
    compiled = jax.jit(function)

    def call(*args):
        return compiled(*args).block_until_ready()  # JAX dispatches asynchronously
    call.to_numpy = np.asarray
    return call


# (name, module that must import, builder)
PEERS: list[tuple[str, str | None, Callable[[Workload], Callable]]] = [
    ("numpy", None, _numpy_peer),
    ("jitc", "jitc", _jitc_peer),
    ("numba", "numba", _numba_peer),
    ("torch.eager", "torch", _torch_peer("eager")),
    ("torch.jit.script", "torch", _torch_peer("jit.script")),
    ("torch.compile", "torch", _torch_peer("compile")),
    ("jax.jit", "jax", _jax_peer),
]


def _importable(module: str | None) -> bool:
    if module is None:
        return True
    try:
        __import__(module)
    except Exception:  # noqa: BLE001 - a broken install counts as missing
        return False
    return True


# -- timing ------------------------------------------------------------------------------------
def time_call(function: Callable, args: tuple, repeat: int, min_seconds: float) -> float:
    """Median seconds per call over `repeat` repeats of a loop that runs
    for at least `min_seconds`."""
    start = time.perf_counter()
    function(*args)
    once = time.perf_counter() - start
    loops = max(1, math.ceil(min_seconds / max(once, 1e-9)))
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(loops):
            function(*args)
        samples.append((time.perf_counter() - start) / loops)
    return statistics.median(samples)


def short_error(error: BaseException) -> str:
    """One line: the error type and its most telling line, without colour codes."""
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in str(error).splitlines()]
    lines = [line for line in lines if line and not line.startswith("Failed in ")]
    # Numba nests the cause deep in its message ("TypingError: '@' arguments must ...").
    nested = [line for line in lines[1:] if re.match(r"^\w+Error: ", line)]
    text = f"{type(error).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    if nested:
        text = nested[-1]
    return text if len(text) <= 100 else text[:97] + "..."


def agrees(actual: Any, expected: np.ndarray, workload: Workload) -> str | None:
    """None if `actual` matches NumPy's result; else what differs."""
    actual = np.asarray(actual)
    if actual.shape != expected.shape:
        return f"MISMATCH: shape {actual.shape}, NumPy gives {expected.shape}"
    if not np.allclose(actual, expected, rtol=workload.rtol, atol=workload.atol):
        worst = float(np.max(np.abs(actual.astype(np.float64) - expected)))
        return f"MISMATCH: max abs error {worst:.3g} (rtol={workload.rtol:g}, atol={workload.atol:g})"
    return None


def skip_reason(peer: str, workload: Workload) -> str | None:
    """Why `peer` cannot run `workload` at all, or None."""
    if workload.module and peer in ("numba", "jax.jit"):
        return f"skipped: {peer} cannot take a jitc.nn module"
    if workload.torch_function is None and peer.startswith("torch"):
        return "skipped: no PyTorch transcription"
    return None


def run_peer(name: str, build: Callable[[Workload], Callable], workload: Workload, args: tuple,
             expected: np.ndarray, repeat: int, min_seconds: float) -> Result:
    result = Result(workload.name, name)
    try:
        function = build(workload)
        to_numpy = getattr(function, "to_numpy", lambda value: value)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            start = time.perf_counter()
            output = to_numpy(function(*args))
            result.compile_seconds = time.perf_counter() - start
        notes = [_backend_note(function)] + [str(w.message).splitlines()[0][:80] for w in caught
                                             if not issubclass(w.category, DeprecationWarning)]
    except Exception as error:  # noqa: BLE001 - the table says what went wrong
        result.note = "ERROR " + short_error(error)
        return result
    mismatch = agrees(output, expected, workload)
    if mismatch is not None:
        result.note = mismatch
        return result
    if np.asarray(output).dtype != expected.dtype:
        notes.append(f"result is {np.asarray(output).dtype}, NumPy's {expected.dtype}")
    try:
        result.seconds = time_call(function, args, repeat, min_seconds)
    except Exception as error:  # noqa: BLE001
        result.note = "ERROR while timing: " + short_error(error)
        return result
    result.note = "; ".join(n for n in notes if n)
    return result


def _backend_note(function) -> str:
    """For jitc: which backend ran (the interpreter when llvm fell back)."""
    stats = getattr(function, "compile_stats", None)
    if stats is None:
        return ""
    backends = {s["backend"] for s in stats()}
    return "" if backends <= {"llvm"} else f"ran in: {', '.join(sorted(backends))}"


# -- start-up of the GPT-2 example in fresh processes --------------------------------------------
_PROBE = """
import json, sys, time
from benchmarks.workloads import gpt2_inputs, gpt2_model
import jitc
model, (ids,) = gpt2_model(), gpt2_inputs({quick})
start = time.perf_counter()
compiled = jitc.script(model)
compiled(ids)
seconds = time.perf_counter() - start
json.dump({{"seconds": seconds, **compiled.compile_stats()[0]}}, sys.stdout)
"""


START_UP_ROWS = ("gpt2_cold_compile", "gpt2_cached_load")


def gpt2_start_up(quick: bool, repeat: int) -> list[Result]:
    """Rows `gpt2_cold_compile` and `gpt2_cached_load`: the medians over
    `repeat` pairs of processes, each pair with a new cache folder."""
    # As in an installed jitc, Python's bytecode of jitc is cached: PYTHONDONTWRITEBYTECODE is
    # dropped and a first, untimed pair writes what is missing (else each process compiled
    # every module imported after the clock starts from source, ~10-20 ms).
    environment = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    pairs = []
    for _ in range(repeat + 1):
        with tempfile.TemporaryDirectory(prefix="jitc-bench-") as folder:
            pair = []
            for _ in ("cold", "cached"):
                completed = subprocess.run([sys.executable, "-c", _PROBE.format(quick=quick)],
                                           env={**environment, "JITC_CACHE_DIR": folder},
                                           cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                           capture_output=True, text=True, timeout=600)
                if completed.returncode != 0:
                    error = completed.stderr.strip().splitlines()[-1:] or ["no output"]
                    return [Result(name, "jitc", note="ERROR " + error[0][:100]) for name in START_UP_ROWS]
                pair.append(json.loads(completed.stdout))
            pairs.append(pair)
    cold, cached = zip(*pairs[1:])
    return [_start_up_row(name, samples) for name, samples in zip(START_UP_ROWS, (cold, cached))]


def _start_up_row(name: str, samples: list[dict]) -> Result:
    middle = sorted(samples, key=lambda s: s["seconds"])[len(samples) // 2]
    parts = ", ".join(f"{stage} {format_time(middle[stage])}"
                      for stage in ("cache_key", "frontend", "optimize", "codegen") if stage in middle)
    origin = f"graph from {middle['graph_from']}, " if "graph_from" in middle else ""
    return Result(name, "jitc", seconds=middle["seconds"], note=f"{origin}code from {middle['code_from']}: {parts}")


# -- report ------------------------------------------------------------------------------------
def machine_info() -> list[str]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    versions = [f"python {platform.python_version()}", f"numpy {np.__version__}"]
    for module in ("llvmlite", "jitc", "numba", "torch", "jax"):
        try:
            versions.append(f"{module} {__import__(module).__version__}")
        except Exception:  # noqa: BLE001
            versions.append(f"{module} not installed")
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return [f"cpu: {cpu}", f"cores: {os.cpu_count()} (usable: {affinity})",
            f"platform: {platform.platform()}", "versions: " + ", ".join(versions)]


def format_time(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def format_ratio(seconds: float | None, base: float | None) -> str:
    return "-" if seconds is None or not base else f"{seconds / base:.2f}"


def print_table(results: list[Result], stream) -> None:
    header = ("workload", "peer", "median", "/numpy", "/jitc", "compile", "note")
    rows = []
    baseline = {(r.workload, r.peer): r.seconds for r in results}
    for r in results:
        rows.append((r.workload, r.peer, format_time(r.seconds),
                     format_ratio(r.seconds, baseline.get((r.workload, "numpy"))),
                     format_ratio(r.seconds, baseline.get((r.workload, "jitc"))),
                     format_time(r.compile_seconds) if r.peer != "numpy" else "-", r.note))
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        cells = [str(cell).ljust(width) for cell, width in zip(row, widths)]
        print("  ".join(cells + [row[-1]]).rstrip(), file=stream)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and one repeat (a smoke test)")
    parser.add_argument("--filter", metavar="NAME", help="only workloads whose name contains NAME")
    parser.add_argument("--repeat", type=int, default=None, metavar="N",
                        help="repeats per measurement; the median is reported (default 7, 1 with --quick)")
    parser.add_argument("--startup", action="store_true",
                        help="also time a saved model's start-up in fresh processes (benchmarks/startup.py)")
    options = parser.parse_args(argv)
    repeat = options.repeat or (1 if options.quick else 7)
    min_seconds = QUICK_MIN_REPEAT_SECONDS if options.quick else MIN_REPEAT_SECONDS
    workloads = get_workloads(options.filter)
    start_up = any(not options.filter or options.filter in name for name in START_UP_ROWS)
    if not workloads and not start_up:
        parser.error(f"no workload matches {options.filter!r}")

    out = sys.stdout
    for line in machine_info():
        print(f"# {line}", file=out)
    print(f"# sizes: {'quick (tiny)' if options.quick else 'full'}; median of {repeat} repeat(s), "
          f"each >= {min_seconds * 1e3:g} ms; time ratios below 1 are faster", file=out)
    available = []
    for name, module, build in PEERS:
        if _importable(module):
            available.append((name, build))
        else:
            print(f"# {name}: skipped ({module} is not installed)", file=out)
    print(file=out)

    results = []
    with tempfile.TemporaryDirectory(prefix="jitc-bench-") as folder:
        os.environ.setdefault("JITC_CACHE_DIR", folder)  # every compile below is cold
        for workload in workloads:
            args = workload.make_inputs(options.quick)
            expected = np.asarray(workload.function(*args))
            for name, build in available:
                reason = skip_reason(name, workload)
                results.append(Result(workload.name, name, note=reason) if reason else
                               run_peer(name, build, workload, args, expected, repeat, min_seconds))
    if start_up:
        results += gpt2_start_up(options.quick, min(repeat, 3))
    print_table(results, out)
    if options.startup:
        from .startup import measure, report
        print(file=out)
        print(report(measure(runs=repeat)), file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
