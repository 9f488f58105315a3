"""Helpers of the scripter tests: script a function, check its graph and
compare the interpreted graph with the eager function."""
from __future__ import annotations

import linecache

import numpy as np

from jitc.errors import ScriptError
from jitc.frontend.scripter import script_graph_with_arity
from jitc.ir.interpreter import run_graph
from jitc.ir.parser import parse_graph
from jitc.ir.verifier import verify
from support.compare import assert_same

DTYPES = [np.float32, np.float64]


def check_script(function, *argument_sets, param_types=None):
    """Script `function`; check that its graph verifies, prints and parses
    back to the same text, that every node has a source location, and that
    running it on each argument tuple gives what the eager function gives,
    and leaves the arguments as the eager function leaves them."""
    graph, arity = script_graph_with_arity(function, param_types)
    verify(graph)
    text = str(graph)
    assert str(parse_graph(text, graph.tensors)) == text
    assert all(node.source is not None for node in graph.walk()), text
    for args in argument_sets:
        compiled_args, eager_args = copy_arguments(args), copy_arguments(args)
        outputs = run_graph(graph, *compiled_args, check_types=True)
        assert_same(outputs[0] if arity is None else outputs, function(*eager_args))
        assert_same(compiled_args, eager_args, path="arguments after the call")
    return graph


def copy_arguments(args):
    """A copy of each array in `args` (also inside lists), so that runs
    that write into their arguments can be compared."""
    if isinstance(args, np.ndarray):
        return args.copy()
    if isinstance(args, (list, tuple)):
        return type(args)(copy_arguments(item) for item in args)
    return args


def random_arrays(rng, dtype, *shapes):
    return tuple(rng.standard_normal(shape).astype(dtype) for shape in shapes)


def kinds(graph) -> list[str]:
    return [node.kind for node in graph.walk()]


def assert_points_at(error: ScriptError, text: str, line_text: str | None = None) -> None:
    """`error` names this file's line that holds `text`, and its caret
    line starts exactly under `text` (under its first occurrence)."""
    location = error.location
    source_line = linecache.getline(location.filename, location.line).rstrip("\n")
    if line_text is not None:
        assert line_text in source_line, source_line
    column = source_line.index(text)
    assert location.column == column, (location, source_line)
    if location.end_line == location.line:
        assert location.end_column == column + len(text), (location, source_line)
    message = str(error).splitlines()
    assert f'File "{location.filename}", line {location.line}' in message[1]
    indent = len(source_line) - len(source_line.lstrip())
    assert message[2] == "    " + source_line.lstrip()
    assert message[3].startswith("    " + " " * (column - indent) + "^")
