"""Lowering of Python expressions to frontend values.

Every callable is resolved at compile time to a Python object and then
looked up in `NUMPY_API` (operators through their `operator` functions,
`x.sum` through the method table), so the scripter has no mapping of its
own. Operators and pure Python functions (`math`, `builtins`) on values
that are all known now are computed now, so `axis=-1` or `2 / np.pi` stay
Python constants that binders can use as attributes.

Lists and tuples: a tuple display is a Python tuple of frontend values
(so `n, d = x.shape` and `x.reshape(shape + (1,))` need no IR). A list
display is an IR list (`prim::ListConstruct`; `[]` is a `List[Never]`
whose element type comes from what is appended), except directly as a
call argument, where it stays a Python list so that binders see its
elements (`np.stack([a, b])`, `np.zeros([n, 4])`); so does a list
comprehension whose elements are all known while compiling
(`script_comprehensions`).

Calls of anything that is not in the NumPy table (Python functions,
methods, callable objects, lambdas, other compiled functions) are inlined
(`script_calls`). `f(*args, **kwargs)` spreads a tuple or a list whose
elements are known while compiling, and a `**kwargs` parameter's dict.
"""
from __future__ import annotations

import ast
import builtins
import functools
import inspect
import operator
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import FrontendError
from ..ir.graph import Value
from ..ir.ops import UNKNOWN
from ..ir.types import NEVER, NONE, ListType, TensorType, TupleType
from .builder import is_constant
from .numpy_api import NUMPY_API
from .script_analysis import LIST_MUTATORS
from .script_calls import Lambda, call_python, make_lambda
from .script_comprehensions import ITERATION_BUILTINS, as_list_value, compile_list_comprehension, known_elements
from .script_control import Merged, emit_if
from .script_scope import ScriptContext

BINARY_OPERATORS: dict[type, tuple[Callable, str]] = {
    ast.Add: (operator.add, "+"), ast.Sub: (operator.sub, "-"), ast.Mult: (operator.mul, "*"),
    ast.Div: (operator.truediv, "/"), ast.FloorDiv: (operator.floordiv, "//"),
    ast.Mod: (operator.mod, "%"), ast.Pow: (operator.pow, "**"), ast.MatMult: (operator.matmul, "@"),
    ast.BitAnd: (operator.and_, "&"), ast.BitOr: (operator.or_, "|"), ast.BitXor: (operator.xor, "^"),
    ast.LShift: (operator.lshift, "<<"), ast.RShift: (operator.rshift, ">>"),
}
UNARY_OPERATORS: dict[type, tuple[Callable, str]] = {
    ast.USub: (operator.neg, "-"), ast.UAdd: (operator.pos, "+"), ast.Invert: (operator.invert, "~"),
}
COMPARISONS: dict[type, tuple[Callable, str]] = {
    ast.Eq: (operator.eq, "=="), ast.NotEq: (operator.ne, "!="), ast.Lt: (operator.lt, "<"),
    ast.LtE: (operator.le, "<="), ast.Gt: (operator.gt, ">"), ast.GtE: (operator.ge, ">="),
}
_PURE_PYTHON_MODULES = frozenset({"math", "operator", "_operator", "builtins"})

UNSUPPORTED_EXPRESSIONS = {
    ast.SetComp: "set comprehensions are not supported",
    ast.DictComp: "dict comprehensions are not supported",
    ast.GeneratorExp: "generator expressions are not supported; use a list comprehension",
    ast.Starred: "starred expressions (*x) are supported only as call arguments",
    ast.Dict: "dict displays are not supported",
    ast.Set: "set displays are not supported",
    ast.Await: "'await' is not supported",
    ast.Yield: "'yield' is not supported: generators cannot be scripted",
    ast.YieldFrom: "'yield from' is not supported: generators cannot be scripted",
    ast.NamedExpr: "assignment expressions (:=) are not supported",
}


@dataclass(frozen=True)
class BoundMethod:
    """`x.sum` before it is called: an ndarray method of an IR value."""

    name: str
    receiver: Value


def describe(value: Any) -> str:
    """How a frontend value reads in an error message."""
    if isinstance(value, Value):
        return f"a value of type {value.type}"
    if isinstance(value, tuple):
        return f"a tuple of {len(value)}"
    return f"{type(value).__name__} {value!r}" if is_constant(value) else type(value).__name__


