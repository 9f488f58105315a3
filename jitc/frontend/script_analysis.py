"""Syntactic facts the scripter needs before it compiles a statement:
which names a statement assigns, which names are *live* after it (may be
read later before being assigned again), and where `return`s are.

Liveness decides which variables become outputs of a `prim::If` and which
are carried by a `prim::Loop`: only those that are read later, so a
variable that is reassigned before any read never has to merge types.
A `break` leads to what is live after its loop and a `continue` to what
is live at the loop's head (`LoopExits`).
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Iterable, Iterator

LIST_MUTATORS = ("append", "extend")


def names_read(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def names_stored(target: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(target) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def mutated_list(statement: ast.stmt) -> str | None:
    """The variable of a `y.append(v)` / `y.extend(v)` statement, which the
    scripter compiles as a rebinding of `y`."""
    if not isinstance(statement, ast.Expr) or not isinstance(statement.value, ast.Call):
        return None
    function = statement.value.func
    if (isinstance(function, ast.Attribute) and function.attr in LIST_MUTATORS
            and isinstance(function.value, ast.Name)):
        return function.value.id
    return None


def assigned_names(statements: Iterable[ast.stmt]) -> list[str]:
    """Every name the statements (and the statements nested in them) bind,
    in order of first appearance."""
    return list(dict.fromkeys(_assignments(statements)))


def _assignments(statements: Iterable[ast.stmt]) -> Iterator[str]:
    for statement in statements:
        if isinstance(statement, ast.Assign):
            for target in statement.targets:
                yield from _ordered_stores(target)
        elif isinstance(statement, (ast.AugAssign, ast.AnnAssign, ast.For)):
            yield from _ordered_stores(statement.target)
        elif mutated_list(statement) is not None:
            yield mutated_list(statement)
        for field in ("body", "orelse"):
            yield from _assignments(getattr(statement, field, ()))


def _ordered_stores(target: ast.AST) -> Iterator[str]:
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            yield from _ordered_stores(element)
    elif isinstance(target, ast.Starred):
        yield from _ordered_stores(target.value)


# -- liveness ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LoopExits:
    """What `break` and `continue` in a loop body lead to: the names live
    after the loop, and those live at its head."""

    after: frozenset[str]
    head: frozenset[str]


def live_before(statements: list[ast.stmt], live_after: set[str], exits: LoopExits | None = None) -> set[str]:
    """The names that may be read, before being assigned, from the start
    of `statements` on, when `live_after` are read after them."""
    live = set(live_after)
    for statement in reversed(statements):
        live = _live_before_statement(statement, live, exits)
    return live


def live_after_each(statements: list[ast.stmt], live_after: set[str],
                    exits: LoopExits | None = None) -> list[set[str]]:
    """For each statement, the names live right after it."""
    result = [set(live_after)] * len(statements)
    live = set(live_after)
    for index in range(len(statements) - 1, -1, -1):
        result[index] = live
        live = _live_before_statement(statements[index], live, exits)
    return result


def live_at_loop_head(loop: ast.For | ast.While, live_after: set[str]) -> set[str]:
    """The names live where each iteration starts: those read after the
    loop, those the body reads before assigning (a later iteration reads
    what an earlier one left) and, for `while`, those its test reads."""
    target = names_stored(loop.target) if isinstance(loop, ast.For) else set()
    live = set(live_after) | (names_read(loop.test) if isinstance(loop, ast.While) else set())
    while True:
        widened = live | (live_before(loop.body, live, loop_exits(live_after, live)) - target)
        if widened == live:
            return live
        live = widened


def loop_exits(live_after: set[str], live_at_head: set[str]) -> LoopExits:
    return LoopExits(frozenset(live_after), frozenset(live_at_head))


def _live_before_statement(statement: ast.stmt, live: set[str], exits: LoopExits | None) -> set[str]:
    if isinstance(statement, ast.Return):
        return names_read(statement)
    if isinstance(statement, ast.Break) and exits is not None:
        return set(exits.after)
    if isinstance(statement, ast.Continue) and exits is not None:
        return set(exits.head)
    if isinstance(statement, ast.Assign):
        stored = set().union(*(names_stored(t) for t in statement.targets))
        return (live - stored) | names_read(statement)
    if isinstance(statement, ast.AnnAssign):
        if statement.value is None:
            return live
        return (live - names_stored(statement.target)) | names_read(statement)
    if isinstance(statement, ast.AugAssign):
        return live | names_read(statement) | names_stored(statement.target)
    if isinstance(statement, ast.If):
        return (names_read(statement.test) | live_before(statement.body, live, exits)
                | live_before(statement.orelse, live, exits))
    if isinstance(statement, ast.For):
        return names_read(statement.iter) | live_at_loop_head(statement, live)
    if isinstance(statement, ast.While):
        return live_at_loop_head(statement, live)
    return live | names_read(statement)


# -- returns and loop exits ---------------------------------------------------------------------
def first_return(statements: Iterable[ast.stmt]) -> ast.Return | None:
    for statement in statements:
        for node in ast.walk(statement):
            if isinstance(node, ast.Return):
                return node
    return None


def loop_exit_statements(statements: Iterable[ast.stmt]) -> Iterator[ast.Break | ast.Continue]:
    """The `break`s and `continue`s of the loop whose body is `statements`
    (not those of loops nested in it)."""
    for statement in statements:
        if isinstance(statement, (ast.Break, ast.Continue)):
            yield statement
        elif not isinstance(statement, (ast.For, ast.While, ast.AsyncFor)):
            for field in ("body", "orelse"):
                yield from loop_exit_statements(getattr(statement, field, ()))


def always_returns(statements: list[ast.stmt]) -> bool:
    """True when every path through `statements` ends in a `return` (or a `raise`)."""
    return any(isinstance(s, (ast.Return, ast.Raise))
               or (isinstance(s, ast.If) and always_returns(s.body) and always_returns(s.orelse))
               for s in statements)


__all__ = ["LIST_MUTATORS", "names_read", "names_stored", "mutated_list", "assigned_names", "LoopExits",
           "loop_exits", "live_before", "live_after_each", "live_at_loop_head", "first_return",
           "loop_exit_statements", "always_returns"]
