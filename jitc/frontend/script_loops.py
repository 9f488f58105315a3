"""Loops of the scripter: `for` and `while` as `prim::Loop`, `for` over
elements known while compiling unrolled, and `break`, `continue` and
`return` inside loop bodies.

- `for v in range(...)`, over a list value, over an array's first axis,
  and `zip`/`enumerate` of those become a `prim::Loop` whose trip count is
  the sequence's length; `while test:` one with an unbounded trip count
  whose condition is `test`, compiled again at the end of the body.
- `for` over a Python tuple, a list display or a module's list of weights
  (`script_comprehensions.iterate` knows their elements) compiles the body
  once per element, so elements may differ in type.
- `break`, `continue` and `return` set the scripter's own variables
  (`<break>`, `<continue>`, `<returned>` and the returned values); the
  statements after one that may have run are compiled into the else branch
  of a `prim::If` on them, and the loop goes on while neither `<break>` nor
  `<returned>` holds, as TorchScript lowers them.

A loop carries the variables its body changes and that are read later.
The body is compiled again when it turns out to change more than its
assignments say (a write into an array changes every variable that holds
it), or when a carried array was assumed to stay one array and does not.
"""
from __future__ import annotations

import ast
import contextlib
import operator
from collections import Counter
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import FrontendError
from ..ir.graph import Block, Node, Value
from ..ir.types import INT, ListType, TensorType
from .script_aliases import Storage, chain, hint, holders, is_array, is_hidden, replay
from .script_analysis import (LoopExits, assigned_names, first_return, live_at_loop_head, loop_exits,
                              mutated_list)
from .script_comprehensions import Iteration, iterate
from .script_control import discard_loop, emit_loop_node
from .script_expressions import describe
from .script_scope import BREAK, CONTINUE, RETURNED, UNSET, Undefined, is_bound, return_variable, same_value

WHILE_TRIP_COUNT = 2 ** 63 - 1
MAX_LOOP_COMPILATIONS = 8


@dataclass(frozen=True)
class LoopFrame:
    """The loop whose body is being compiled."""

    exits: LoopExits
    line: int
    unrolled: bool = False  # the variables a body leaves stay bound after the loop