class ExpressionCompiler:
    """Compiles one expression at a time into the current insertion point."""

    def __init__(self, context: ScriptContext):
        self.context = context
        self.builder = context.builder

    def compile(self, node: ast.expr) -> Any:
        handler = getattr(self, "visit_" + type(node).__name__, None)
        if handler is None:
            message = UNSUPPORTED_EXPRESSIONS.get(type(node), f"{type(node).__name__} expressions are not supported")
            raise self.context.error(message, node)
        with self.context.located(node):
            return handler(node)

    # -- names, constants, displays ----------------------------------------------------------
    def visit_Constant(self, node: ast.Constant) -> Any:
        if node.value is Ellipsis or is_constant(node.value):
            return node.value
        raise FrontendError(f"{type(node.value).__name__} constants are not supported")

    def visit_JoinedStr(self, node: ast.JoinedStr) -> str:
        """An f-string whose values are known while compiling (sizes jitc
        specialises on, dtypes, constants): a constant string."""
        parts = []
        for part in node.values:
            if isinstance(part, ast.Constant):
                parts.append(str(part.value))
                continue
            value = self.compile(part.value)
            if isinstance(value, Value) or not is_constant(value):
                raise FrontendError(f"the f-string value {{{ast.unparse(part.value)}}} is not known while "
                                    "compiling; jitc makes strings only from values it knows then")
            value = {-1: value, ord("r"): repr(value), ord("s"): str(value), ord("a"): ascii(value)}[part.conversion]
            parts.append(format(value, self.compile(part.format_spec) if part.format_spec else ""))
        return "".join(parts)

    def visit_Name(self, node: ast.Name) -> Any:
        return self.context.lookup(node.id, node)

    def visit_Tuple(self, node: ast.Tuple) -> tuple:
        return tuple(self.compile(element) for element in node.elts)

    def visit_List(self, node: ast.List) -> Value:
        elements = [self.compile(element) for element in node.elts]
        return self.builder.value(elements) if elements else self.builder.empty_list(NEVER)

    def visit_Lambda(self, node: ast.Lambda) -> Lambda:
        return make_lambda(self, node)

    def visit_ListComp(self, node: ast.ListComp) -> Value:
        return as_list_value(self, compile_list_comprehension(self, node))

    def visit_Slice(self, node: ast.Slice) -> slice:
        return slice(*(None if part is None else self.compile(part)
                       for part in (node.lower, node.upper, node.step)))

    # -- attributes and calls --------------------------------------------------------------------
    def visit_Attribute(self, node: ast.Attribute) -> Any:
        return self.attribute(self.compile(node.value), node.attr)

    def attribute(self, base: Any, name: str) -> Any:
        if not isinstance(base, Value):
            try:
                found = getattr(base, name)
            except AttributeError as error:
                raise FrontendError(str(error)) from None
            return self.context.import_object(found, name)
        if isinstance(base.type, TensorType):
            if name in NUMPY_API.attributes:
                return self.apply_binder(NUMPY_API.attributes[name], f"ndarray.{name}", [base], {})
            if name in NUMPY_API.methods:
                return BoundMethod(name, base)
            raise FrontendError(f"the ndarray attribute '{name}' is not supported by jitc")
        if isinstance(base.type, ListType) and name in LIST_MUTATORS:
            raise FrontendError(f"list.{name}(...) is supported only as a statement of its own, "
                                f"as in `items.{name}(value)`")
        raise FrontendError(f"{describe(base)} has no attribute '{name}' that jitc supports")

    def visit_Call(self, node: ast.Call) -> Any:
        function = self.compile(node.func)
        args = []
        for argument in node.args:
            if isinstance(argument, ast.Starred):
                args.extend(self.spread(argument))
            else:
                args.append(self.argument(argument))
        kwargs = {}
        for keyword in node.keywords:
            if keyword.arg is not None:
                kwargs[keyword.arg] = self.argument(keyword.value)
                continue
            spread = self.compile(keyword.value)
            if not isinstance(spread, dict):
                raise self.context.error(f"**kwargs in calls are supported only for the dict of a **kwargs "
                                         f"parameter, not {describe(spread)}", keyword)
            kwargs.update(spread)
        return self.call(function, args, kwargs)

    def spread(self, node: ast.Starred) -> list[Any]:
        """The arguments `*x` stands for: x's elements, which must be known now."""
        value = self.compile(node.value)
        with self.context.located(node):
            return known_elements(self, value, "*x in a call")

    def argument(self, node: ast.expr) -> Any:
        """A call argument; a list display (or a comprehension whose elements
        are known now) stays a Python list of its elements."""
        if isinstance(node, ast.List):
            with self.context.located(node):
                return [self.compile(element) for element in node.elts]
        if isinstance(node, ast.ListComp):
            with self.context.located(node):
                return compile_list_comprehension(self, node)
        return self.compile(node)

    def call(self, function: Any, args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
        if isinstance(function, BoundMethod):
            return self.apply_binder(NUMPY_API.methods[function.name], f"ndarray.{function.name}",
                                     [function.receiver, *args], kwargs)
        if isinstance(function, Lambda):
            return call_python(self, function, args, kwargs)
        if isinstance(function, Value) or not callable(function):
            raise FrontendError(f"{describe(function)} is not callable")
        if function is np.dtype and all(_is_dtype(x) or is_constant(x) for x in (*args, *kwargs.values())):
            try:
                return np.dtype(*args, **kwargs)
            except TypeError as error:
                raise FrontendError(f"np.dtype: {error}") from None
        iteration = _lookup(ITERATION_BUILTINS, function)
        if iteration is not None:
            return self.apply_binder(iteration, NUMPY_API.name_of(function), args, kwargs, leading=self)
        binder = NUMPY_API.lookup(function)
        if binder is None:
            return call_python(self, function, args, kwargs)
        name = NUMPY_API.name_of(function)
        if _is_pure_python(function) and all(is_constant(x) for x in (*args, *kwargs.values())):
            return _fold(function, name, args, kwargs)
        return self.apply_binder(binder, name, args, kwargs)

    def apply_binder(self, binder: Callable, name: str, args: Sequence[Any], kwargs: dict[str, Any],
                     leading: Any = None) -> Any:
        """Call a NUMPY_API binder (or, with `leading`, a binder that takes
        this compiler instead of the builder); arguments it does not accept
        are reported against the NumPy name, not the binder's."""
        first = self.builder if leading is None else leading
        try:
            _signature(binder).bind(first, *args, **kwargs)
        except TypeError as error:
            raise FrontendError(f"{name}(): {error}") from None
        return binder(first, *args, **kwargs)

    # -- operators --------------------------------------------------------------------------------
    def visit_BinOp(self, node: ast.BinOp) -> Any:
        function, symbol = BINARY_OPERATORS[type(node.op)]
        return self.apply_operator(function, symbol, self.compile(node.left), self.compile(node.right))

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Any:
        operand = self.compile(node.operand)
        if isinstance(node.op, ast.Not):
            truth = self.truth(operand)
            return not truth if isinstance(truth, bool) else self.call(operator.not_, [truth], {})
        function, symbol = UNARY_OPERATORS[type(node.op)]
        return self.apply_operator(function, symbol, operand)

    def apply_operator(self, function: Callable, symbol: str, *operands: Any) -> Any:
        if all(is_constant(x) for x in operands):
            return _fold(function, f"the operator {symbol}", operands, {})
        if any(isinstance(x, tuple) for x in operands):
            return _tuple_operator(function, symbol, *operands)
        if NUMPY_API.lookup(function) is None:
            raise FrontendError(f"the operator {symbol} is not supported by jitc")
        return self.call(function, operands, {})

    def visit_Compare(self, node: ast.Compare) -> Any:
        operands = [self.compile(node.left)]

        def comparison(index: int) -> Callable[[], Any]:
            def compile_comparison():
                operands.append(self.compile(node.comparators[index]))
                return self.compare(node.ops[index], operands[index], operands[index + 1])
            return compile_comparison

        comparisons = [comparison(index) for index in range(len(node.ops))]
        if len(comparisons) == 1:
            return comparisons[0]()
        return self.short_circuit([lambda c=c: self.truth(c()) for c in comparisons], is_and=True)

    def compare(self, op: ast.cmpop, left: Any, right: Any) -> Any:
        if isinstance(op, (ast.Is, ast.IsNot)):
            return _is(left, right) == isinstance(op, ast.Is)
        if isinstance(op, (ast.In, ast.NotIn)):
            raise FrontendError("the operators 'in' and 'not in' are not supported")
        function, symbol = COMPARISONS[type(op)]
        if _is_dtype(left) or _is_dtype(right):
            return _compare_dtypes(function, symbol, left, right)
        return self.apply_operator(function, symbol, left, right)

    # -- truth, and/or, conditional expressions ------------------------------------------------------
    def truth(self, value: Any) -> bool | Value:
        """`bool(value)`: a Python bool when it is known now, else a bool IR value."""
        constant = self.builder.constant_of(value)
        if constant is not UNKNOWN:
            return bool(constant)
        if isinstance(value, Value):
            if value.type == NONE:
                return False
            if isinstance(value.type, TupleType):
                return bool(value.type.elements)
            return self.call(builtins.bool, [value], {})
        return bool(value)

    def visit_BoolOp(self, node: ast.BoolOp) -> bool | Value:
        return self.short_circuit([functools.partial(self.truth_of, operand) for operand in node.values],
                                  is_and=isinstance(node.op, ast.And))

    def truth_of(self, node: ast.expr) -> bool | Value:
        return self.truth(self.compile(node))

    def short_circuit(self, operands: Sequence[Callable[[], bool | Value]], is_and: bool) -> bool | Value:
        """`a and b and ...` (or `or`) over callbacks that compile each operand
        to a bool. An operand known now decides at compile time; otherwise a
        `prim::If` evaluates the rest only when it is needed."""
        first = operands[0]()
        if len(operands) == 1:
            return first

        def rest():
            return self.short_circuit(operands[1:], is_and)

        if not isinstance(first, Value):
            return rest() if first == is_and else first
        decided = (lambda: False) if is_and else (lambda: True)
        then_branch, else_branch = (rest, decided) if is_and else (decided, rest)
        word = "and" if is_and else "or"
        return emit_if(self.builder, first, then_branch, else_branch,
                       lambda a, b: [Merged(f"the '{word}' expression", None, a, b)])[0]

    def visit_IfExp(self, node: ast.IfExp) -> Any:
        condition = self.truth_of(node.test)
        if not isinstance(condition, Value):
            return self.compile(node.body if condition else node.orelse)
        return emit_if(self.builder, condition, lambda: self.compile(node.body),
                       lambda: self.compile(node.orelse),
                       lambda a, b: [Merged("the conditional expression", None, a, b)])[0]

    # -- indexing ------------------------------------------------------------------------------------
    def visit_Subscript(self, node: ast.Subscript) -> Any:
        return self.subscript(self.compile(node.value), self.compile(node.slice))

    def subscript(self, base: Any, index: Any) -> Any:
        if isinstance(base, tuple) and _is_static_index(index):
            try:
                return base[index]
            except IndexError as error:
                raise FrontendError(str(error)) from None
        if isinstance(base, dict) and is_constant(index):  # a Python dict: weights by name, **kwargs
            try:
                return self.context.import_object(base[index], str(index))
            except KeyError:
                raise FrontendError(f"key {index!r} is not in the dict") from None
        return self.call(operator.getitem, [base, index], {})


@functools.lru_cache(maxsize=None)
def _signature(binder: Callable) -> inspect.Signature:
    return inspect.signature(binder)


def _is_pure_python(function: Callable) -> bool:
    return getattr(function, "__module__", None) in _PURE_PYTHON_MODULES


def _fold(function: Callable, name: str, args: Sequence[Any], kwargs: dict[str, Any]) -> Any:
    """Compute a pure Python function on constants now."""
    try:
        return function(*args, **kwargs)
    except Exception as error:  # whatever Python raises, it raises at compile time here
        raise FrontendError(f"{name}: {type(error).__name__}: {error}") from None


def _tuple_operator(function: Callable, symbol: str, left: Any, right: Any = None) -> tuple:
    """`+` and `*` on Python tuples of frontend values, as Python does them."""
    if function is operator.add and isinstance(left, tuple) and isinstance(right, tuple):
        return left + right
    if function is operator.mul:
        count = right if isinstance(left, tuple) else left
        if type(count) is int:
            return (left if isinstance(left, tuple) else right) * count
    raise FrontendError(f"the operator {symbol} is not supported between {describe(left)} "
                        f"and {describe(right)}")


def _is_dtype(value: Any) -> bool:
    """A dtype as NumPy code names one: `x.dtype`, `np.float32`, `float`."""
    return isinstance(value, np.dtype) or (isinstance(value, type) and issubclass(value, (np.generic, float, int, bool)))


def _compare_dtypes(function: Callable, symbol: str, left: Any, right: Any) -> bool:
    """`x.dtype == np.float32`: known while compiling (a graph is compiled per dtype)."""
    if symbol not in ("==", "!=") or isinstance(left, Value) or isinstance(right, Value):
        raise FrontendError(f"a dtype can be compared only with == or != to another dtype, not with {symbol} "
                            f"to {describe(right if _is_dtype(left) else left)}")
    try:
        return bool(function(np.dtype(left), np.dtype(right)))
    except TypeError as error:
        raise FrontendError(f"cannot compare dtypes: {error}") from None


def _is(left: Any, right: Any) -> bool:
    """`left is right`, decided at compile time."""
    for value, other in ((left, right), (right, left)):
        if other is None and isinstance(value, Value):
            return value.type == NONE
    if not isinstance(left, Value) and not isinstance(right, Value):
        return left is right
    raise FrontendError("'is' is supported only to compare with None, as in `x is None`")


def _is_static_index(index: Any) -> bool:
    if isinstance(index, slice):
        return all(part is None or type(part) is int for part in (index.start, index.stop, index.step))
    return type(index) is int


def _lookup(table: dict, function: Any) -> Any:
    try:
        return table.get(function)
    except TypeError:  # unhashable callables are in no table
        return None


__all__ = ["ExpressionCompiler", "BoundMethod", "BINARY_OPERATORS", "UNARY_OPERATORS", "COMPARISONS",
           "UNSUPPORTED_EXPRESSIONS", "describe"]
