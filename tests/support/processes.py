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
