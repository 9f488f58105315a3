"""List comprehensions, and the builtins that iterate: `range`, `zip`,
`enumerate`, `map`, `list`, `tuple`, `len` and `sum`.

What is iterated is either known element by element while compiling (a
Python tuple, a list display, `range` with constant bounds, a list built by
`ListConstruct`/`ListAppend`/`ListAdd`, an IR tuple) or not (a list
argument, a list a loop built, `range(n)` of a runtime `n`, an array's
first axis). Known elements are unrolled: the comprehension's body is
compiled once per element, so the elements can decide structure (a tuple
index, a split count). Others become a `prim::Loop` that appends to a list
(`Iteration` describes them: a length and how to get element i). `zip`,
`enumerate` and `map` of known elements give Python tuples; of others, an
`Iteration`.
"""
from __future__ import annotations

import ast
import builtins
import operator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

from ..errors import FrontendError
from ..ir.graph import Value
from ..ir.types import INT, NEVER, ListType, TensorType, TupleType
from .builder import StaticValueNeeded
from .numpy_api import NUMPY_API
from .script_control import Merged, emit_if, emit_loop

if TYPE_CHECKING:
    from .script_expressions import ExpressionCompiler

# A constant range longer than this is looped over, not unrolled.
UNROLL_LIMIT = 64


@dataclass(eq=False)
class Iteration:
    """A sequence whose elements are not known while compiling: its length
    (an int or an int value) and `item(i)`, element i for an int value i."""

    length: Any
    item: Callable[[Any], Any]


def elements_of(expressions: "ExpressionCompiler", value: Any) -> list | None:
    """The elements of `value` if they are known now (no IR is needed to
    know them, except unpacking an IR tuple), else None."""
    if isinstance(value, (tuple, list)):
        return list(value)
    if isinstance(value, range):
        return list(value) if len(value) <= UNROLL_LIMIT else None
    if not isinstance(value, Value):
        return None
    node = value.producer
    if isinstance(value.type, TupleType):
        if node is not None and node.kind == "prim::TupleConstruct":
            return list(node.inputs)
        return expressions.builder.op_multi("prim::TupleUnpack", [value], num_outputs=len(value.type.elements))
    if isinstance(value.type, ListType) and value.type.element == NEVER:
        return []  # only an empty list has no element type
    if not isinstance(value.type, ListType) or node is None:
        return None
    if node.kind == "prim::ListConstruct":
        return list(node.inputs)
    if node.kind in ("prim::ListAppend", "prim::ListAdd"):
        head = elements_of(expressions, node.inputs[0])
        tail = [node.inputs[1]] if node.kind == "prim::ListAppend" else elements_of(expressions, node.inputs[1])
        return None if head is None or tail is None else head + tail
    return None


def known_elements(expressions: "ExpressionCompiler", value: Any, what: str) -> list:
    """The elements of `value`, which `what` needs now. A list that a
    comprehension over `range(n)` built, for an int parameter `n`, asks
    for `n` to be specialised (StaticValueNeeded), which unrolls it."""
    items = elements_of(expressions, value)
    if items is not None:
        return items
    builder = expressions.builder
    loop = value.producer if isinstance(value, Value) and isinstance(value.type, ListType) else None
    if loop is not None and loop.kind == "prim::Loop" and builder.specialise_parameters:
        names = builder.parameters_behind(loop.inputs[0])
        if names:
            raise StaticValueNeeded(names, what)
    from .script_expressions import describe
    raise FrontendError(f"{what} needs a tuple or a list whose length is known at compile time, "
                        f"not {describe(value)}")


