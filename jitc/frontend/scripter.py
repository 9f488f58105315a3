"""The AST scripter: compiles a plain Python function written with NumPy
into a generic IR graph that keeps its loops and branches, as
`torch.jit.script` does.

    script_graph(fn, param_types=None) -> Graph

The statements run at compile time over frontend values (`script_scope`);
expressions lower through the NumPy mapping table (`script_expressions`);
`if` becomes `prim::If` (`script_control`), loops become `prim::Loop` or
are unrolled (`script_loops`), liveness (`script_analysis`) decides which
variables leave them, and writes into arrays go through `script_aliases`.

Where the compiled program differs from Python, by design:
- Lists are values: `y.append(v)` and `y[i] = v` rebind `y` to a new list,
  so other names bound to the same list do not see the change, and a loop
  may not append to the list it iterates over.
- Arrays are NumPy's: `x[i] = v`, `x[1:] += v` and `x += v` write into the
  array, and every variable holding it or a view of it (`y = x[1:]`,
  `b = a`) sees the write; a function that writes into an array parameter
  writes into the caller's array (`prim::CopyInto` at its end). Where
  jitc cannot tell which array a write reaches (a variable that an `if`
  or a loop leaves holding one of several arrays, an array taken out of a
  list, a reshape, a module's array), the write is a ScriptError. A 0-d
  array is taken to be a NumPy scalar: `s += 1` rebinds `s`. Results are
  new arrays, never the arguments themselves.
- `not`, `and`, `or` and chained comparisons give Python bools (operands
  go through `bool()`); `and`/`or` short-circuit through a `prim::If`, so
  `i < n and x[i] > 0` never evaluates `x[i]` when `i >= n`.
- An empty list literal is a `List[Never]`: its element type comes from
  what is appended or added to it, joined across branches and iterations.
- A variable first assigned inside a loop body cannot be read after the
  loop, and one assigned in only one branch of an `if` cannot be read
  after the `if`: both are errors at the read, not undefined values. A
  `for` over elements known while compiling (a tuple, a list display) is
  unrolled, so there the last iteration's values stay, as in Python.
- `assert` checks at run time and raises AssertionError naming its line;
  its message must be a constant. `raise ValueError("...")` (any built-in
  exception) raises it at run time with the message and the line; a
  message made from values known only at run time reads as its source
  text. What follows a `raise` on its path is not compiled.
- A Python scalar that a loop turns into a NumPy scalar (`total = 0.0`,
  then `total = total + x[i]`) enters the loop as a 0-d array of the
  dtype one iteration gives, so a loop that runs no iteration returns a
  NumPy scalar where Python returns the Python scalar.
- `x.ndim` and `x.dtype == np.float32` are known while compiling (a graph
  is compiled per rank and dtype), so they pick branches then.
"""
from __future__ import annotations

import ast
import builtins
import inspect
import operator
import typing
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import FrontendError, ScriptError
from ..ir.graph import Graph, Value
from ..ir.types import BOOL, FLOAT, INT, NONE, TENSOR, DType, ListType, TensorType, TupleType, Type
from ..ir.verifier import verify
from .builder import GraphBuilder, is_constant
from .numpy_api import NUMPY_API
from .script_aliases import ArrayWrites, arrays_in, display, hint, is_array, is_hidden, replay
from .script_analysis import always_returns, assigned_names, first_return, live_after_each, mutated_list
from .script_calls import make_lambda
from .script_comprehensions import elements_of
from .script_control import Merged, emit_if
from .script_expressions import BINARY_OPERATORS, ExpressionCompiler, describe
from .script_loops import LoopStatements
from .script_scope import (BREAK, CONTINUE, RAISED, RETURNED, UNSET, ScriptContext, Undefined, array_variable,
                           return_variable, same_value)
from .script_source import FunctionSource

UNSUPPORTED_STATEMENTS = {
    ast.With: "'with' statements are not supported",
    ast.AsyncWith: "'async with' statements are not supported",
    ast.Try: "'try' statements are not supported",
    ast.Global: "'global' is not supported: a scripted function cannot assign names outside it",
    ast.Nonlocal: "'nonlocal' is not supported: a scripted function cannot assign names outside it",
    ast.FunctionDef: "a nested function whose body is more than one `return` is not supported; define it "
                     "at module level (jitc inlines calls to it)",
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
_UFUNC_NAMES = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide", "//": "floor_divide",
                "%": "remainder", "**": "power", "@": "matmul", "&": "bitwise_and", "|": "bitwise_or",
                "^": "bitwise_xor", "<<": "left_shift", ">>": "right_shift"}


