"""Calls from scripted code to Python code, inlined into the caller's graph.

    call_python(expressions, function, args, kwargs) -> frontend value

Python callees have no call op: the callee's body is compiled at the call
site, since its arguments may be Python objects (a module, a tuple of
weights, an int that decides a loop) a graph cannot take, so its loops and
branches join the caller's graph and its nodes keep the callee's source
locations.

- A plain Python function compiles through a `FunctionCompiler` that shares
  the caller's graph builder, with the callee's globals. Arguments bind as
  Python binds them (`inspect.Signature`): defaults, keywords, keyword-only
  parameters, `*args` as a Python tuple and `**kwargs` as a Python dict.
- A bound method `obj.f` is `f` with `self` the Python object itself, so
  `self.weight` is a tensor constant and `self.n_head` an int constant; a
  callable object `obj(x)` is `type(obj).__call__(obj, x)` (a
  `jitc.nn.Module` calls its `forward` that way).
- A `lambda` in the scripted code (`Lambda`) compiles its body where it is
  called, reading the enclosing variables as they are then, as Python does.
- A `jitc.script` result inlines its Python function; a `jitc.trace` or
  `jitc.load` result is a `prim::CallFunction` node holding its generic
  graph, which the `inline_calls` pass inlines.

A call cycle is refused (there is no call op to recurse through), and an
error inside a callee points at the callee's line, with a note naming the
call site.
"""
from __future__ import annotations

import ast
import inspect
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

from ..errors import FrontendError, ScriptError
from ..ir.errors import IRTypeError
from ..ir.graph import Graph, Value
from ..ir.passes.inline_calls import call_graph
from ..ir.ops.prim import PythonFunction
from ..ir.types import NEVER, NONE, TENSOR, TupleType, Type, is_subtype
from ..signature import describe as describe_type
from ..signature import generic_type
from .builder import is_constant
from .numpy_api import NUMPY_API
from .script_scope import ScriptContext
from .script_source import FunctionSource

if TYPE_CHECKING:
    from .script_expressions import ExpressionCompiler

_NOT_INLINED_MODULES = frozenset({"numpy", "jitc"}) | frozenset(sys.stdlib_module_names)


@dataclass(eq=False)
class Lambda:
    """A `lambda` expression of the scripted code: its AST, the context it
    was written in, and its default values (computed where it is written)."""

    node: ast.Lambda
    context: ScriptContext
    defaults: tuple[Any, ...]
    kw_defaults: dict[str, Any]

    @property
    def name(self) -> str:
        return f"<lambda> at line {self.context.source.location(self.node).line}"


def make_lambda(expressions: "ExpressionCompiler", node: ast.Lambda) -> Lambda:
    arguments = node.args
    defaults = tuple(expressions.compile(default) for default in arguments.defaults)
    kw_defaults = {parameter.arg: expressions.compile(default)
                   for parameter, default in zip(arguments.kwonlyargs, arguments.kw_defaults)
                   if default is not None}
    return Lambda(node, expressions.context, defaults, kw_defaults)


def call_python(expressions: "ExpressionCompiler", function: Any, args: Sequence[Any],
                kwargs: dict[str, Any]) -> Any:
    """Inline a call of something that is not in the NumPy table."""
    from ..function import CompiledFunction, ScriptFunction
    if isinstance(function, Lambda):
        return _inline_lambda(expressions, function, args, kwargs)
    if isinstance(function, ScriptFunction):  # its Python function (or a module's bound forward)
        return call_python(expressions, function.function, args, kwargs)
    if isinstance(function, CompiledFunction):
        return _inline_compiled(expressions, function, args, kwargs)
    if getattr(function, "__jitc_ignore__", False):
        return call_ignored(expressions, function, args, kwargs)
    if inspect.ismethod(function) and _inlinable(function.__func__):
        return inline_function(expressions, function.__func__, (function.__self__, *args), kwargs)
    if _inlinable(function):
        return inline_function(expressions, function, args, kwargs)
    call = getattr(type(function), "__call__", None)
    if not isinstance(function, type) and _inlinable(call):
        return inline_function(expressions, call, (function, *args), kwargs)
    raise FrontendError(_unsupported_callable(function))


def inline_function(expressions: "ExpressionCompiler", function: Callable, args: Sequence[Any],
                    kwargs: dict[str, Any]) -> Any:
    """Compile `function`'s body at the call site with its parameters bound
    to the arguments; returns what it returns (a tuple for `return a, b`)."""
    from .scripter import FunctionCompiler
    builder = expressions.builder
    name = _name(function)
    key = (inspect.unwrap(function).__code__, id(args[0]) if args and _is_python_object(args[0]) else None)
    _check_not_recursive(expressions, key, name)
    try:
        source = FunctionSource(function)
    except ScriptError as error:  # no readable source: reported at the call
        raise FrontendError(f"cannot inline the call of {name}: {error.message}") from None
    bound = _bind(inspect.signature(function), args, kwargs, name)
    callee = FunctionCompiler(source, builder)
    _share_constants(callee.context, expressions.context)
    arguments = {parameter: _as_argument(builder, value) for parameter, value in bound.items()}
    with _calling(expressions, key, name):
        return callee.compile_call(arguments, expressions.context)


