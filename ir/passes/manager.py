"""The pass manager: named passes, pipelines written as text
(`"propagate_types,fold_constants,eliminate_dead_code"`), optimisation
levels, a verifier after every pass when asked, and the IR printed after
chosen passes.

Environment switches (read once per pipeline run, never deeper):
- `JITC_PRINT_AFTER=all` or a comma list of pass names: print the IR to
  stderr after those passes;
- `JITC_VERIFY=1`: run the verifier after every pass (the test suite does);
- `JITC_DISABLE_PASSES=name,...`: skip passes by name.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Callable, Iterable, TextIO

from ..graph import Graph
from ..verifier import verify


@dataclass(frozen=True)
class Pass:
    """A graph rewrite: `run(graph)` changes the graph in place and
    returns whether it changed anything. `level` is the lowest optimisation
    level that runs it."""

    name: str
    run: Callable[[Graph], bool]
    level: int = 1

    @property
    def doc(self) -> str:
        return (self.run.__doc__ or "").strip()


_PASSES: dict[str, Pass] = {}


def register_pass(level: int = 1, name: str | None = None):
    """Decorator: register a function `graph -> bool` as a pass named after it."""
    def register(function: Callable[[Graph], bool]):
        pass_name = name or function.__name__
        if pass_name in _PASSES:
            raise ValueError(f"pass {pass_name} is registered twice")
        _PASSES[pass_name] = Pass(pass_name, function, level)
        return function
    return register


def get_pass(name: str) -> Pass:
    try:
        return _PASSES[name]
    except KeyError:
        known = ", ".join(sorted(_PASSES))
        raise ValueError(f"unknown pass {name!r}; known passes: {known}") from None


def all_passes() -> list[Pass]:
    return list(_PASSES.values())


def parse_pipeline(text: str) -> list[str]:
    """`"a, b,c"` → `["a", "b", "c"]`, each checked to be a known pass."""
    names = [part.strip() for part in text.split(",") if part.strip()]
    for name in names:
        get_pass(name)
    return names


def format_pipeline(names: Iterable[str]) -> str:
    return ",".join(names)


# The order passes run in at each level; a pass joins when level >= its own.
DEFAULT_ORDER = ("inline_calls", "propagate_types", "fold_constants", "unroll_loops", "decompose_variance",
                 "canonicalize", "eliminate_common_subexpressions", "hoist_loop_invariants", "batch_matmul_in_loops",
                 "eliminate_dead_code", "fuse_rows", "fuse_elementwise")


def pipeline_for_level(level: int) -> list[str]:
    if level not in (0, 1, 2):
        raise ValueError(f"optimisation level must be 0, 1 or 2, got {level}")
    return [name for name in DEFAULT_ORDER if get_pass(name).level <= level]


def _names_from_environment(variable: str) -> set[str]:
    return {part.strip() for part in os.environ.get(variable, "").split(",") if part.strip()}


class PassManager:
    """Runs a pipeline of passes over a graph, repeating it until nothing
    changes (at most `max_rounds` times)."""

    def __init__(self, passes: str | Iterable[str], *, verify_each: bool | None = None,
                 print_after: str | Iterable[str] | None = None, disabled: Iterable[str] = (),
                 max_rounds: int = 4, stream: TextIO | None = None):
        names = parse_pipeline(passes) if isinstance(passes, str) else list(passes)
        skipped = set(disabled) | _names_from_environment("JITC_DISABLE_PASSES")
        self.passes = [get_pass(name) for name in names if name not in skipped]
        self.verify_each = (os.environ.get("JITC_VERIFY") == "1") if verify_each is None else verify_each
        if print_after is None:
            print_after = _names_from_environment("JITC_PRINT_AFTER")
        elif isinstance(print_after, str):
            print_after = set(parse_pipeline(print_after)) if print_after != "all" else {"all"}
        self.print_after = set(print_after)
        self.max_rounds = max_rounds
        self.stream = stream

    def run(self, graph: Graph) -> bool:
        changed_any = False
        for _ in range(self.max_rounds):
            changed = False
            for pass_ in self.passes:
                changed |= self.run_one(pass_, graph)
            changed_any |= changed
            if not changed:
                break
        return changed_any

    def run_one(self, pass_: Pass, graph: Graph) -> bool:
        changed = bool(pass_.run(graph))
        if self.verify_each:
            verify(graph)
        if "all" in self.print_after or pass_.name in self.print_after:
            stream = self.stream or sys.stderr
            stream.write(f"// after {pass_.name}{'' if changed else ' (unchanged)'}\n{graph}")
        return changed

    def __repr__(self) -> str:
        return f"PassManager({format_pipeline(p.name for p in self.passes)!r})"


def run_pipeline(graph: Graph, passes: str | Iterable[str], **options) -> bool:
    return PassManager(passes, **options).run(graph)