def script_graph(function: Callable, param_types: Sequence[Type] | None = None) -> Graph:
    """The generic graph of `function`. Its parameters are the function's,
    typed by `param_types`, else by their annotations, else as `Tensor`;
    its returns are the returned value, or the elements of a returned
    tuple display (`return a, b`). Raises ScriptError for what jitc cannot
    compile, quoting the source line."""
    return script_graph_with_arity(function, param_types)[0]


def script_graph_with_arity(function: Callable, param_types: Sequence[Type] | None = None,
                            static_arguments: dict[str, Any] | None = None) -> tuple[Graph, int | None]:
    """`script_graph`, and the output arity: None when the function returns
    one value, the tuple's length when it returns a tuple display (so that
    `return (a,)` and `return a` can be told apart).

    With `static_arguments` ({name: value}), those parameters are the given
    constants (the graph keeps them as unused inputs), and an int or bool
    parameter whose value compiling needs raises `StaticValueNeeded`."""
    compiler = FunctionCompiler(FunctionSource(function))
    graph, arity = compiler.compile(param_types, static_arguments)
    return verify(graph), arity


@dataclass(frozen=True)
class Returned:
    """What one path through the function returns. `arity` is None for
    `return x` and the number of elements for `return a, b`; `node` is the
    return statement (the `def` for the implicit `return None`); `arrays`
    are the contents then of the arrays the caller passed in
    (`FunctionCompiler.visible`)."""

    values: tuple[Any, ...]
    arity: int | None
    node: ast.AST
    arrays: tuple[Any, ...] = ()
    raises: bool = False  # the path ends in a `raise`: it returns nothing

    def unset_like(self, other: "Returned") -> "Returned":
        """This raising path as a return of `other`'s arity that is never read."""
        return Returned((UNSET,) * len(other.values), other.arity, self.node, self.arrays, True)

    def describe(self) -> str:
        return "one value" if self.arity is None else f"a tuple of {self.arity}"