def call_ignored(expressions: "ExpressionCompiler", function: Callable, args: Sequence[Any],
                 kwargs: dict[str, Any]) -> Any:
    """A call of a function marked `@jitc.ignore`: a `prim::PythonCall`
    node, run by calling the function (in the interpreter). Its result's
    type comes from the return annotation (`ignored_result_types`)."""
    name = _name(function)
    _bind(inspect.signature(function), args, kwargs, name)  # a wrong call fails now, as in Python
    builder = expressions.builder
    values = []
    for value in (*args, *kwargs.values()):
        try:
            values.append(builder.value(_as_argument(builder, value)))
        except FrontendError:
            raise FrontendError(f"{name} is marked @jitc.ignore, and compiled code can pass it arrays, "
                                f"scalars, strings, None, lists and tuples, not {type(value).__name__}") from None
    types, returns_tuple = ignored_result_types(function, name)
    attributes = {"function": PythonFunction(name, function), "keywords": tuple(kwargs),
                  "returns_tuple": returns_tuple}
    outputs = builder.op_typed("prim::PythonCall", values, types, attributes).outputs
    return tuple(outputs) if returns_tuple else outputs[0]


def ignored_result_types(function: Callable, name: str) -> tuple[list[Type], bool]:
    """The types an ignored function's call gives, and whether they are the
    elements of a returned tuple. From its return annotation (np.ndarray,
    np.ndarray[..., np.dtype[np.float32]], int, float, bool, None, list[...],
    tuple[...]); without one, None when its body has no `return value` and
    an array otherwise (TorchScript too takes an unannotated result for a tensor)."""
    from .scripter import type_from_annotation
    try:
        annotations = inspect.get_annotations(inspect.unwrap(getattr(function, "__func__", function)),
                                              eval_str=True)
    except Exception as error:  # evaluating an annotation string can raise anything
        raise FrontendError(f"cannot evaluate the annotations of {name}, which is marked @jitc.ignore: "
                            f"{error}") from None
    if "return" not in annotations:
        return [TENSOR if _returns_a_value(function) else NONE], False
    annotation = annotations["return"]
    type = type_from_annotation(annotation)
    if type is None:
        raise FrontendError(f"{name} is marked @jitc.ignore, and jitc cannot type its result from the "
                            f"return annotation {annotation!r}; annotate it with np.ndarray, int, float, bool, "
                            "None, list[...] or tuple[...]")
    if isinstance(type, TupleType):
        return list(type.elements), True
    return [type], False


def _returns_a_value(function: Callable) -> bool:
    """Whether the function's body has a `return value` (True when its
    source cannot be read)."""
    try:
        definition = FunctionSource(function).definition
    except ScriptError:
        return True
    return any(isinstance(node, ast.Return) and node.value is not None
               for statement in definition.body for node in ast.walk(statement))


def _inline_lambda(expressions: "ExpressionCompiler", function: Lambda, args: Sequence[Any],
                   kwargs: dict[str, Any]) -> Any:
    from .script_expressions import ExpressionCompiler
    builder = expressions.builder
    _check_not_recursive(expressions, function.node, function.name)
    bound = _bind(_lambda_signature(function), args, kwargs, function.name)
    outer = function.context
    scope = ScriptContext(outer.source, builder, outer.local_names | set(bound))
    scope.variables = dict(outer.variables)
    _share_constants(scope, outer)
    for parameter, value in bound.items():
        scope.bind(parameter, _as_argument(builder, value))
    with _calling(expressions, function.node, function.name):
        return ExpressionCompiler(scope).compile(function.node.body)


def _inline_compiled(expressions: "ExpressionCompiler", function, args: Sequence[Any],
                     kwargs: dict[str, Any]) -> Any:
    """A traced or loaded function: a `prim::CallFunction` holding a copy of
    its generic graph, typed by the arguments (the inline_calls pass inlines
    it, so `.graph` shows the call and `graph_for` the inlined body)."""
    builder = expressions.builder
    try:
        values = [_as_argument(builder, value) for value in function.bind(args, kwargs)]
    except TypeError as error:
        raise FrontendError(str(error)) from None
    types = tuple(builder.type_of(value) for value in values)
    graph: Graph = function.generic_graph(types)
    for param, type, name in zip(graph.params, types, function.signature.parameters):
        if not is_subtype(type, generic_type(param.type)):
            raise FrontendError(f"{function.__name__}(): argument '{name}' must be "
                                f"{describe_type(generic_type(param.type))}, got {describe_type(type)}")
    try:
        call = call_graph(builder.graph, graph, [builder.value(value) for value in values], function.__name__,
                          builder.source)
    except IRTypeError as error:
        raise FrontendError(f"{function.__name__}(): {error}") from None
    outputs = tuple(call.outputs)
    return outputs[0] if function.output_arity is None else outputs


