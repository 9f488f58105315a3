"""The model examples run as a user runs them, each in a fresh Python: each
compiles its model unchanged, checks it against its eager NumPy run (the
check is in the example and fails its exit status) and says so."""
from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

EXAMPLES = pathlib.Path(__file__).resolve().parents[1] / "examples"


def run_example(name: str) -> str:
    result = subprocess.run([sys.executable, str(EXAMPLES / name)], cwd=EXAMPLES, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_gpt2_scripts_unchanged_and_matches_numpy():
    output = run_example("gpt2.py")
    for line in ("scripted GPT-2: matches NumPy", "scripted GPT-2, 5 tokens: matches NumPy",
                 "saved and loaded GPT-2: matches NumPy", "median of 20 runs: NumPy"):
        assert line in output, output


@pytest.mark.parametrize("name, steps", [("lstm.py", (32, 5)),
                                         ("rnn.py", (64, 3))])
def test_recurrent_example_scripts_unchanged_and_matches_numpy(name, steps):
    output = run_example(name)
    for count in steps:
        assert f"{count} steps: matches NumPy" in output, output