class FunctionCompiler(LoopStatements):
    """Compiles the statements of one function into a graph."""

    def __init__(self, source: FunctionSource, builder: GraphBuilder | None = None):
        """`builder`: emit into an existing graph (a call inlined by `script_calls`)."""
        self.source = source
        self.definition = source.definition
        if isinstance(self.definition, ast.AsyncFunctionDef):
            raise source.error("async functions are not supported", self.definition)
        self.builder = builder or GraphBuilder(Graph(self.definition.name))
        self.graph = self.builder.graph
        parameters = self.definition.args.posonlyargs + self.definition.args.args
        local_names = {p.arg for p in parameters} | set(assigned_names(self.definition.body))
        self.context = ScriptContext(source, self.builder, local_names)
        self.expressions = ExpressionCompiler(self.context)
        self.writes = ArrayWrites(self.context, self.setitem)
        # The hidden variables holding the arrays the caller passed in, and those arrays.
        self.visible: dict[str, Value] = {}
        self.loop_return: Returned | None = None  # the first `return` inside a loop

    def compile(self, param_types: Sequence[Type] | None,
                static_arguments: dict[str, Any] | None = None) -> tuple[Graph, int | None]:
        self.add_parameters(param_types)
        if static_arguments is not None:
            self.builder.specialise_parameters = True
            for name, value in static_arguments.items():
                self.context.bind(name, value)
        returned = self.compile_tail(self.definition.body)
        with self.context.located(returned.node):
            outputs = [self.builder.value(v) for v in returned.values]
            self.graph.block.set_returns(self.write_parameters(returned, outputs))
        return self.graph, returned.arity

    def compile_call(self, arguments: dict[str, Any], caller: ScriptContext) -> Any:
        """Compile the body inlined at a call, with the parameters bound to
        `arguments` (the caller's values): returns what it returns, after
        the caller's variables see what it wrote into their arrays."""
        for name, value in arguments.items():
            self.context.bind(name, value)
            for index, array in enumerate(arrays_in(value)):
                self.track(array_variable(f"{name}.{index}"), array)
        returned = self.compile_tail(self.definition.body)
        caller_writes = ArrayWrites(caller, self.setitem)
        for before, after in zip(self.visible.values(), returned.arrays):
            if after is not before:
                caller_writes.write_from_call(after)
        return returned.values[0] if returned.arity is None else tuple(returned.values)

    # -- parameters ------------------------------------------------------------------------------
    def add_parameters(self, param_types: Sequence[Type] | None) -> None:
        arguments = self.definition.args
        for special in (arguments.vararg, *arguments.kwonlyargs, arguments.kwarg):
            if special is not None:
                raise self.context.error("jitc.script supports positional parameters only, not "
                                         "*args, keyword-only parameters or **kwargs", special)
        parameters = arguments.posonlyargs + arguments.args
        if inspect.ismethod(self.source.function) and parameters:
            self.context.bind(parameters[0].arg, self.source.function.__self__)
            parameters = parameters[1:]
        if param_types is not None and len(param_types) != len(parameters):
            raise ValueError(f"{self.definition.name} has {len(parameters)} parameters, "
                             f"got {len(param_types)} types")
        for index, parameter in enumerate(parameters):
            type = param_types[index] if param_types is not None else self.annotated_type(parameter)
            value = self.graph.add_param(type, parameter.arg)
            self.context.bind(parameter.arg, value)
            if isinstance(type, TensorType):
                self.track(array_variable(parameter.arg), value)

    def track(self, name: str, array: Value) -> None:
        """Follow the contents of an array the caller passed in, in a hidden
        variable that control flow merges like any other."""
        self.context.variables[name] = array
        self.visible[name] = array

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

    def write_parameters(self, returned: Returned, outputs: list[Value]) -> list[Value]:
        """`prim::CopyInto` each parameter array the function wrote into;
        what passes through them (the results, the arrays still to copy)
        comes out unaffected by the write."""
        writes = [(param, final) for param, final in zip(self.visible.values(), returned.arrays) if final is not param]
        for index, (param, final) in enumerate(writes):
            later = [source for _, source in writes[index + 1:]]
            results = self.builder.op_multi("prim::CopyInto", [param, final, *later, *outputs],
                                            num_outputs=len(later) + len(outputs))
            writes[index + 1:] = [(p, source) for (p, _), source in zip(writes[index + 1:], results)]
            outputs = results[len(later):]
        return outputs

    # -- statement lists ---------------------------------------------------------------------------
    def compile_statements(self, statements: list[ast.stmt], live_out: set[str]) -> Returned | None:
        """Compile `statements` in order; returns what they return, or None
        when control falls off their end (or, in a loop body, may leave
        it). `live_out` are the names read after them."""
        live_after = live_after_each(statements, live_out, self.loop.exits if self.loop else None)
        for index, statement in enumerate(statements):
            rest = statements[index + 1:]
            if self.loop is None:
                if isinstance(statement, ast.Return):
                    return self.compile_return(statement)
                if isinstance(statement, ast.Raise):
                    self.visit_Raise(statement, live_after[index])
                    return self.returned((None,), None, statement, raises=True)
                if isinstance(statement, ast.If) and first_return([statement]) is not None:
                    return self.compile_returning_if(statement, rest)
            self.compile_statement(statement, live_after[index])
            if self.context.variables.get(RAISED) is True:  # what follows never runs
                return None if self.loop else self.returned((None,), None, statement, raises=True)
            exited = self.exited()
            if exited is False:
                continue
            if self.loop is None:  # after a loop whose body returns
                with self.context.located(statement):
                    return self.split_on_return(exited, rest)
            if exited is not True and rest:
                what = {ast.If: "if", ast.For: "for loop", ast.While: "while loop"}.get(type(statement), "statement")
                self.compile_guarded(exited, lambda: self.compile_statements(rest, live_out), live_out,
                                     statement, what, self.loop.unrolled)
            return None
        return None

    def compile_tail(self, statements: list[ast.stmt]) -> Returned:
        """Compile statements that end the function: falling off their end
        returns None, as in Python."""
        return self.compile_statements(statements, set()) or self.returned((None,), None, self.definition)

    def compile_statement(self, statement: ast.stmt, live_out: set[str]) -> None:
        handler = getattr(self, "visit_" + type(statement).__name__, None)
        if handler is None:
            message = UNSUPPORTED_STATEMENTS.get(
                type(statement), f"{type(statement).__name__} statements are not supported")
            raise self.context.error(message, statement)
        self.context.live = live_out
        with self.context.located(statement):
            handler(statement, live_out)

    def exited(self) -> bool | Value:
        """Whether a `break`, `continue` or `return` ran (outside loops:
        whether a loop returned): a Python bool when known now."""
        names = (BREAK, CONTINUE, RETURNED) if self.loop else (RETURNED,)
        return self.any_flag(names)

    def stop_flag(self) -> bool | Value:
        """Whether the loop ends after this iteration: a `break` or `return` ran."""
        return self.any_flag((BREAK, RETURNED))

    def any_flag(self, names: Sequence[str]) -> bool | Value:
        flags = [self.context.variables.get(name, False) for name in names]
        if any(flag is True for flag in flags):
            return True
        values = [flag for flag in flags if isinstance(flag, Value)]
        if not values:
            return False
        if len(values) == 1:
            return values[0]
        return self.expressions.short_circuit([lambda value=value: value for value in values], is_and=False)

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

    def visit_FunctionDef(self, statement: ast.FunctionDef, live_out: set[str]) -> None:
        """A nested `def f(...): return expr` is `f = lambda ...: expr`: its
        calls are inlined and read the enclosing variables as they are then."""
        body = statement.body[1:] if ast.get_docstring(statement) is not None else statement.body
        if statement.decorator_list or len(body) != 1 or not isinstance(body[0], ast.Return):
            raise self.context.error(UNSUPPORTED_STATEMENTS[ast.FunctionDef], statement)
        returned = body[0].value if body[0].value is not None else ast.copy_location(ast.Constant(None), body[0])
        function = ast.copy_location(ast.Lambda(args=statement.args, body=returned), statement)
        self.context.bind(statement.name, make_lambda(self.expressions, function))

    def visit_Assert(self, statement: ast.Assert, live_out: set[str]) -> None:
        """A runtime check; one known to hold now emits nothing."""
        condition = self.condition(statement.test)
        if condition is True:
            return
        if statement.msg is None:
            text = f"assert {ast.unparse(statement.test)}"
        else:
            message = self.expressions.compile(statement.msg)
            if not is_constant(message):
                raise self.context.error("the message of an assert must be a constant", statement.msg)
            text = str(message)
        location = self.source.location(statement)
        self.builder.op_multi("prim::Assert", [condition], {"message": f"{text} (at {location.filename}:"
                                                                        f"{location.line})"}, num_outputs=0)

    def visit_Raise(self, statement: ast.Raise, live_out: set[str]) -> None:
        """`raise Error(message)`: a `prim::Assert` that always fails,
        raising that built-in exception with the message and the line. The
        path ends there: variables it leaves unassigned are never read."""
        if statement.exc is None:
            raise self.context.error("a bare `raise` is not supported: compiled code has no exception to "
                                     "raise again", statement)
        if statement.cause is not None:
            raise self.context.error("`raise ... from ...` is not supported; raise the exception alone",
                                     statement.cause)
        call = statement.exc if isinstance(statement.exc, ast.Call) else None
        with self.context.located(statement.exc):
            kind = self.expressions.compile(call.func if call else statement.exc)
        name = getattr(kind, "__name__", None)
        if not (isinstance(kind, type) and issubclass(kind, Exception) and getattr(builtins, name, None) is kind):
            raise self.context.error(f"jitc can raise only Python's built-in exceptions (ValueError, TypeError, "
                                     f"RuntimeError...), not {describe(kind)}", statement.exc)
        if call is not None and (call.keywords or len(call.args) > 1):
            raise self.context.error("raise takes one message: `raise ValueError(\"...\")`", call)
        text = ""
        if call is not None and call.args:
            try:
                message = self.expressions.compile(call.args[0])
            except ScriptError:  # a message made at run time reads as its source text
                message = None
            text = str(message) if isinstance(message, str) else ast.unparse(call.args[0])
        location = self.source.location(statement)
        self.builder.op_multi("prim::Assert", [False], {
            "message": f"{text} (at {location.filename}:{location.line})", "exception": name}, num_outputs=0)
        self.context.variables[RAISED] = True

    # -- assignments ---------------------------------------------------------------------------------------
    def visit_Assign(self, statement: ast.Assign, live_out: set[str]) -> None:
        value = self.expressions.compile(statement.value)
        for target in statement.targets:
            self.assign(target, value)

    def visit_AnnAssign(self, statement: ast.AnnAssign, live_out: set[str]) -> None:
        if statement.value is not None:
            self.assign(statement.target, self.expressions.compile(statement.value))

    def visit_AugAssign(self, statement: ast.AugAssign, live_out: set[str]) -> None:
        """`x op= y`: on an array, a write into it (NumPy's in-place
        operators keep the array's dtype and shape); otherwise `x = x op y`."""
        target = statement.target
        function, symbol = BINARY_OPERATORS[type(statement.op)]
        if isinstance(target, ast.Subscript):
            base, index = self.expressions.compile(target.value), self.expressions.compile(target.slice)
            current = self.expressions.subscript(base, index)
            if isinstance(base, Value) and isinstance(base.type, ListType) and is_array(current) \
                    and current.type.rank != 0:
                raise FrontendError(f"`{ast.unparse(target)} {symbol}= ...` writes into the array held by the "
                                    f"list, which other names may hold too; jitc's lists hold values, so write "
                                    f"{ast.unparse(target)} = {ast.unparse(target)} {symbol} ... instead")
            value = self.expressions.apply_operator(function, symbol + "=", current,
                                                    self.expressions.compile(statement.value))
            self.store_item(target, base, index, self.in_place_result(current, value, symbol, target))
            return
        if not isinstance(target, ast.Name):
            raise self.context.error(_assignment_target_message(target), target)
        current = self.context.lookup(target.id, target)
        value = self.expressions.apply_operator(function, symbol + "=", current,
                                                self.expressions.compile(statement.value))
        if not is_array(current) or current.type.rank == 0:
            self.context.bind(target.id, value)
            return
        value = self.in_place_result(current, value, symbol, target)
        if self.writes.is_exclusive(target.id, current, self.context.live):
            self.context.bind(target.id, self.keep_shape(current, value))
        else:
            self.writes.write(target.id, current, Ellipsis, value, self.context.live)

    def in_place_result(self, current: Any, value: Any, symbol: str, target: ast.expr) -> Any:
        """`value` cast to the dtype of the array `current` that it is
        written into, refused where NumPy's 'same_kind' rule refuses it."""
        if not (is_array(current) and isinstance(value, Value) and isinstance(value.type, TensorType)):
            return value
        have, want = value.type.dtype, current.type.dtype
        if have is None or want is None or have == want:
            return value
        if not np.can_cast(have.numpy, want.numpy, casting="same_kind"):
            raise self.context.error(
                f"Cannot cast ufunc '{_UFUNC_NAMES.get(symbol, symbol)}' output from dtype('{have.numpy}') to "
                f"dtype('{want.numpy}') with casting rule 'same_kind' (an in-place operator keeps the "
                f"array's dtype); write {ast.unparse(target)} = {ast.unparse(target)} {symbol} ... for a new "
                f"array", target)
        return self.builder.op("np::astype", value, dtype=want)

    def keep_shape(self, array: Value, value: Value) -> Value:
        """`value`, which replaces `array` in place: NumPy refuses a result
        of another shape (`x += y` cannot grow `x`)."""
        have, want = value.type.shape, array.type.shape
        if have is None or want is None or (have == want and all(isinstance(d, int) for d in have)):
            return value
        if len(have) != len(want):
            raise FrontendError(f"non-broadcastable output operand with shape {_shape_text(want)} doesn't "
                                f"match the broadcast shape {_shape_text(have)}")
        sizes = [self.builder.op("np::dim", array, axis=axis) for axis in range(len(want))]
        kept = self.builder.op("np::broadcast_to", value, *sizes)
        self.writes.table.storages[kept] = self.writes.table.of_value(value)
        return kept

    def assign(self, target: ast.expr, value: Any) -> None:
        if isinstance(target, ast.Name):
            self.context.bind(target.id, value)
        elif isinstance(target, (ast.Tuple, ast.List)):
            with self.context.located(target):
                items = self.unpack(value, target.elts)
            for element, item in zip(target.elts, items):
                self.assign(element.value if isinstance(element, ast.Starred) else element, item)
        elif isinstance(target, ast.Subscript):
            with self.context.located(target):
                base, index = self.expressions.compile(target.value), self.expressions.compile(target.slice)
                self.store_item(target, base, index, value)
        else:
            raise self.context.error(_assignment_target_message(target), target)

    def unpack(self, value: Any, targets: list[ast.expr]) -> list[Any]:
        """What each of `targets` takes from `value`; a starred target takes
        a list of the rest, which needs the elements known now."""
        starred = [index for index, target in enumerate(targets) if isinstance(target, ast.Starred)]
        count = len(targets)
        items = elements_of(self.expressions, value) if not is_array(value) else None
        if starred:
            if items is None:
                raise FrontendError(f"star-unpacking needs a tuple or a list whose length is known at compile "
                                    f"time, not {describe(value)}")
            at, after = starred[0], count - starred[0] - 1
            if len(items) < count - 1:
                raise FrontendError(f"not enough values to unpack (expected at least {count - 1}, got {len(items)})")
            rest = items[at:len(items) - after]
            return [*items[:at], self.list_of(rest), *items[len(items) - after:]]
        if items is None and isinstance(value, Value) and isinstance(value.type, ListType):
            return self.builder.op_multi("prim::ListUnpack", [value], num_outputs=count)
        if items is None:
            raise FrontendError(f"cannot unpack {describe(value)} into {count} names; only tuples and "
                                "lists can be unpacked (index arrays instead: x[0], x[1])")
        if len(items) != count:
            raise FrontendError(f"cannot unpack a tuple of {len(items)} into {count} names")
        return items

    def list_of(self, items: list[Any]) -> Any:
        """A list value of `items`; a Python tuple when their types do not join."""
        if not items:
            return self.builder.empty_list(self.builder.type_of([]).element)
        try:
            self.builder.type_of(items)
        except FrontendError:
            return tuple(items)
        return self.builder.value(items)

    # -- writes into arrays and lists --------------------------------------------------------------------
    def store_item(self, target: ast.Subscript, base: Any, index: Any, value: Any) -> None:
        """`base[index] = value`, where `base` is what `target.value` is."""
        if isinstance(base, Value) and isinstance(base.type, ListType):
            if not isinstance(target.value, ast.Name):
                raise FrontendError("assigning to an element of a list is supported only for a list variable "
                                    "(`items[i] = v`); lists are values in jitc")
            self.context.bind(target.value.id, self.builder.op("prim::ListSet", base, index, value))
            return
        if not is_array(base):
            raise FrontendError(f"{describe(base)} does not support item assignment")
        name = target.value.id if isinstance(target.value, ast.Name) else ast.unparse(target.value)
        self.writes.write(name, base, index, value, self.context.live)

    def setitem(self, array: Value, index: Any, value: Any) -> Value:
        """The array `array` with `array[index] = value` (NumPy's setitem, as a new value)."""
        binder = NUMPY_API.lookup(operator.setitem)
        if binder is None:
            raise FrontendError("assigning to an element or a slice of an array is not supported yet")
        return self.expressions.apply_binder(binder, "operator.setitem", [array, index, value], {})

    # -- if --------------------------------------------------------------------------------------------
    def condition(self, test: ast.expr) -> bool | Value:
        """The truth of an `if` test: a Python bool when known now."""
        with self.context.located(test):
            return self.expressions.truth(self.expressions.compile(test))

    def visit_If(self, statement: ast.If, live_out: set[str]) -> None:
        """An if without returns (or, in a loop body, with them). Variables
        that either branch changes and that are read later leave the
        `prim::If` as outputs; one assigned in a single branch becomes
        undefined after it."""
        condition = self.condition(statement.test)
        if not isinstance(condition, Value):
            self.compile_statements(statement.body if condition else statement.orelse, live_out)
            return
        line = self.source.location(statement).line
        self.emit_branches(
            condition, lambda: self.compile_statements(statement.body, live_out),
            lambda: self.compile_statements(statement.orelse, live_out), live_out,
            lambda name: (f"'{name}' is defined in only one branch of the if at line {line}; assign it in "
                          f"both branches, or before the if"),
            lambda name: f"'{name}' is not available after the if at line {line}")

    def compile_guarded(self, exited: Value, compile_rest: Callable[[], Any], live_out: set[str],
                        statement: ast.stmt, what: str, unrolled: bool) -> None:
        """What follows a statement that may have left the loop body (a
        `break`, `continue` or `return` in it), run only when none did.
        In a `prim::Loop` the path that left reads none of the variables
        the rest assigns (`surely_left`); after an unrolled iteration it may."""
        line = self.source.location(statement).line

        def rest() -> None:
            for flag in (BREAK, CONTINUE, RETURNED):
                if flag in self.context.variables:
                    self.context.variables[flag] = False
            compile_rest()

        self.emit_branches(
            exited, lambda: None, rest, live_out,
            lambda name: (f"'{name}' is assigned only after the {what} at line {line}, which may leave the loop "
                          f"body first; assign it before"),
            lambda name: f"'{name}' is not available after the {what} at line {line}",
            then_exits=not unrolled)

    def emit_branches(self, condition: Value, then_branch: Callable[[], Any], else_branch: Callable[[], Any],
                      live_out: set[str], one_branch: Callable[[str], str], unavailable: Callable[[str], str],
                      then_exits: bool = False) -> None:
        """A `prim::If` over two callbacks that compile statements, with the
        variables they change that are read later as its outputs. A branch
        that surely left the loop body (`then_exits`, or a `break` that
        surely ran) needs no value for a variable the other one assigns."""
        before = self.context.variables
        after = dict(before)
        names: list[str] = []
        views: dict[str, tuple[Any, list]] = {}  # made again after the if from a root: name -> (root, steps)

        def run(branch: Callable[[], Any]) -> Callable[[], dict[str, Any]]:
            def compile_branch() -> dict[str, Any]:
                self.context.variables = dict(before)
                branch()
                return self.context.variables
            return compile_branch

        def merge(then_variables: dict[str, Any], else_variables: dict[str, Any]) -> list[Merged]:
            left = (then_exits or self.surely_left(then_variables), self.surely_left(else_variables))
            raised = [variables.pop(RAISED, False) is True for variables in (then_variables, else_variables)]
            if all(raised):
                after[RAISED] = True
            merged = []
            for name in dict.fromkeys([*then_variables, *else_variables]):
                values = [then_variables.get(name, Undefined("")), else_variables.get(name, Undefined(""))]
                if same_value(*values):
                    after[name] = values[0]
                    continue
                for side in (0, 1):
                    if left[side] and not _bound(values[side]) and _bound(values[1 - side]):
                        values[side] = UNSET
                if not (_bound(values[0]) and _bound(values[1])):
                    after[name] = Undefined(one_branch(name)) if not isinstance(before.get(name), Undefined) \
                        else before[name]
                elif name in live_out or is_hidden(name):
                    names.append(name)
                    merged.append(Merged(_label(name), hint(name), *values))
                else:
                    after[name] = Undefined(unavailable(name))
            views.update(self.writes.views_to_remake(names, merged))
            kept = [index for index, name in enumerate(names) if name not in views]
            names[:] = [names[index] for index in kept]
            return [merged[index] for index in kept]

        outputs = emit_if(self.builder, condition, run(then_branch), run(else_branch), merge)
        after.update(zip(names, outputs))
        for name, (root, steps) in views.items():
            after[name] = replay(self.builder, steps, after[root] if isinstance(root, str) else root)
        self.context.variables = after

    def surely_left(self, variables: dict[str, Any]) -> bool:
        """Whether a branch surely left the loop body, so that nothing reads
        the variables it leaves: a `return`, or a `break` or `continue` of
        a `prim::Loop` (whose body's variables are not read after it unless
        they were bound before it, and so are bound in every branch)."""
        if variables.get(RAISED) is True:
            return True
        if self.loop is None:
            return False
        flags = (RETURNED,) if self.loop.unrolled else (BREAK, CONTINUE, RETURNED)
        return any(variables.get(flag) is True for flag in flags)

    def branch(self, before: dict[str, Any], compile_body: Callable[..., Any], *args: Any
               ) -> Callable[[], Any]:
        """A branch callback for `emit_if`: `compile_body(*args)`, starting
        from the variables `before` the if."""
        def compile_branch() -> Any:
            self.context.variables = dict(before)
            return compile_body(*args)
        return compile_branch

    # -- return ----------------------------------------------------------------------------------------
    def returned(self, values: tuple[Any, ...], arity: int | None, node: ast.AST, raises: bool = False) -> Returned:
        """What a path returns, with the contents of the caller's arrays then."""
        return Returned(values, arity, node, tuple(self.context.variables[name] for name in self.visible), raises)

    def compile_return(self, statement: ast.Return) -> Returned:
        with self.context.located(statement):
            value = statement.value
            if isinstance(value, ast.Tuple):
                return self.returned(self.expressions.visit_Tuple(value), len(value.elts), statement)
            return self.returned((None if value is None else self.expressions.compile(value),), None, statement)

    def visit_Return(self, statement: ast.Return, live_out: set[str]) -> None:
        """A `return` in a loop body: the returned values wait in variables
        until the loop has ended (`split_on_return`)."""
        returned = self.compile_return(statement)
        if self.loop_return is None:
            self.loop_return = returned
        self.check_same_arity(self.loop_return, returned)
        self.context.variables[RETURNED] = True
        for index, value in enumerate(returned.values):
            self.context.variables[return_variable(index)] = value

    def split_on_return(self, returned: bool | Value, rest: list[ast.stmt]) -> Returned:
        """After a loop whose body returns: what it returned when it did,
        else what the statements after it return."""
        first = self.loop_return
        count = 1 if first.arity is None else first.arity

        def loop_returned() -> Returned:
            values = tuple(self.context.variables[return_variable(index)] for index in range(count))
            return self.returned(values, first.arity, first.node)

        def fell_through() -> Returned:
            self.context.variables[RETURNED] = False
            for index in range(count):
                self.context.variables[return_variable(index)] = UNSET
            return self.compile_tail(rest)

        if returned is True:
            return loop_returned()
        return self.emit_returning_if(returned, loop_returned, fell_through)

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
        with self.context.located(statement):
            return self.emit_returning_if(condition, lambda: self.compile_tail(then_statements),
                                          lambda: self.compile_tail(else_statements))

    def emit_returning_if(self, condition: Value, then_branch: Callable[[], Returned],
                          else_branch: Callable[[], Returned]) -> Returned:
        """A `prim::If` whose branches both return: its outputs are the
        returned values and the caller's arrays' contents."""
        before = self.context.variables
        returns: list[Returned] = []

        def merge(then_returned: Returned, else_returned: Returned) -> list[Merged]:
            if then_returned.raises and not else_returned.raises:
                then_returned = then_returned.unset_like(else_returned)
            elif else_returned.raises and not then_returned.raises:
                else_returned = else_returned.unset_like(then_returned)
            self.check_same_arity(then_returned, else_returned)
            returns.extend((then_returned, else_returned))
            labels = (["the return value"] if then_returned.arity is None else
                      [f"return value {i}" for i in range(then_returned.arity)])
            merged = [Merged(label, None, a, b)
                      for label, a, b in zip(labels, then_returned.values, else_returned.values)]
            merged += [Merged(_label(name), hint(name), a, b)
                       for name, a, b in zip(self.visible, then_returned.arrays, else_returned.arrays)
                       if a is not b]
            return merged

        outputs = emit_if(self.builder, condition, self.branch(before, then_branch),
                          self.branch(before, else_branch), merge)
        first, second = returns
        values, outputs = outputs[:len(first.values)], iter(outputs[len(first.values):])
        arrays = tuple(a if a is b else next(outputs) for a, b in zip(first.arrays, second.arrays))
        self.context.variables = before
        return Returned(tuple(values), first.arity, first.node, arrays, first.raises and second.raises)

    def check_same_arity(self, first: Returned, second: Returned) -> None:
        if first.arity == second.arity:
            return
        node, other = (second, first) if isinstance(second.node, ast.Return) else (first, second)
        where = (f"the return at line {self.source.location(other.node).line}"
                 if isinstance(other.node, ast.Return) else "the implicit `return None`")
        message = (f"this return gives {node.describe()} but {where} gives {other.describe()}; "
                   "every return of a function must give the same number of values")
        raise self.context.error(message, node.node)