def iterate(expressions: "ExpressionCompiler", value: Any) -> list | Iteration:
    """What a loop over `value` visits: its elements when known, else an Iteration."""
    if isinstance(value, Iteration):
        return value
    known = elements_of(expressions, value)
    if known is not None:
        return known
    builder = expressions.builder
    if isinstance(value, range):
        start, step = value.start, value.step
        return Iteration(len(value), lambda index: _add(expressions, start, _multiply(expressions, index, step)))
    if isinstance(value, Value) and isinstance(value.type, ListType):
        return Iteration(builder.op("prim::ListLen", value), lambda index: builder.op("prim::ListIndex", value, index))
    if isinstance(value, Value) and isinstance(value.type, TensorType):
        if value.type.rank == 0:
            raise FrontendError("iteration over a 0-d array")
        return Iteration(builder.op("np::dim", value, axis=0), lambda index: expressions.subscript(value, index))
    from .script_expressions import describe
    raise FrontendError(f"cannot iterate over {describe(value)}")


def as_list_value(expressions: "ExpressionCompiler", items: list | Value) -> Value:
    """A Python list of frontend values as a list value."""
    if isinstance(items, Value):
        return items
    return expressions.builder.value(items) if items else expressions.builder.empty_list(NEVER)


# -- list comprehensions ------------------------------------------------------------------------------
def compile_list_comprehension(expressions: "ExpressionCompiler", node: ast.ListComp) -> list | Value:
    """`[elt for ... in ... if ...]`: a Python list when every generator and
    condition is known now, else a list value. Its variables do not leak."""
    context = expressions.context
    saved = context.variables
    context.variables = dict(saved)
    try:
        return _generate(expressions, node.generators, node.elt, [])
    finally:
        context.variables = saved


def _generate(expressions: "ExpressionCompiler", generators: Sequence[ast.comprehension], element: ast.expr,
              items: list | Value) -> list | Value:
    """`items` with what the generators produce appended."""
    builder = expressions.builder
    if not generators:
        value = expressions.compile(element)
        return items + [value] if isinstance(items, list) else builder.op("prim::ListAppend", items, value)
    generator, rest = generators[0], generators[1:]
    if generator.is_async:
        raise expressions.context.error("'async for' is not supported", generator.target)
    sequence = iterate(expressions, expressions.compile(generator.iter))
    if isinstance(sequence, list):
        for item in sequence:
            bind_target(expressions, generator.target, item)
            items = _filter(expressions, generator.ifs, rest, element, items)
        return items
    before = expressions.context.variables
    unrolled_by = builder.parameters_behind(sequence.length) if builder.specialise_parameters else None

    def iteration(index: Value, params: list[Value]) -> list[Any]:
        expressions.context.variables = dict(before)
        if unrolled_by:
            builder.unrollable[index] = unrolled_by
        with expressions.context.located(generator.target):
            bind_target(expressions, generator.target, sequence.item(index))
        return [as_list_value(expressions, _filter(expressions, generator.ifs, rest, element, params[0]))]

    with expressions.context.located(generator.iter):
        result = emit_loop(builder, sequence.length, [("items", as_list_value(expressions, items))],
                           iteration, index_name=None)[0]
    expressions.context.variables = before
    return result


def _filter(expressions: "ExpressionCompiler", conditions: Sequence[ast.expr],
            generators: Sequence[ast.comprehension], element: ast.expr, items: list | Value) -> list | Value:
    """`items`, with the rest generated when every condition holds."""
    if not conditions:
        return _generate(expressions, generators, element, items)
    condition = expressions.truth_of(conditions[0])
    if not isinstance(condition, Value):
        return _filter(expressions, conditions[1:], generators, element, items) if condition else items
    before = expressions.context.variables

    def then_branch():
        expressions.context.variables = dict(before)
        return as_list_value(expressions, _filter(expressions, conditions[1:], generators, element, items))

    with expressions.context.located(conditions[0]):
        result = emit_if(expressions.builder, condition, then_branch, lambda: as_list_value(expressions, items),
                         lambda a, b: [Merged("the list comprehension", None, a, b)])[0]
    expressions.context.variables = before
    return result


