"""Start-up of a saved model: how long a fresh Python takes to import jitc,
load the GPT-2 example's model file and run it once.

    python -m benchmarks.startup [--runs N] [--cold]

Each figure is the median over `--runs` fresh processes of the wall time
of the whole process (interpreter start included, as a user waits for
`python -c "import jitc; m = jitc.load(p); m(x)"`), with its CPU time
(user + system, of the child) beside it, and the child's own split into
importing jitc, `jitc.load` and the first call. Scenarios:

- `trusted_file_code`: `jitc.load(p, trust_native_code=True)` with the disk
  cache off: the object code comes from the model file and its optimised
  graph runs as saved (no passes, no LLVM).
- `warm_disk_cache`: `jitc.load(p)` (the file is not trusted), its object
  code in the disk cache from an earlier process: the passes run, LLVM does not.
- `cold_compile` (with `--cold`): `jitc.load(p)` with no cache: LLVM compiles.
- `python_and_numpy`: `import numpy` alone, the floor under all of them.

Every child checks its result against the eager model's (computed here)
and fails otherwise. Python byte code is cached in a folder of the run's
own (PYTHONPYCACHEPREFIX), as an installed jitc has its .pyc files; one
untimed process per scenario comes first. The model is built here: the
GPT-2 example scripted, called on 16 tokens and saved with its object code.
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent
TARGET_SECONDS = 0.3  # the goal for trusted_file_code
TOLERANCE = 1e-4      # the GPT-2 example's float32 tolerance

_CHILD = """
import time
start = time.perf_counter()
import sys
import numpy as np
import jitc
imported = time.perf_counter()
model = jitc.load(sys.argv[1], trust_native_code=sys.argv[4] == "trust")
loaded = time.perf_counter()
result = model(np.load(sys.argv[2]))
called = time.perf_counter()
if not np.allclose(result, np.load(sys.argv[3]), rtol={tolerance}, atol={tolerance}):
    sys.exit("the loaded model's result differs from the eager model's")
import json
print(json.dumps({{"import": imported - start, "load": loaded - imported, "call": called - loaded,
                  "code_from": model.compile_stats()[0]["code_from"]}}))
""".format(tolerance=TOLERANCE)


def build_model(folder: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path, pathlib.Path]:
    """The GPT-2 example scripted, called on 16 tokens and saved (with its
    object code); (model file, input ids, eager logits), all in `folder`."""
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        from gpt2 import GPT2
    finally:
        sys.path.remove(str(ROOT / "examples"))
    import jitc
    model = GPT2()
    ids = np.random.default_rng(1).integers(0, 256, size=16)
    scripted = jitc.script(model)
    scripted(ids)
    paths = folder / "gpt2.jitc", folder / "ids.npy", folder / "expected.npy"
    jitc.save(scripted, paths[0])
    np.save(paths[1], ids)
    np.save(paths[2], model(ids))
    return paths


def _environment(pycache: pathlib.Path, **settings: str) -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("PYTHONDONTWRITEBYTECODE", "JITC_CACHE_DIR", "JITC_DISABLE_CACHE")}
    return {**environment, "PYTHONPYCACHEPREFIX": str(pycache), **settings}


def _time_process(command: list[str], environment: dict[str, str]) -> tuple[float, float, dict]:
    """(wall seconds, CPU seconds, what the child printed as JSON) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    completed = subprocess.run(command, env=environment, cwd=tempfile.gettempdir(), capture_output=True, text=True,
                               timeout=600)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise RuntimeError(f"{command[:3]} failed: {completed.stderr.strip()[-2000:]}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, json.loads(completed.stdout) if completed.stdout.strip() else {}


def _scenario(command: list[str], environment: dict[str, str], runs: int, warm_up: bool = True) -> dict:
    if warm_up:
        _time_process(command, environment)
    samples = [_time_process(command, environment) for _ in range(runs)]
    figures = {"seconds": statistics.median(s[0] for s in samples),
               "cpu_seconds": statistics.median(s[1] for s in samples),
               "samples": [round(s[0], 4) for s in samples]}
    parts = [s[2] for s in samples if s[2]]
    if parts:
        for stage in ("import", "load", "call"):
            figures[stage] = statistics.median(part[stage] for part in parts)
        figures["code_from"] = parts[0]["code_from"]
    return figures


def measure(runs: int = 7, cold: bool = False) -> dict[str, dict]:
    """{scenario: {seconds, cpu_seconds, samples, import, load, call, code_from}}
    (the last four from the child; none for `python_and_numpy`)."""
    with tempfile.TemporaryDirectory(prefix="jitc-startup-") as name:
        folder = pathlib.Path(name)
        saved_cache = os.environ.get("JITC_CACHE_DIR")
        os.environ["JITC_CACHE_DIR"] = str(folder / "build-cache")  # leave the user's cache alone
        try:
            model, ids, expected = build_model(folder)
        finally:
            if saved_cache is None:
                del os.environ["JITC_CACHE_DIR"]
            else:
                os.environ["JITC_CACHE_DIR"] = saved_cache
        pycache = folder / "pycache"
        child = [sys.executable, "-c", _CHILD, str(model), str(ids), str(expected)]
        results = {
            "trusted_file_code": _scenario(child + ["trust"], _environment(pycache, JITC_DISABLE_CACHE="1"), runs),
            # the untimed first process fills this cache folder
            "warm_disk_cache": _scenario(child + ["no"], _environment(pycache, JITC_CACHE_DIR=str(folder / "warm")),
                                         runs),
        }
        if cold:
            results["cold_compile"] = _scenario(child + ["no"], _environment(pycache, JITC_DISABLE_CACHE="1"), 1)
        results["python_and_numpy"] = _scenario([sys.executable, "-c", "import numpy"], _environment(pycache), runs)
    return results


def report(results: dict[str, dict]) -> str:
    lines = [f"{'scenario':<20} {'median':>8} {'cpu':>8} {'import':>8} {'load':>8} {'call':>8}  code from",
             *(f"{name:<20} {r['seconds']:>7.3f}s {r['cpu_seconds']:>7.3f}s "
               + " ".join(f"{r[stage]:>7.3f}s" if stage in r else f"{'-':>8}" for stage in ("import", "load", "call"))
               + f"  {r.get('code_from', '-')}" for name, r in results.items())]
    trusted = results["trusted_file_code"]["seconds"]
    lines.append(f"trusted_file_code {'meets' if trusted < TARGET_SECONDS else 'misses'} the "
                 f"{TARGET_SECONDS} s target ({trusted:.3f} s); load average {os.getloadavg()[0]:.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per scenario (default 7)")
    parser.add_argument("--cold", action="store_true", help="also time a load that compiles with LLVM (one run)")
    arguments = parser.parse_args(argv)
    print(report(measure(arguments.runs, arguments.cold)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
