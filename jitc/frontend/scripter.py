"""The AST scripter: compiles a plain Python function written with NumPy
into a generic IR graph that keeps its loops and branches, as
`torch.jit.script` does.

    script_graph(fn, param_types=None) -> Graph

The statements run at compile time over frontend values (`script_scope`);
expressions lower through the NumPy mapping table (`script_expressions`);
`if` becomes `prim::If` and `for ... in range(...)` becomes `prim::Loop`
(`script_control`), and liveness (`script_analysis`) decides which
variables leave them.

Where the compiled program differs from Python, by design:
- `x += y` rebinds `x` to `x + y`, and `y.append(v)` rebinds `y` to
  `y + [v]`: arrays and lists are values, so other names bound to the same
  object do not see the change.
- `not`, `and`, `or` and chained comparisons give Python bools (operands
  go through `bool()`); `and`/`or` short-circuit through a `prim::If`, so
  `i < n and x[i] > 0` never evaluates `x[i]` when `i >= n`.
- An empty list literal is a `List[Never]`: its element type comes from
  what is appended or added to it, joined across branches and iterations.
- A variable first assigned inside a loop body cannot be read after the
  loop, and one assigned in only one branch of an `if` cannot be read
  after the `if`: both are errors at the read, not undefined values.
- A `return` may appear inside `if`s (the statements after such an `if`
  are compiled into each branch that falls through) but not inside loops.
"""
from __future__ import annotations

import ast
import inspect
import operator
import typing
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import FrontendError
from ..ir.graph import Graph, Value
from ..ir.types import BOOL, FLOAT, INT, NONE, TENSOR, ListType, TensorType, TupleType, Type
from ..ir.verifier import verify
from .builder import GraphBuilder
from .script_analysis import (always_returns, assigned_names, first_return, live_after_each,
                              live_at_loop_head, mutated_list)
from .script_control import Merged, emit_if, emit_loop
from .script_expressions import BINARY_OPERATORS, ExpressionCompiler, describe
from .script_scope import ScriptContext, Undefined, is_bound, same_value
from .script_source import FunctionSource

UNSUPPORTED_STATEMENTS = {
    ast.While: "'while' loops are not supported yet; use a for loop over range(...)",
    ast.Break: "'break' is not supported yet",
    ast.Continue: "'continue' is not supported yet",
    ast.With: "'with' statements are not supported",
    ast.AsyncWith: "'async with' statements are not supported",
    ast.Try: "'try' statements are not supported",
    ast.Raise: "'raise' is not supported yet",
    ast.Assert: "'assert' is not supported yet",
    ast.Global: "'global' is not supported: a scripted function cannot assign names outside it",
    ast.Nonlocal: "'nonlocal' is not supported: a scripted function cannot assign names outside it",
    ast.FunctionDef: "nested function definitions are not supported; define the function at "
                     "module level and inline what it computes",
    ast.AsyncFunctionDef: "nested function definitions are not supported",
    ast.ClassDef: "class definitions inside a scripted function are not supported",
    ast.Import: "'import' inside a scripted function is not supported; import at module level",
    ast.ImportFrom: "'import' inside a scripted function is not supported; import at module level",
    ast.Delete: "'del' is not supported",
    ast.AsyncFor: "'async for' is not supported",
    ast.Match: "'match' statements are not supported",
}
if hasattr(ast, "TryStar"):
    UNSUPPORTED_STATEMENTS[ast.TryStar] = "'try' statements are not supported"

_SCALAR_ANNOTATIONS = {int: INT, float: FLOAT, bool: BOOL, None: NONE, type(None): NONE}


def script_graph(function: Callable, param_types: Sequence[Type] | None = None) -> Graph:
    """The generic graph of `function`. Its parameters are the function's,
    typed by `param_types`, else by their annotations, else as `Tensor`;
    its returns are the returned value, or the elements of a returned
    tuple display (`return a, b`). Raises ScriptError for what jitc cannot
    compile, quoting the source line."""
    return script_graph_with_arity(function, param_types)[0]