def bind_target(expressions: "ExpressionCompiler", target: ast.expr, value: Any) -> None:
    """Bind a loop target (a name, or a tuple of targets that unpacks `value`)."""
    if isinstance(target, ast.Name):
        expressions.context.bind(target.id, value)
        return
    if not isinstance(target, (ast.Tuple, ast.List)) or any(isinstance(t, ast.Starred) for t in target.elts):
        raise expressions.context.error("the target of a comprehension must be a name or a tuple of names",
                                        target)
    with expressions.context.located(target):
        items = elements_of(expressions, value)
        if items is None and isinstance(value, Value) and isinstance(value.type, ListType):
            items = expressions.builder.op_multi("prim::ListUnpack", [value], num_outputs=len(target.elts))
        if items is None:
            from .script_expressions import describe
            raise FrontendError(f"cannot unpack {describe(value)} into {len(target.elts)} names")
        if len(items) != len(target.elts):
            raise FrontendError(f"cannot unpack {len(items)} values into {len(target.elts)} names")
    for element, item in zip(target.elts, items):
        bind_target(expressions, element, item)


# -- builtins --------------------------------------------------------------------------------------------
def _range(expressions: "ExpressionCompiler", *arguments: Any) -> range | Iteration:
    if not 1 <= len(arguments) <= 3:
        raise FrontendError(f"range expected 1 to 3 arguments, got {len(arguments)}")
    values = [_int_argument(expressions, argument) for argument in arguments]
    start, stop, step = (0, values[0], 1) if len(values) == 1 else (*values, 1)[:3]
    if type(step) is not int or step == 0:
        raise FrontendError("the step of range() must be a non-zero int constant")
    if type(start) is int and type(stop) is int:
        return range(start, stop, step)
    distance = _subtract(expressions, stop, start) if step > 0 else _subtract(expressions, start, stop)
    count = distance if abs(step) == 1 else expressions.apply_operator(
        operator.floordiv, "//", _add(expressions, distance, abs(step) - 1), abs(step))
    count = expressions.call(builtins.max, [count, 0], {})
    return Iteration(count, lambda index: _add(expressions, start, _multiply(expressions, index, step)))


def _int_argument(expressions: "ExpressionCompiler", value: Any) -> Any:
    if isinstance(value, Value) and isinstance(value.type, TensorType):
        return expressions.call(builtins.int, [value], {})
    if type(value) is not int and not (isinstance(value, Value) and value.type == INT):
        from .script_expressions import describe
        raise FrontendError(f"range() takes ints, got {describe(value)}")
    return value


def _zip(expressions: "ExpressionCompiler", *iterables: Any, strict: bool = False) -> tuple | Iteration:
    sequences = [iterate(expressions, iterable) for iterable in iterables]
    if all(isinstance(sequence, list) for sequence in sequences):
        if strict and len({len(sequence) for sequence in sequences}) > 1:
            raise FrontendError("zip(strict=True): the arguments have different lengths")
        return tuple(zip(*sequences))
    if strict:
        raise FrontendError("zip(strict=True) needs lengths known at compile time")
    getters = [_getter(expressions, sequence) for sequence in sequences]
    length = _minimum(expressions, [_length(sequence) for sequence in sequences])
    return Iteration(length, lambda index: tuple(get(index) for get in getters))


def _enumerate(expressions: "ExpressionCompiler", iterable: Any, start: Any = 0) -> tuple | Iteration:
    sequence = iterate(expressions, iterable)
    if isinstance(sequence, list):
        return tuple((_add(expressions, start, index), item) for index, item in enumerate(sequence))
    return Iteration(sequence.length, lambda index: (_add(expressions, start, index), sequence.item(index)))


def _map(expressions: "ExpressionCompiler", function: Any, *iterables: Any) -> tuple | Iteration:
    if not iterables:
        raise FrontendError("map() must have at least two arguments")
    zipped = _zip(expressions, *iterables)
    if isinstance(zipped, tuple):
        return tuple(expressions.call(function, list(items), {}) for items in zipped)
    return Iteration(zipped.length, lambda index: expressions.call(function, list(zipped.item(index)), {}))