class LoopStatements:
    """The loop statements of `FunctionCompiler` (a mixin: it uses the
    compiler's context, expressions, builder, writes and statement lists)."""

    loop: LoopFrame | None = None

    # -- statements -----------------------------------------------------------------------------
    def visit_For(self, statement: ast.For, live_out: set[str]) -> None:
        if statement.orelse:
            raise self.context.error("'for ... else' is not supported", statement.orelse[0])
        self.check_iterated_list_kept(statement)
        if self.is_range_call(statement.iter):
            self.compile_range_loop(statement, live_out)
            return
        iterable = self.expressions.compile(statement.iter)
        with self.context.located(statement.iter):
            sequence, hidden = self.sequence(iterable)
        try:
            if isinstance(sequence, list):
                self.compile_unrolled(statement, sequence, live_out)
            else:
                self.compile_loop(statement, sequence.length, sequence.item, live_out, None)
        finally:
            self.context.variables.pop(hidden, None)

    def visit_While(self, statement: ast.While, live_out: set[str]) -> None:
        if statement.orelse:
            raise self.context.error("'while ... else' is not supported", statement.orelse[0])
        start = self.condition(statement.test)
        if start is not False:
            self.compile_loop(statement, WHILE_TRIP_COUNT, None, live_out, None, start)

    def visit_Break(self, statement: ast.Break, live_out: set[str]) -> None:
        self.context.variables[BREAK] = True

    def visit_Continue(self, statement: ast.Continue, live_out: set[str]) -> None:
        self.context.variables[CONTINUE] = True

    @contextlib.contextmanager
    def in_loop(self, frame: LoopFrame):
        saved, self.loop = self.loop, frame
        try:
            yield
        finally:
            self.loop = saved

    # -- what a for loop visits -------------------------------------------------------------------
    def is_range_call(self, node: ast.expr) -> bool:
        if not isinstance(node, ast.Call) or node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            return False
        try:
            return self.expressions.compile(node.func) is range
        except FrontendError:
            return False

    def sequence(self, iterable: Any) -> tuple[list | Iteration, str | None]:
        """What a loop over `iterable` visits (elements known now, or an
        Iteration), and the hidden variable holding an iterated array: a
        loop over an array visits the rows of the array object, as it
        changes, even when its variable is assigned another array."""
        if is_array(iterable):
            if iterable.type.rank == 0:
                raise FrontendError("iteration over a 0-d array")
            hidden = f"<iterate {len(self.context.variables)}>"
            self.context.variables[hidden] = iterable
            length = self.builder.op("np::dim", iterable, axis=0)
            return Iteration(length, lambda index: self.expressions.subscript(self.context.variables[hidden],
                                                                              index)), hidden
        try:
            return iterate(self.expressions, iterable), None
        except FrontendError:
            raise FrontendError(f"cannot loop over {describe(iterable)}: a for loop takes range(...), a list, "
                                f"a tuple, an array, or zip/enumerate of those") from None

    def check_iterated_list_kept(self, statement: ast.For) -> None:
        """Python iterates a list that the body appends to further; jitc's
        lists are values, so that is refused."""
        if not isinstance(statement.iter, ast.Name):
            return
        name = statement.iter.id
        value = self.context.variables.get(name)
        if not (isinstance(value, Value) and isinstance(value.type, ListType)):
            return
        for node in ast.walk(ast.Module(body=statement.body, type_ignores=[])):
            grows = (isinstance(node, ast.stmt) and mutated_list(node) == name) or (
                isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) and node.target.id == name)
            if grows:
                raise self.context.error(f"the loop adds to the list '{name}' it iterates over, which Python "
                                         f"would then iterate further; loop over a copy: list({name})", node)

    # -- range -----------------------------------------------------------------------------------
    def compile_range_loop(self, statement: ast.For, live_out: set[str]) -> None:
        start, stop, step = self.range_arguments(statement.iter)
        with self.context.located(statement.iter):
            trip_count = self.trip_count(start, stop, step)
        simple = type(start) is int and start == 0 and step == 1
        name = statement.target.id if isinstance(statement.target, ast.Name) else "i"
        self.compile_loop(statement, trip_count, lambda index: self.add(start, self.multiply(index, step)),
                          live_out, name if simple else f"{name}_index")

    def range_arguments(self, iterable: ast.Call) -> tuple[Any, Any, int]:
        """(start, stop, step) of `range(...)`; the step must be a constant."""
        if not 1 <= len(iterable.args) <= 3:
            raise self.context.error("range() takes 1 to 3 positional arguments", iterable)
        values = [self.int_argument(argument) for argument in iterable.args]
        if len(values) == 1:
            return 0, values[0], 1
        if len(values) == 2:
            return values[0], values[1], 1
        step = values[2]
        if type(step) is not int or step == 0:
            raise self.context.error("the step of range() must be a non-zero int constant", iterable.args[2])
        return values[0], values[1], step

    def int_argument(self, node: ast.expr) -> Any:
        """An argument of range(): an int, or an array that Python would
        turn into one through `__index__` (converted with int())."""
        value = self.expressions.compile(node)
        if isinstance(value, Value) and isinstance(value.type, TensorType):
            with self.context.located(node):
                return self.expressions.call(int, [value], {})
        if type(value) is not int and not (isinstance(value, Value) and value.type == INT):
            raise self.context.error(f"range() takes ints, got {describe(value)}", node)
        return value

    def trip_count(self, start: Any, stop: Any, step: int) -> Any:
        """`len(range(start, stop, step))`, except that an empty range may
        give a negative count: `prim::Loop` runs while `i < count`."""
        distance = self.subtract(stop, start) if step > 0 else self.subtract(start, stop)
        stride = abs(step)
        if stride == 1:
            return distance
        return self.expressions.apply_operator(operator.floordiv, "//", self.add(distance, stride - 1), stride)

    def add(self, a: Any, b: Any) -> Any:
        if type(b) is int and b == 0:
            return a
        if type(a) is int and a == 0:
            return b
        return self.expressions.apply_operator(operator.add, "+", a, b)

    def subtract(self, a: Any, b: Any) -> Any:
        if type(b) is int and b == 0:
            return a
        return self.expressions.apply_operator(operator.sub, "-", a, b)

    def multiply(self, a: Any, b: int) -> Any:
        return a if b == 1 else self.expressions.apply_operator(operator.mul, "*", a, b)

    # -- unrolled loops ------------------------------------------------------------------------------
    def compile_unrolled(self, statement: ast.For, items: list, live_out: set[str]) -> None:
        """The body once per element; after a `break` or `return` that may
        have run, the rest of the elements in the else branch of an if."""
        live_at_head = live_at_loop_head(statement, live_out)
        frame = LoopFrame(loop_exits(live_out, live_at_head), self.source.location(statement).line, True)
        outer = {name: self.context.variables[name] for name in (BREAK, CONTINUE) if name in self.context.variables}
        self.unroll(statement, items, frame, live_at_head)
        for name in (BREAK, CONTINUE):
            self.context.variables.pop(name, None)
        self.context.variables.update(outer)

    def unroll(self, statement: ast.For, items: list, frame: LoopFrame, live_at_head: set[str]) -> None:
        for position, item in enumerate(items):
            self.context.variables[BREAK] = self.context.variables[CONTINUE] = False
            with self.context.located(statement.target):
                self.assign(statement.target, self.writes.rebase(item))
            with self.in_loop(frame):
                self.compile_statements(statement.body, live_at_head)
            stop = self.stop_flag()
            rest = items[position + 1:]
            if stop is True or (isinstance(stop, Value) and not rest):
                return
            if isinstance(stop, Value):
                self.compile_guarded(stop, lambda: self.unroll(statement, rest, frame, live_at_head),
                                     live_at_head, statement, "iteration", unrolled=True)
                return

    # -- prim::Loop ----------------------------------------------------------------------------------
    def compile_loop(self, statement: ast.For | ast.While, trip_count: Any, item: Callable[[Value], Any] | None,
                     live_out: set[str], index_name: str | None, start_condition: Any = True) -> None:
        """A `prim::Loop` over `trip_count` iterations (a `for` binds its
        target to `item(index)`; a `while` has no item and tests its test)."""
        live_at_head = live_at_loop_head(statement, live_out)
        frame = self.frame(statement, live_out, live_at_head)
        self.prepare_returns(statement.body)
        before = self.context.variables
        assigned = assigned_names([statement])
        carried = [name for name in assigned if is_bound(before, name) and name in live_at_head]
        if first_return(statement.body) is not None:
            carried += [name for name in before if name == RETURNED or name.startswith("<return ")]
        demoted: dict[str, frozenset] = {}
        for _ in range(MAX_LOOP_COMPILATIONS):
            derived = self.derived_views(before, carried, assigned, live_at_head, demoted)
            decisions = self.writes.table.decisions
            state: dict[str, Any] = {}

            def body(index: Value, params: list[Value]) -> tuple[Any, list[Any]]:
                return self.iteration(statement, frame, item, index, params, before, carried, derived, demoted,
                                      live_at_head, state)

            with self.context.located(statement):
                node = emit_loop_node(self.builder, trip_count, [(hint(name), before[name]) for name in carried],
                                      body, index_name, start_condition)
            grown = self.grown(before, carried, derived, state["end"], live_at_head, demoted)
            wrong = self.misclassified(node.blocks[0], carried, state)
            depended = (self.writes.table.decisions != decisions
                        or any(holder in wrong for holder, _ in derived.values()))
            if not grown and not (wrong and depended):
                break
            carried += grown
            demoted.update(wrong)
            discard_loop(self.graph, node)
        else:
            raise self.context.error("the variables this loop changes did not settle", statement)
        self.context.variables = self.after_loop(statement, frame, before, assigned, carried, derived,
                                                 list(node.outputs))

    def frame(self, statement: ast.For | ast.While, live_out: set[str], live_at_head: set[str]) -> LoopFrame:
        return LoopFrame(loop_exits(live_out, live_at_head), self.source.location(statement).line)

    def iteration(self, statement, frame, item, index, params, before, carried, derived, demoted, live_at_head,
                  state) -> tuple[Any, list[Any]]:
        """Compile one iteration; returns (go on, the carried values)."""
        variables = dict(before)
        variables.update(zip(carried, params))
        state["classes"] = self.classify_params(carried, params, before, demoted, frame)
        for name, (holder, steps) in derived.items():
            variables[name] = replay(self.builder, steps, variables[holder])
        variables[BREAK] = variables[CONTINUE] = False
        self.context.variables = variables
        if item is not None:
            with self.context.located(statement.target):
                self.assign(statement.target, self.writes.rebase(item(index)))
        with self.in_loop(frame):
            self.compile_statements(statement.body, live_at_head)
        condition = self.loop_condition(statement)
        state["end"] = self.context.variables
        values = []
        for name in carried:
            value = self.context.variables[name]
            if isinstance(value, Undefined):
                raise self.context.error(value.message, statement)
            values.append(value)
        return condition, values

    def loop_condition(self, statement: ast.For | ast.While) -> Any:
        """Whether the loop goes on after this iteration: no break or return
        ran and, for `while`, its test holds (tested only then)."""
        stop = self.stop_flag()
        if stop is True:
            return False
        keep = True if stop is False else self.expressions.call(operator.not_, [stop], {})
        if not isinstance(statement, ast.While):
            return keep
        if keep is True:
            return self.condition(statement.test)
        return self.expressions.short_circuit([lambda: keep, lambda: self.condition(statement.test)], is_and=True)

    def prepare_returns(self, body: list[ast.stmt]) -> None:
        """Before a loop whose body returns: nothing returned yet."""
        returned = first_return(body)
        if returned is None:
            return
        variables = self.context.variables
        variables.setdefault(RETURNED, False)
        count = len(returned.value.elts) if isinstance(returned.value, ast.Tuple) else 1
        for index in range(count):
            variables.setdefault(return_variable(index), UNSET)

    def after_loop(self, statement, frame, before, assigned, carried, derived, outputs) -> dict[str, Any]:
        kind = "for" if isinstance(statement, ast.For) else "while"
        after = dict(before)
        for name in assigned:
            after[name] = Undefined(
                f"'{name}' is assigned inside the {kind} loop at line {frame.line} and read after it, where "
                f"it would be undefined if the loop ran zero times (Python keeps the value of the last "
                f"iteration); assign '{name}' before the loop")
        after.update(zip(carried, outputs))
        for name, (holder, steps) in derived.items():
            after[name] = replay(self.builder, steps, after[holder])
        return after

    # -- which arrays a loop carries ---------------------------------------------------------------
    def grown(self, before, carried, derived, end, live_at_head, demoted) -> list[str]:
        """Variables the body changed that are not carried yet; one that
        holds (a view of) an array a carried variable holds the whole of is
        derived from it instead."""
        changed = [name for name, value in before.items()
                   if name not in carried and name not in derived and name not in (BREAK, CONTINUE)
                   and (name in live_at_head or is_hidden(name)) and is_bound(before, name)
                   and is_bound(end, name) and not same_value(value, end[name])]
        grown, roots = [], {self._whole(before[name]) for name in carried if name not in demoted} - {None}
        changed.sort(key=lambda name: is_array(before[name]) and self._whole(before[name]) is None)
        for name in changed:
            root = self._whole(before[name])
            if is_array(before[name]) and chain(before[name], self.writes.table.storages)[0] in roots:
                continue
            grown.append(name)
            if root is not None:
                roots.add(root)
        return grown

    def _whole(self, value: Any) -> Value | None:
        """`value` when it is the whole of its array."""
        if not is_array(value):
            return None
        root, steps = self.writes.table.chain(value)
        return None if steps else root

    def derived_views(self, before, carried, assigned, live_at_head, demoted) -> dict[str, tuple[str, list]]:
        """Variables not assigned in the loop that hold (views of) an array a
        carried variable holds the whole of: inside the loop and after it
        they are made again from that variable."""
        holders = {}
        for name in carried:
            root = self._whole(before[name])
            if root is not None and name not in demoted:
                holders.setdefault(root, name)
        derived = {}
        for name, value in before.items():
            if name in carried or name in assigned or name in (BREAK, CONTINUE) or not is_array(value):
                continue
            if not (name in live_at_head or is_hidden(name)):
                continue
            root, steps = self.writes.table.chain(value)
            if root in holders:
                derived[name] = (holders[root], steps)
        return derived

    def classify_params(self, carried, params, before, demoted, frame) -> dict[str, Storage]:
        """The array each carried array parameter is: the array it enters
        with when it enters as a whole and another variable holds that array
        too (checked after the body), else a merged array that may be any it
        was seen to be (an accumulator no other variable holds may become
        another array on each iteration without compiling the body again)."""
        table = self.writes.table
        shared = Counter(storage for _, storage in holders(before, table))
        classes = {}
        for name, param in zip(carried, params):
            if not is_array(param) or not is_array(before[name]):
                continue
            root, steps = table.chain(before[name])
            entering = table.of(root)
            if steps or name in demoted or entering is None or shared[entering] < 2:
                known = ({entering} if entering is not None else set()) | set(demoted.get(name, ()))
                storage = Storage("merged", name, frozenset(known).union(*(s.maybe for s in known)),
                                  f"at line {frame.line}")
            else:
                storage = entering
            table.storages[param] = classes[name] = storage
        return classes

    def misclassified(self, body: Block, carried, state) -> dict[str, frozenset]:
        """Carried arrays whose assumed array an iteration does not keep
        (one assumed to stay one array is left as another, or as a view),
        with what they may then be."""
        table, end, classes = self.writes.table, state["end"], state["classes"]
        wrong = {}
        for name in carried:
            storage, value = classes.get(name), end.get(name)
            if storage is None or not is_array(value):
                continue
            root, steps = table.chain(value)
            leaving, inside = table.of(root), _defined_inside(root, body)
            if storage.kind == "merged":
                if leaving is None or leaving is storage or leaving in storage.maybe or inside:
                    continue
            elif leaving is storage and not steps:
                continue
            known = storage.maybe if storage.kind == "merged" else frozenset({storage})
            wrong[name] = known | ({leaving} if leaving is not None and not inside else set())
        return wrong


def _defined_inside(value: Value, block: Block) -> bool:
    """True when `value` is made in `block` or a block nested in it."""
    owner = value.owner if value.producer is None else value.producer.block
    while owner is not None:
        if owner is block:
            return True
        node = owner.owner if isinstance(owner, Block) else None
        owner = node.block if isinstance(node, Node) else None
    return False


__all__ = ["LoopStatements", "LoopFrame", "WHILE_TRIP_COUNT"]
