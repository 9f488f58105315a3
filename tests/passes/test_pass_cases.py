"""File-based pass tests in the manner of LLVM's FileCheck: each file in
cases/ holds cases separated by `// -----`; a case is

    // RUN: pass_a,pass_b
    <input IR text>
    // CHECK:
    <the exact IR text the pipeline must print>

and may use `// CHECK-NOT: text` lines (text that must not appear in the
output) instead of, or besides, an exact `// CHECK:` block. Other `// `
lines are notes for the reader. Every pass runs
with the verifier after it. A tensor constant `@name` in a case stands for
an array of zeros of the type its node declares.
"""
from __future__ import annotations

import pathlib
import re

import numpy as np
import pytest

from jitc.ir.attributes import TensorRef
from jitc.ir.parser import parse_graph
from jitc.ir.passes import run_pipeline
from jitc.ir.verifier import verify

CASES = pathlib.Path(__file__).parent / "cases"
_SEPARATOR = re.compile(r"^// -----\s*$", re.MULTILINE)


def _load_cases():
    for path in sorted(CASES.glob("*.ir")):
        for index, text in enumerate(_SEPARATOR.split(path.read_text())):
            if text.strip():
                yield pytest.param(text, id=f"{path.stem}-{index}")


def _parse_case(text: str):
    run = re.search(r"^// RUN: (.+)$", text, re.MULTILINE)
    assert run, "a case needs a // RUN: line"
    forbidden = re.findall(r"^// CHECK-NOT: (.+)$", text, re.MULTILINE)
    body = re.sub(r"^// (?!CHECK:).*\n?", "", text, flags=re.MULTILINE)  # RUN, CHECK-NOT and notes
    source, _, expected = body.partition("// CHECK:\n")
    assert expected or forbidden, "a case needs // CHECK: or // CHECK-NOT:"
    return run.group(1).strip(), source.strip() + "\n", expected.strip() + "\n" if expected else None, forbidden


def _zeros_for_tensor_constants(graph) -> None:
    for node in graph.walk():
        value = node.attributes.get("value") if node.kind == "prim::Constant" else None
        if isinstance(value, TensorRef) and value.name not in graph.tensors:
            type = node.output.type
            graph.tensors[value.name] = np.zeros(type.shape, type.dtype.numpy)


@pytest.mark.parametrize("text", list(_load_cases()))
def test_pass_case(text):
    pipeline, source, expected, forbidden = _parse_case(text)
    graph = parse_graph(source)
    _zeros_for_tensor_constants(graph)
    verify(graph)
    run_pipeline(graph, pipeline, verify_each=True)
    printed = str(graph)
    if expected is not None:
        assert printed == expected
    for pattern in forbidden:
        assert pattern not in printed, f"{pattern!r} should be gone:\n{printed}"


def test_every_registered_pass_has_cases():
    from jitc.ir.passes import all_passes
    runs = " ".join(re.findall(r"^// RUN: (.+)$", "".join(p.read_text() for p in CASES.glob("*.ir")),
                               re.MULTILINE))
    for pass_ in all_passes():
        assert runs.count(pass_.name) >= 5, f"{pass_.name} needs at least five file-based cases"