def _list(expressions: "ExpressionCompiler", iterable: Any = ()) -> Value:
    sequence = iterate(expressions, iterable)
    if isinstance(sequence, list):
        return as_list_value(expressions, sequence)
    if isinstance(iterable, Value) and isinstance(iterable.type, ListType):
        return iterable  # lists are values: a copy is the same value
    return _fold_loop(expressions, sequence, expressions.builder.empty_list(NEVER),
                      lambda items, item: expressions.builder.op("prim::ListAppend", items, item))


def _tuple(expressions: "ExpressionCompiler", iterable: Any = ()) -> tuple:
    if isinstance(iterable, Iteration):
        raise FrontendError("tuple() needs a sequence whose length is known at compile time")
    return tuple(known_elements(expressions, iterable, "tuple()"))


def _len(expressions: "ExpressionCompiler", value: Any) -> Any:
    if isinstance(value, Iteration):
        return value.length
    if isinstance(value, range):
        return len(value)
    return expressions.apply_binder(NUMPY_API.lookup(builtins.len), "len", [value], {})


def _sum(expressions: "ExpressionCompiler", iterable: Any, start: Any = 0) -> Any:
    sequence = iterate(expressions, iterable)

    def add(total: Any, item: Any) -> Any:
        return expressions.apply_operator(operator.add, "+", total, item)

    if isinstance(sequence, list):
        total = start
        for item in sequence:
            total = add(total, item)
        return total
    return _fold_loop(expressions, sequence, start, add)


ITERATION_BUILTINS: dict[Any, Callable[..., Any]] = {
    builtins.range: _range, builtins.zip: _zip, builtins.enumerate: _enumerate, builtins.map: _map,
    builtins.list: _list, builtins.tuple: _tuple, builtins.len: _len, builtins.sum: _sum,
}


# -- helpers ----------------------------------------------------------------------------------------------
def _fold_loop(expressions: "ExpressionCompiler", sequence: Iteration, initial: Any,
               step: Callable[[Any, Any], Any]) -> Value:
    """A `prim::Loop` carrying `step(carried, item)` over the sequence."""
    def iteration(index: Value, params: list[Value]) -> list[Any]:
        return [step(params[0], sequence.item(index))]
    return emit_loop(expressions.builder, sequence.length, [("total", initial)], iteration, index_name=None)[0]


def _getter(expressions: "ExpressionCompiler", sequence: list | Iteration) -> Callable[[Any], Any]:
    """Element i, for an int value i, of a sequence (a known one becomes a list value)."""
    if isinstance(sequence, Iteration):
        return sequence.item
    items = as_list_value(expressions, sequence)
    return lambda index: expressions.builder.op("prim::ListIndex", items, index)


def _length(sequence: list | Iteration) -> Any:
    return len(sequence) if isinstance(sequence, list) else sequence.length


def _minimum(expressions: "ExpressionCompiler", lengths: list[Any]) -> Any:
    known = [length for length in lengths if type(length) is int]
    unknown = [length for length in lengths if type(length) is not int]
    values = ([min(known)] if known else []) + unknown
    return values[0] if len(values) == 1 else expressions.call(builtins.min, values, {})


def _add(expressions: "ExpressionCompiler", a: Any, b: Any) -> Any:
    if type(b) is int and b == 0:
        return a
    if type(a) is int and a == 0:
        return b
    return expressions.apply_operator(operator.add, "+", a, b)


def _subtract(expressions: "ExpressionCompiler", a: Any, b: Any) -> Any:
    return a if type(b) is int and b == 0 else expressions.apply_operator(operator.sub, "-", a, b)


def _multiply(expressions: "ExpressionCompiler", a: Any, b: int) -> Any:
    return a if b == 1 else expressions.apply_operator(operator.mul, "*", a, b)


__all__ = ["Iteration", "UNROLL_LIMIT", "ITERATION_BUILTINS", "elements_of", "known_elements", "iterate",
           "as_list_value",
           "bind_target", "compile_list_comprehension"]