def script_graph_with_arity(function: Callable, param_types: Sequence[Type] | None = None
                            ) -> tuple[Graph, int | None]:
    """`script_graph`, and the output arity: None when the function returns
    one value, the tuple's length when it returns a tuple display (so that
    `return (a,)` and `return a` can be told apart)."""
    compiler = FunctionCompiler(FunctionSource(function))
    graph, arity = compiler.compile(param_types)
    return verify(graph), arity


@dataclass(frozen=True)
class Returned:
    """What one path through the function returns. `arity` is None for
    `return x` and the number of elements for `return a, b`; `node` is the
    return statement (the `def` for the implicit `return None`)."""

    values: tuple[Any, ...]
    arity: int | None
    node: ast.AST

    def describe(self) -> str:
        return "one value" if self.arity is None else f"a tuple of {self.arity}"


class FunctionCompiler:
    """Compiles the statements of one function into a graph."""

    def __init__(self, source: FunctionSource):
        self.source = source
        self.definition = source.definition
        if isinstance(self.definition, ast.AsyncFunctionDef):
            raise source.error("async functions are not supported", self.definition)
        self.graph = Graph(self.definition.name)
        self.builder = GraphBuilder(self.graph)
        parameters = self.definition.args.posonlyargs + self.definition.args.args
        local_names = {p.arg for p in parameters} | set(assigned_names(self.definition.body))
        self.context = ScriptContext(source, self.builder, local_names)
        self.expressions = ExpressionCompiler(self.context)

    def compile(self, param_types: Sequence[Type] | None) -> tuple[Graph, int | None]:
        self.add_parameters(param_types)
        returned = self.compile_tail(self.definition.body)
        with self.context.located(returned.node):
            self.graph.block.set_returns([self.builder.value(v) for v in returned.values])
        return self.graph, returned.arity

    # -- parameters ------------------------------------------------------------------------------
    def add_parameters(self, param_types: Sequence[Type] | None) -> None:
        arguments = self.definition.args
        for special in (arguments.vararg, *arguments.kwonlyargs, arguments.kwarg):
            if special is not None:
                raise self.context.error("jitc.script supports positional parameters only, not "
                                         "*args, keyword-only parameters or **kwargs", special)
        parameters = arguments.posonlyargs + arguments.args
        if param_types is not None and len(param_types) != len(parameters):
            raise ValueError(f"{self.definition.name} has {len(parameters)} parameters, "
                             f"got {len(param_types)} types")
        for index, parameter in enumerate(parameters):
            type = param_types[index] if param_types is not None else self.annotated_type(parameter)
            self.context.bind(parameter.arg, self.graph.add_param(type, parameter.arg))

    def annotated_type(self, parameter: ast.arg) -> Type:
        if parameter.annotation is None:
            return TENSOR
        try:
            annotation = inspect.get_annotations(self.source.function, eval_str=True)[parameter.arg]
        except Exception as error:  # evaluating an annotation string can raise anything
            raise self.context.error(f"cannot evaluate the annotation of '{parameter.arg}': {error}",
                                     parameter.annotation) from None
        type = type_from_annotation(annotation)
        if type is None:
            raise self.context.error(
                f"jitc.script does not support the annotation {ast.unparse(parameter.annotation)} "
                f"of '{parameter.arg}'; use np.ndarray, int, float, bool, list[...] or tuple[...]",
                parameter.annotation)
        return type

    # -- statement lists ---------------------------------------------------------------------------
    def compile_statements(self, statements: list[ast.stmt], live_out: set[str]) -> Returned | None:
        """Compile `statements` in order; returns what they return, or None
        when control falls off their end. `live_out` are the names read
        after them."""
        live_after = live_after_each(statements, live_out)
        for index, statement in enumerate(statements):
            if isinstance(statement, ast.Return):
                return self.compile_return(statement)
            if isinstance(statement, ast.If) and first_return([statement]) is not None:
                return self.compile_returning_if(statement, statements[index + 1:])
            self.compile_statement(statement, live_after[index])
        return None

    def compile_tail(self, statements: list[ast.stmt]) -> Returned:
        """Compile statements that end the function: falling off their end
        returns None, as in Python."""
        return self.compile_statements(statements, set()) or Returned((None,), None, self.definition)

    def compile_statement(self, statement: ast.stmt, live_out: set[str]) -> None:
        handler = getattr(self, "visit_" + type(statement).__name__, None)
        if handler is None:
            message = UNSUPPORTED_STATEMENTS.get(
                type(statement), f"{type(statement).__name__} statements are not supported")
            raise self.context.error(message, statement)
        with self.context.located(statement):
            handler(statement, live_out)

    # -- simple statements ---------------------------------------------------------------------------
    def visit_Pass(self, statement: ast.Pass, live_out: set[str]) -> None:
        pass

    def visit_Expr(self, statement: ast.Expr, live_out: set[str]) -> None:
        if isinstance(statement.value, ast.Constant):  # docstrings and other bare constants
            return
        name = mutated_list(statement)
        if name is not None and self.mutate_list(statement.value, name):
            return
        self.expressions.compile(statement.value)

    def mutate_list(self, call: ast.Call, name: str) -> bool:
        """`items.append(v)` / `items.extend(vs)` on a list variable: rebind
        it to the longer list. False when `items` is not a list."""
        items = self.context.lookup(name, call.func.value)
        if not (isinstance(items, Value) and isinstance(items.type, ListType)):
            return False
        method = call.func.attr
        if call.keywords or len(call.args) != 1:
            raise self.context.error(f"list.{method}() takes exactly one argument", call)
        argument = self.expressions.compile(call.args[0])
        kind = "prim::ListAppend" if method == "append" else "prim::ListAdd"
        with self.context.located(call):
            self.context.bind(name, self.builder.op(kind, items, argument))
        return True

    def visit_Assign(self, statement: ast.Assign, live_out: set[str]) -> None:
        value = self.expressions.compile(statement.value)
        for target in statement.targets:
            self.assign(target, value)

    def visit_AnnAssign(self, statement: ast.AnnAssign, live_out: set[str]) -> None:
        if statement.value is not None:
            self.assign(statement.target, self.expressions.compile(statement.value))

    def visit_AugAssign(self, statement: ast.AugAssign, live_out: set[str]) -> None:
        """`x op= y` is `x = x op y`: a new value, never an in-place update."""
        target = statement.target
        if not isinstance(target, ast.Name):
            raise self.context.error(_assignment_target_message(target), target)
        function, symbol = BINARY_OPERATORS[type(statement.op)]
        current = self.context.lookup(target.id, target)
        value = self.expressions.apply_operator(function, symbol + "=", current,
                                                self.expressions.compile(statement.value))
        self.context.bind(target.id, value)

    def assign(self, target: ast.expr, value: Any) -> None:
        if isinstance(target, ast.Name):
            self.context.bind(target.id, value)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                if isinstance(element, ast.Starred):
                    raise self.context.error("starred assignment targets (a, *b = ...) are not supported",
                                             element)
            with self.context.located(target):
                items = self.unpack(value, len(target.elts))
            for element, item in zip(target.elts, items):
                self.assign(element, item)
        else:
            raise self.context.error(_assignment_target_message(target), target)

    def unpack(self, value: Any, count: int) -> list[Any]:
        if isinstance(value, tuple):
            if len(value) != count:
                raise FrontendError(f"cannot unpack a tuple of {len(value)} into {count} names")
            return list(value)
        if isinstance(value, Value) and isinstance(value.type, (TupleType, ListType)):
            kind = "prim::TupleUnpack" if isinstance(value.type, TupleType) else "prim::ListUnpack"
            return self.builder.op_multi(kind, [value], num_outputs=count)
        raise FrontendError(f"cannot unpack {describe(value)} into {count} names; only tuples and "
                            "lists can be unpacked (index arrays instead: x[0], x[1])")

    # -- if --------------------------------------------------------------------------------------------
    def condition(self, test: ast.expr) -> bool | Value:
        """The truth of an `if` test: a Python bool when known now."""
        with self.context.located(test):
            return self.expressions.truth(self.expressions.compile(test))

    def visit_If(self, statement: ast.If, live_out: set[str]) -> None:
        """An if without returns. Variables that either branch assigns and
        that are read later leave the `prim::If` as outputs; one assigned in
        a single branch becomes undefined after it."""
        condition = self.condition(statement.test)
        if not isinstance(condition, Value):
            self.compile_statements(statement.body if condition else statement.orelse, live_out)
            return
        before = self.context.variables
        after = dict(before)
        merged: list[Merged] = []
        line = self.source.location(statement).line

        def compile_branch(statements: list[ast.stmt]) -> dict[str, Any]:
            self.compile_statements(statements, live_out)
            return self.context.variables

        def merge(then_variables: dict[str, Any], else_variables: dict[str, Any]) -> list[Merged]:
            for name in assigned_names(statement.body + statement.orelse):
                if not (is_bound(then_variables, name) and is_bound(else_variables, name)):
                    after[name] = Undefined(
                        f"'{name}' is defined in only one branch of the if at line {line}; "
                        f"assign it in both branches, or before the if")
                elif same_value(then_variables[name], else_variables[name]):
                    after[name] = then_variables[name]
                elif name in live_out:
                    merged.append(Merged(f"'{name}'", name, then_variables[name], else_variables[name]))
                else:
                    after[name] = Undefined(f"'{name}' is not available after the if at line {line}")
            return merged

        outputs = emit_if(self.builder, condition, self.branch(before, compile_branch, statement.body),
                          self.branch(before, compile_branch, statement.orelse), merge)
        after.update((item.name, output) for item, output in zip(merged, outputs))
        self.context.variables = after

    def branch(self, before: dict[str, Any], compile_body: Callable[..., Any], *args: Any
               ) -> Callable[[], Any]:
        """A branch callback for `emit_if`: `compile_body(*args)`, starting
        from the variables `before` the if."""
        def compile_branch() -> Any:
            self.context.variables = dict(before)
            return compile_body(*args)
        return compile_branch

    # -- return ----------------------------------------------------------------------------------------
    def compile_return(self, statement: ast.Return) -> Returned:
        with self.context.located(statement):
            value = statement.value
            if isinstance(value, ast.Tuple):
                return Returned(self.expressions.visit_Tuple(value), len(value.elts), statement)
            return Returned((None if value is None else self.expressions.compile(value),), None, statement)

    def compile_returning_if(self, statement: ast.If, rest: list[ast.stmt]) -> Returned:
        """An if with a return inside, in the tail of the function: the
        statements after it are compiled into each branch that falls
        through, so every path ends in a return and the `prim::If`'s outputs
        are the returned values."""
        then_statements = statement.body + ([] if always_returns(statement.body) else rest)
        else_statements = statement.orelse + ([] if always_returns(statement.orelse) else rest)
        condition = self.condition(statement.test)
        if not isinstance(condition, Value):
            return self.compile_tail(then_statements if condition else else_statements)
        before = self.context.variables
        returns: list[Returned] = []

        def merge(then_returned: Returned, else_returned: Returned) -> list[Merged]:
            self.check_same_arity(then_returned, else_returned)
            returns.append(then_returned)
            labels = (["the return value"] if then_returned.arity is None else
                      [f"return value {i}" for i in range(then_returned.arity)])
            return [Merged(label, None, a, b)
                    for label, a, b in zip(labels, then_returned.values, else_returned.values)]

        with self.context.located(statement):
            outputs = emit_if(self.builder, condition, self.branch(before, self.compile_tail, then_statements),
                              self.branch(before, self.compile_tail, else_statements), merge)
        return Returned(tuple(outputs), returns[0].arity, returns[0].node)

    def check_same_arity(self, first: Returned, second: Returned) -> None:
        if first.arity == second.arity:
            return
        node, other = (second, first) if isinstance(second.node, ast.Return) else (first, second)
        where = (f"the return at line {self.source.location(other.node).line}"
                 if isinstance(other.node, ast.Return) else "the implicit `return None`")
        message = (f"this return gives {node.describe()} but {where} gives {other.describe()}; "
                   "every return of a function must give the same number of values")
        raise self.context.error(message, node.node)

    # -- for ------------------------------------------------------------------------------------------
    def visit_For(self, statement: ast.For, live_out: set[str]) -> None:
        """`for v in range(...)` as a `prim::Loop`. The variables it
        carries are those the body assigns that exist before the loop and
        are live at its head (read after the loop, or by a later iteration
        before being assigned)."""
        target = self.check_for_loop(statement)
        start, stop, step = self.range_arguments(statement.iter)
        with self.context.located(statement.iter):
            trip_count = self.trip_count(start, stop, step)
        live_at_head = live_at_loop_head(statement, live_out)
        assigned = assigned_names([statement])
        carried = [name for name in assigned if is_bound(self.context.variables, name) and name in live_at_head]
        before = self.context.variables

        def iteration(index: Value, params: list[Value]) -> list[Any]:
            self.context.variables = dict(before)
            self.context.variables.update(zip(carried, params))
            with self.context.located(statement.target):
                self.context.bind(target, self.add(start, self.multiply(index, step)))
            self.compile_statements(statement.body, live_at_head)
            return [self.context.variables[name] for name in carried]

        simple = type(start) is int and start == 0 and step == 1
        outputs = emit_loop(self.builder, trip_count, [(name, before[name]) for name in carried],
                            iteration, index_name=target if simple else f"{target}_index")
        line = self.source.location(statement).line
        after = dict(before)
        for name in assigned:
            after[name] = Undefined(
                f"'{name}' is assigned inside the for loop at line {line} and read after it, where it "
                f"would be undefined if the loop ran zero times (Python keeps the value of the last "
                f"iteration); assign '{name}' before the loop")
        after.update(zip(carried, outputs))
        self.context.variables = after

    def check_for_loop(self, statement: ast.For) -> str:
        """The loop variable's name, after rejecting what jitc cannot loop over."""
        if statement.orelse:
            raise self.context.error("'for ... else' is not supported", statement.orelse[0])
        if not isinstance(statement.target, ast.Name):
            raise self.context.error("the variable of a for loop over range(...) must be a single name",
                                     statement.target)
        returned = first_return(statement.body)
        if returned is not None:
            raise self.context.error("'return' inside a for loop is not supported yet; assign the "
                                     "result to a variable and return it after the loop", returned)
        return statement.target.id

    def range_arguments(self, iterable: ast.expr) -> tuple[Any, Any, int]:
        """(start, stop, step) of `range(...)`; the step must be a constant."""
        if not (isinstance(iterable, ast.Call) and self.expressions.compile(iterable.func) is range):
            raise self.context.error("jitc.script supports for loops over range(...) only; to loop over "
                                     "a list or an array, loop over range(len(...)) and index it", iterable)
        if iterable.keywords or not 1 <= len(iterable.args) <= 3:
            raise self.context.error("range() takes 1 to 3 positional arguments", iterable)
        values = [self.int_argument(argument) for argument in iterable.args]
        if len(values) == 1:
            return 0, values[0], 1
        if len(values) == 2:
            return values[0], values[1], 1
        step = values[2]
        if type(step) is not int or step == 0:
            raise self.context.error("the step of range() must be a non-zero int constant",
                                     iterable.args[2])
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


def type_from_annotation(annotation: Any) -> Type | None:
    """The IR type a parameter annotation asks for, or None if jitc has none."""
    if annotation is np.ndarray or typing.get_origin(annotation) is np.ndarray:
        return TENSOR
    try:
        if annotation in _SCALAR_ANNOTATIONS:
            return _SCALAR_ANNOTATIONS[annotation]
    except TypeError:  # an unhashable annotation
        return None
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is list or origin is list:
        element = type_from_annotation(arguments[0]) if arguments else TENSOR
        return None if element is None else ListType(element)
    if origin is tuple and arguments and Ellipsis not in arguments:
        elements = [type_from_annotation(argument) for argument in arguments]
        return None if None in elements else TupleType(tuple(elements))
    return None


def _assignment_target_message(target: ast.expr) -> str:
    what = "an attribute" if isinstance(target, ast.Attribute) else "an element or a slice"
    return (f"assigning to {what} is not supported: arrays are values in jitc, so compute a new "
            "array instead (with np.where, np.concatenate, ...)")


__all__ = ["script_graph", "script_graph_with_arity", "type_from_annotation"]