def type_from_annotation(annotation: Any) -> Type | None:
    """The IR type a parameter annotation asks for, or None if jitc has none."""
    if annotation is np.ndarray or typing.get_origin(annotation) is np.ndarray:
        try:
            return TensorType(_annotated_dtype(annotation))
        except TypeError:  # a dtype jitc does not support (complex)
            return None
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


def _annotated_dtype(annotation: Any) -> DType | None:
    """The dtype of `np.ndarray[shape, np.dtype[np.float32]]` (or
    `numpy.typing.NDArray[np.float32]`); None when it names none."""
    arguments = typing.get_args(annotation)
    scalar = typing.get_args(arguments[1]) if len(arguments) == 2 else ()
    if len(scalar) != 1 or not (isinstance(scalar[0], type) and issubclass(scalar[0], np.generic)):
        return None
    return DType.from_numpy(np.dtype(scalar[0]))


def _bound(value: Any) -> bool:
    return not isinstance(value, Undefined)


def _label(name: str) -> str:
    """How a variable reads in a type error."""
    if name.startswith("<return "):
        return f"return value {name[len('<return '):-1]}"
    if name.startswith("<array "):
        return f"the array of parameter '{display(name)}'"
    return f"'{name}'" if not is_hidden(name) else f"the loop's '{name.strip('<>')}' flag"


def _shape_text(shape: tuple) -> str:
    return "(" + ",".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _assignment_target_message(target: ast.expr) -> str:
    what = "an attribute" if isinstance(target, ast.Attribute) else "this target"
    return (f"assigning to {what} is not supported: jitc compiles module attributes as constants; "
            "use a local variable")


__all__ = ["script_graph", "script_graph_with_arity", "type_from_annotation", "FunctionCompiler", "Returned"]
