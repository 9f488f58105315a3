"""The benchmark runner works end to end at tiny sizes: every workload gets
a row for NumPy and for jitc (a time, or the error jitc raised), and the
GPT-2 start-up rows (cold compile, load from the disk cache) have times."""
from __future__ import annotations

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def run_in_root(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *arguments], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_quick_run_prints_a_row_per_workload_and_peer():
    listed = run_in_root("-c", "from benchmarks.workloads import WORKLOADS\n"
                               "print(' '.join(w.name for w in WORKLOADS))")
    assert listed.returncode == 0, listed.stderr
    names = listed.stdout.split()
    assert {"attention", "cnn", "gpt2", "gelu_affine", "rnn", "call_overhead"} <= set(names)
    completed = run_in_root("-m", "benchmarks.run", "--quick")
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert any(line.startswith("# cpu: ") for line in lines)
    assert any(line.startswith("# versions: ") and "numpy " in line for line in lines)
    rows = [line.split() for line in lines if line and not line.startswith("#")]
    assert rows[0][:3] == ["workload", "peer", "median"]
    for name in names:
        for peer in ("numpy", "jitc"):
            matching = [row for row in rows if row[:2] == [name, peer]]
            assert len(matching) == 1, f"no single row for {name} / {peer}:\n{completed.stdout}"
        [numpy_row] = [row for row in rows if row[:2] == [name, "numpy"]]
        assert numpy_row[2] != "-", f"NumPy itself failed on {name}:\n{completed.stdout}"
        [jitc_row] = [row for row in rows if row[:2] == [name, "jitc"]]
        assert jitc_row[2] != "-" or {"ERROR", "MISMATCH:"} & set(jitc_row), \
            f"the jitc row for {name} has neither a time nor a reason:\n{completed.stdout}"
    for name, origin in (("gpt2_cold_compile", "compiled"), ("gpt2_cached_load", "disk")):
        [row] = [row for row in rows if row[:2] == [name, "jitc"]]
        assert row[2] != "-" and f"code from {origin}:" in " ".join(row), completed.stdout
