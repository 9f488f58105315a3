"""The syntactic analyses the scripter runs before compiling: assigned
names, liveness (which decides If outputs and loop-carried values) and
where returns are."""
from __future__ import annotations

import ast
import textwrap

from jitc.frontend.script_analysis import (always_returns, assigned_names, first_return, live_after_each,
                                           live_at_loop_head, live_before)


def body(source: str) -> list[ast.stmt]:
    return ast.parse(textwrap.dedent(source)).body


def test_assigned_names_in_order_including_targets_and_list_mutations():
    statements = body("""
        a, (b, c) = f()
        d += 1
        for i in range(3):
            ys.append(a)
            if a:
                e = 1
    """)
    assert assigned_names(statements) == ["a", "b", "c", "d", "i", "ys", "e"]


def test_a_name_reassigned_before_any_read_is_dead():
    statements = body("""
        y = x
        y = 2 * x
        z = y
    """)
    assert live_before(statements, {"z"}) == {"x"}
    assert live_after_each(statements, {"z"}) == [{"x"}, {"y"}, {"z"}]


def test_branches_union_their_live_names_and_returns_end_liveness():
    statements = body("""
        if c:
            return a
        else:
            b = 1
    """)
    assert live_before(statements, {"b", "d"}) == {"c", "a", "d"}


def test_loop_head_liveness_includes_names_read_by_a_later_iteration():
    loop = body("""
        for t in range(n):
            tmp = x[t]
            h = h + tmp
            last = t
    """)[0]
    assert live_at_loop_head(loop, set()) == {"h", "x"}
    assert live_at_loop_head(loop, {"last"}) == {"h", "x", "last"}


def test_returns():
    statements = body("""
        if c:
            return a
        elif d:
            pass
        else:
            return b
    """)
    assert first_return(statements).lineno == 3
    assert not always_returns(statements)
    assert always_returns(body("if c:\n    return a\nelse:\n    return b\n"))