# -- helpers ----------------------------------------------------------------------------------------
def _bind(signature: inspect.Signature, args: Sequence[Any], kwargs: dict[str, Any],
          name: str) -> dict[str, Any]:
    """Arguments bound to parameters as Python binds them, defaults included."""
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError as error:
        raise FrontendError(f"{name}(): {error}") from None
    bound.apply_defaults()
    return dict(bound.arguments)


def _lambda_signature(function: Lambda) -> inspect.Signature:
    """The signature a `lambda` expression declares, with its defaults."""
    Parameter = inspect.Parameter
    arguments = function.node.args
    positional = ([(p.arg, Parameter.POSITIONAL_ONLY) for p in arguments.posonlyargs]
                  + [(p.arg, Parameter.POSITIONAL_OR_KEYWORD) for p in arguments.args])
    defaults = [Parameter.empty] * (len(positional) - len(function.defaults)) + list(function.defaults)
    parameters = [Parameter(name, kind, default=default) for (name, kind), default in zip(positional, defaults)]
    if arguments.vararg is not None:
        parameters.append(Parameter(arguments.vararg.arg, Parameter.VAR_POSITIONAL))
    for parameter in arguments.kwonlyargs:
        default = function.kw_defaults.get(parameter.arg, Parameter.empty)
        parameters.append(Parameter(parameter.arg, Parameter.KEYWORD_ONLY, default=default))
    if arguments.kwarg is not None:
        parameters.append(Parameter(arguments.kwarg.arg, Parameter.VAR_KEYWORD))
    return inspect.Signature(parameters)


def _as_argument(builder, value: Any) -> Any:
    """A Python list (a list display passed as an argument) becomes a list
    value, as it is when assigned; everything else binds as it is."""
    if isinstance(value, list):
        return builder.value(value) if value else builder.empty_list(NEVER)
    return value


def _share_constants(callee: ScriptContext, caller: ScriptContext) -> None:
    """One tensor constant per array across the caller and everything it inlines."""
    callee._array_constants = caller._array_constants


def _call_stack(expressions: "ExpressionCompiler") -> list[tuple[Any, str]]:
    """What is being compiled, outermost first: the scripted function, then
    each callee being inlined (keyed by code object, or a lambda's AST)."""
    source = expressions.context.source
    stack = expressions.builder.call_stack
    owner = getattr(source.function, "__self__", None)
    root = stack[:1] if stack else [((getattr(source.function, "__code__", None),
                                      None if owner is None else id(owner)), source.name)]
    return root + stack[1:]


def _is_python_object(value: Any) -> bool:
    """True for a compile-time Python object such as a module's `self`."""
    return not isinstance(value, Value) and not is_constant(value)


def _check_not_recursive(expressions: "ExpressionCompiler", key: Any, name: str) -> None:
    stack = _call_stack(expressions)
    keys = [entry[0] for entry in stack]
    if key in keys:
        cycle = [entry[1] for entry in stack[keys.index(key):]] + [name]
        raise FrontendError(f"recursive call: {' -> '.join(cycle)}. jitc.script compiles a call by "
                            "inlining the callee, so a function cannot call itself; write the "
                            "recursion as a loop")


class _calling:
    """Marks `key` as being inlined; an error inside the callee gets a note
    naming the call site."""

    def __init__(self, expressions: "ExpressionCompiler", key: Any, name: str):
        self.builder, self.key, self.name = expressions.builder, key, name
        self.site = self.builder.source
        self.saved = list(self.builder.call_stack)
        self.stack = _call_stack(expressions) + [(key, name)]

    def __enter__(self):
        self.builder.call_stack = self.stack

    def __exit__(self, kind, error, traceback):
        self.builder.call_stack = self.saved
        if isinstance(error, ScriptError) and self.site is not None:
            error.add_note(f"  in {self.name}, called from {self.site.filename}, line {self.site.line}")
        return False


def _name(function: Any) -> str:
    return getattr(function, "__qualname__", None) or getattr(function, "__name__", None) or repr(function)


def _inlinable(function: Any) -> bool:
    """A Python function whose source jitc may compile: not NumPy's, the
    standard library's or jitc's own implementation."""
    if not inspect.isfunction(function):
        return False
    module = (getattr(function, "__module__", None) or "").split(".")[0]
    if module == "jitc":
        return (function.__module__ or "").startswith("jitc.nn")
    return module not in _NOT_INLINED_MODULES


def _unsupported_callable(function: Any) -> str:
    name = NUMPY_API.name_of(function)
    return (f"{name} is not supported by jitc: it is not in jitc's table of NumPy functions, and "
            "jitc.script inlines only Python functions, methods and callable objects written in "
            "Python. Write it with NumPy functions jitc supports, or compile with jitc.trace")


__all__ = ["Lambda", "make_lambda", "call_python", "call_ignored", "ignored_result_types", "inline_function"]
