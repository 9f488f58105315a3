"""Structural ops (`prim::`): constants, control flow, lists, tuples and
conversions between Python scalars and tensors.

Lists are values, as everything else in the IR: `prim::ListAppend` returns a
new list and leaves its input alone, so loops carry lists like any other
value and passes need no alias analysis for them.

`prim::If` and `prim::Loop` have no reference: the interpreter runs their
blocks itself, and their output types come from the types of what their
blocks return (the type propagation pass joins them).

The only ops with effects are here too: `prim::Assert` (a runtime check),
`prim::CopyInto` (a write into an argument's array, which the scripter
emits once at the end of a function that writes into its parameters) and
`prim::PythonCall` (a call of a function marked `@jitc.ignore`, which
stays in Python).
"""
from __future__ import annotations

import builtins
from typing import Callable

import numpy as np

from ..attributes import TensorRef
from ..types import (BOOL, FLOAT, INT, NEVER, ListType, ScalarType, TensorType, TupleType,
                     join_types, type_of_value)
from .registry import REQUIRED, Group, OpDef, register
from .rules import array_like_input


def _declared(context):
    """Types fixed by the node itself (control flow, tensor constants)."""
    if context.declared_types is None:
        raise context.error("the output types must be given when the node is created")
    return context.declared_types


def _constant_infer(context):
    value = context.attributes["value"]
    if isinstance(value, TensorRef):
        return _declared(context)
    return [type_of_value(value)]


register(OpDef(
    name="prim::Constant", group=Group.CONSTANT, inputs=(), attributes={"value": REQUIRED},
    infer=_constant_infer, reference=None,
    doc="a compile-time constant: a Python scalar, None, a string, a tuple, or @tensor",
))


def _if_infer(context):
    if context.input_types[0] != BOOL:
        raise context.error(f"condition must be bool, got {context.input_types[0]}")
    return _declared(context)


register(OpDef(
    name="prim::If", group=Group.CONTROL, inputs=("condition",), infer=_if_infer,
    reference=None, num_outputs=None, num_blocks=2,
    doc="runs block 0 if condition else block 1; outputs are what the block returns",
))


def _loop_infer(context):
    if context.input_types[0] != INT:
        raise context.error(f"max_trip_count must be int, got {context.input_types[0]}")
    if context.input_types[1] != BOOL:
        raise context.error(f"start_condition must be bool, got {context.input_types[1]}")
    entering = list(context.input_types[2:])
    if context.declared_types is None:
        return entering
    # An iteration may widen a carried value (a shape grows, an empty list gains elements):
    # the outputs cover both what enters the loop and what the node declares, which
    # type propagation sets to the fixed point of the body.
    if len(context.declared_types) != len(entering):
        raise context.error(f"declares {len(context.declared_types)} outputs "
                            f"but carries {len(entering)} values")
    joined = []
    for index, (entered, declared) in enumerate(zip(entering, context.declared_types)):
        try:
            joined.append(join_types([entered, declared]))
        except TypeError as error:
            raise context.error(f"carried value {index}: {error}") from None
    return joined


register(OpDef(
    name="prim::Loop", group=Group.CONTROL, inputs=("max_trip_count", "start_condition", "*carried"),
    infer=_loop_infer, reference=None, num_outputs=None, num_blocks=1,
    doc="body(i, *carried) -> (condition, *carried), run while i < max_trip_count and condition",
))


class _Uninitialized:
    """What `prim::Uninitialized` gives: a member of every type that the
    program never reads."""

    def __repr__(self) -> str:
        return "UNINITIALIZED"


UNINITIALIZED = _Uninitialized()

register(OpDef(
    name="prim::Uninitialized", group=Group.CONSTANT, inputs=(), infer=lambda context: [NEVER],
    reference=None, code="None",
    doc="a placeholder where control flow merges a value with a path that has none and never reads it "
        "(what a function returns, before a return inside a loop has run); of type Never, which joins "
        "with every type",
))


# -- effects -----------------------------------------------------------------------------------
def exception_class(name: str) -> type:
    """The built-in exception class `name`; ValueError for anything else,
    so a graph read from a file can name no other callable."""
    found = getattr(builtins, name, None)
    if not (isinstance(found, type) and issubclass(found, Exception)):
        raise ValueError(f"{name!r} is not a built-in exception")
    return found


def _assert_infer(context):
    if context.input_types[0] != BOOL:
        raise context.error(f"condition must be bool, got {context.input_types[0]}")
    if not isinstance(context.attributes["message"], str):
        raise context.error("message must be a string")
    try:
        exception_class(context.attributes["exception"])
    except ValueError as error:
        raise context.error(str(error)) from None
    return []


def _assert_reference(condition, message, exception):
    if not condition:
        raise exception_class(exception)(message)
    return ()


register(OpDef(
    name="prim::Assert", group=Group.EFFECT, inputs=("condition",),
    attributes={"message": REQUIRED, "exception": "AssertionError"}, infer=_assert_infer,
    reference=_assert_reference, num_outputs=0, pure=False,
    code=lambda inputs, attributes: f"assert {inputs[0]}, {attributes['message']!r}",
    doc="raises `exception(message)` when condition is false (an `assert` of the source; the message "
        "names its line)",
))


def _copy_into_infer(context):
    target, source = context.input_types[:2]
    for what, type in (("target", target), ("source", source)):
        if not isinstance(type, TensorType):
            raise context.error(f"{what} must be an array, got {type}")
    if target.dtype is not None and source.dtype is not None and target.dtype != source.dtype:
        raise context.error(f"source dtype {source.dtype} differs from target dtype {target.dtype}")
    if target.rank is not None and source.rank is not None and target.rank != source.rank:
        raise context.error(f"source rank {source.rank} differs from target rank {target.rank}")
    return list(context.input_types[2:])


def _unshared(value, target):
    """`value`, with each array in it that may share memory with `target` copied."""
    if isinstance(value, np.ndarray):
        return value.copy() if np.may_share_memory(value, target) else value
    if isinstance(value, (list, tuple)):
        return type(value)(_unshared(item, target) for item in value)
    return value


def _copy_into_reference(target, source, *passing):
    kept = tuple(_unshared(value, target) for value in passing)
    np.copyto(target, source)
    return kept


register(OpDef(
    name="prim::CopyInto", group=Group.EFFECT, inputs=("target", "source", "*passing"),
    infer=_copy_into_infer, reference=_copy_into_reference, num_outputs=None, pure=False,
    code="np.copyto({0}, {1})",
    doc="target[...] = source, where target is a parameter's array (the caller's); returns `passing` "
        "with every array in it that shares memory with target copied first, so that what a function "
        "returns is what it computed before the write",
))


class PythonFunction(str):
    """The `function` attribute of a `prim::PythonCall`: the function's
    qualified name (what the graph prints), holding the callable itself in
    `.function`. Only Python code makes one: the text form reads the
    attribute back as a plain string, so a graph parsed from text or read
    from a file cannot call Python."""

    function: Callable

    def __new__(cls, name: str, function: Callable) -> "PythonFunction":
        made = super().__new__(cls, name)
        made.function = function
        return made


def _python_call_infer(context):
    function = context.attributes["function"]
    if not isinstance(function, PythonFunction):
        raise context.error(f"names the Python function {str(function)!r} but holds no callable: a graph "
                            "read from text or from a file cannot call Python")
    keywords = context.attributes["keywords"]
    if not (isinstance(keywords, tuple) and all(isinstance(k, str) for k in keywords)) \
            or len(keywords) > len(context.input_types):
        raise context.error("keywords must be a tuple of parameter names, one for each of the last inputs")
    return _declared(context)


def _read_only(value):
    """`value` with each array in it a read-only view, so that a Python
    function cannot write into arrays the compiled code assumes unchanged."""
    if isinstance(value, np.ndarray):
        view = value.view()
        view.flags.writeable = False
        return view
    if isinstance(value, (list, tuple)):
        return type(value)(_read_only(item) for item in value)
    return value


def _python_call_reference(*arguments, function, keywords, returns_tuple):
    arguments = [_read_only(value) for value in arguments]
    split = len(arguments) - len(keywords)
    try:
        result = function.function(*arguments[:split], **dict(zip(keywords, arguments[split:])))
    except ValueError as error:
        if "read-only" in str(error):
            error.add_note(f"{function} is marked @jitc.ignore, and compiled code passes it its arrays "
                           "read-only: return a new array instead of writing into an argument")
        raise
    for array in arrays_in(arguments):  # a result that is (a view of) an argument is copied
        result = _unshared(result, array)
    return result


def written_parameters(graph) -> frozenset[int]:
    """The parameters whose arrays the graph writes into (`prim::CopyInto`)."""
    return frozenset(index for index, param in enumerate(graph.params)
                     if any(use.index == 0 and getattr(use.user, "kind", None) == "prim::CopyInto"
                            for use in param.uses))


def arrays_in(value):
    """The arrays in a value, inside lists and tuples too."""
    if isinstance(value, np.ndarray):
        yield value
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from arrays_in(item)


def _python_call_code(inputs, attributes):
    split = len(inputs) - len(attributes["keywords"])
    keywords = [f"{name}={text}" for name, text in zip(attributes["keywords"], inputs[split:])]
    return f"{attributes['function']}({', '.join([*inputs[:split], *keywords])})"


register(OpDef(
    name="prim::PythonCall", group=Group.EFFECT, inputs=("*arguments",),
    attributes={"function": REQUIRED, "keywords": (), "returns_tuple": False}, infer=_python_call_infer,
    reference=_python_call_reference, num_outputs=None, pure=False, code=_python_call_code,
    doc="calls a Python function marked @jitc.ignore (the last len(keywords) arguments by keyword) and "
        "gives what it returns, of the types the node declares (from the function's return annotation; "
        "with returns_tuple, one output per element of the tuple it returns); arrays reach it read-only. "
        "Only the interpreter runs it, and no model file holds one",
))

# -- lists ---------------------------------------------------------------------------------
def _list_input(context, index: int) -> ListType:
    type = context.input_types[index]
    if not isinstance(type, ListType):
        raise context.error(f"expected a list, got {type}")
    return type


def _join(context, types):
    try:
        return join_types(types)
    except TypeError as error:
        raise context.error(f"list elements must have one type: {error}") from None


def _list_construct_infer(context):
    if not context.input_types:
        return _declared(context)
    return [ListType(_join(context, context.input_types))]


register(OpDef(
    name="prim::ListConstruct", group=Group.LIST, inputs=("*elements",),
    infer=_list_construct_infer, reference=lambda *elements: list(elements), code="[{elements}]",
    doc="[a, b, ...]; an empty list takes its type from the node",
))


def _list_append_infer(context):
    items = _list_input(context, 0)
    return [ListType(_join(context, [items.element, context.input_types[1]]))]


register(OpDef(
    name="prim::ListAppend", group=Group.LIST, inputs=("list", "element"),
    infer=_list_append_infer, reference=lambda items, element: items + [element],
    code="{0} + [{1}]", doc="a new list: list + [element]",
))


def _list_add_infer(context):
    a, b = _list_input(context, 0), _list_input(context, 1)
    return [ListType(_join(context, [a.element, b.element]))]


register(OpDef(
    name="prim::ListAdd", group=Group.LIST, inputs=("a", "b"), infer=_list_add_infer,
    reference=lambda a, b: a + b, code="{0} + {1}", doc="a new list: a + b",
))


def _list_index_infer(context):
    items = _list_input(context, 0)
    if context.input_types[1] != INT:
        raise context.error(f"list index must be int, got {context.input_types[1]}")
    return [items.element]


register(OpDef(
    name="prim::ListIndex", group=Group.LIST, inputs=("list", "index"), infer=_list_index_infer,
    reference=lambda items, index: items[index], code="{0}[{1}]", doc="list[index]",
))
def _list_set_infer(context):
    items = _list_input(context, 0)
    if context.input_types[1] != INT:
        raise context.error(f"list index must be int, got {context.input_types[1]}")
    return [ListType(_join(context, [items.element, context.input_types[2]]))]


def _list_set_reference(items, index, element):
    items = list(items)
    items[index] = element
    return items


register(OpDef(
    name="prim::ListSet", group=Group.LIST, inputs=("list", "index", "element"), infer=_list_set_infer,
    reference=_list_set_reference, code="list_set({0}, {1}, {2})",
    doc="a new list: list with list[index] = element",
))
register(OpDef(
    name="prim::ListLen", group=Group.LIST, inputs=("list",),
    infer=lambda context: (_list_input(context, 0), [INT])[1],
    reference=len, code="len({0})", doc="len(list)",
))


def _list_unpack_reference(items):
    return tuple(items)


register(OpDef(
    name="prim::ListUnpack", group=Group.LIST, inputs=("list",),
    infer=lambda context: [_list_input(context, 0).element] * context.num_outputs,
    reference=_list_unpack_reference, num_outputs=None,
    doc="a, b = list; the list must have exactly as many elements as outputs",
))


# -- tuples ------------------------------------------------------------------------------
register(OpDef(
    name="prim::TupleConstruct", group=Group.TUPLE, inputs=("*elements",),
    infer=lambda context: [TupleType(context.input_types)],
    reference=lambda *elements: tuple(elements), code="{elements_tuple}", doc="(a, b, ...)",
))


def _tuple_input(context) -> TupleType:
    type = context.input_types[0]
    if not isinstance(type, TupleType):
        raise context.error(f"expected a tuple, got {type}")
    return type


def _tuple_index_infer(context):
    elements = _tuple_input(context).elements
    index = context.attributes["index"]
    if not -len(elements) <= index < len(elements):
        raise context.error(f"tuple index {index} out of range for {len(elements)} elements")
    return [elements[index]]


register(OpDef(
    name="prim::TupleIndex", group=Group.TUPLE, inputs=("tuple",), attributes={"index": REQUIRED},
    infer=_tuple_index_infer, reference=lambda items, index: items[index],
    code="{0}[{index}]", doc="tuple[index] with a constant index",
))


def _tuple_unpack_infer(context):
    elements = _tuple_input(context).elements
    if len(elements) != context.num_outputs:
        raise context.error(f"cannot unpack {len(elements)} values into {context.num_outputs}")
    return list(elements)


register(OpDef(
    name="prim::TupleUnpack", group=Group.TUPLE, inputs=("tuple",), infer=_tuple_unpack_infer,
    reference=tuple, num_outputs=None, doc="a, b = tuple",
))


# -- scalars and tensors ----------------------------------------------------------------------
def _num_to_tensor_infer(context):
    type = context.input_types[0]
    if not isinstance(type, ScalarType):
        raise context.error(f"expected a Python scalar, got {type}")
    return [array_like_input(context, 0)]


register(OpDef(
    name="prim::NumToTensor", group=Group.SCALAR, inputs=("x",), infer=_num_to_tensor_infer,
    reference=lambda x: np.asarray(x)[()], code="np.asarray({0})",
    doc="a Python scalar as a 0-d array of its default dtype (strong in promotion)",
))


def _to_scalar_infer(result):
    def infer(context):
        type = context.input_types[0]
        if isinstance(type, TensorType) and type.shape is not None:
            # NumPy 2 converts only 0-d arrays to int and float; bool() takes any size-1 array.
            if result != BOOL and type.shape != ():
                raise context.error(f"only 0-d arrays can be converted to {result}, got {type}")
            if any(isinstance(d, int) and d != 1 for d in type.shape):
                raise context.error(f"only arrays of size 1 can be converted to {result}, got {type}")
        elif not isinstance(type, (ScalarType, TensorType)):
            raise context.error(f"cannot convert {type} to {result}")
        return [result]
    return infer


for _type, _function in ((INT, int), (FLOAT, float), (BOOL, bool)):
    register(OpDef(
        name=f"prim::{_function.__name__.capitalize()}", group=Group.SCALAR, inputs=("x",),
        infer=_to_scalar_infer(_type), reference=_function, code=f"{_function.__name__}({{0}})",
        doc=f"Python {_function.__name__}(x) of a scalar or a 0-d array (bool: a size-1 array)",
    ))


# -- fusion groups ---------------------------------------------------------------------------
def _fusion_group_infer(context):
    if context.declared_types is None:
        raise context.error("a fusion group's output types come from its block; declare them")
    return list(context.declared_types)


register(OpDef(
    name="prim::FusionGroup", group=Group.CONTROL, inputs=("*inputs",), infer=_fusion_group_infer,
    reference=None, num_outputs=None, num_blocks=1,
    doc="a closed sub-graph (block params are the inputs, its returns the outputs) "
        "that a backend emits as one loop nest or kernel; made by the fuse_elementwise pass",
))
register(OpDef(
    name="prim::CallFunction", group=Group.CONTROL, inputs=("*arguments",), attributes={"name": REQUIRED},
    infer=_fusion_group_infer, reference=None, num_outputs=None, num_blocks=1,
    doc="a call of the compiled function `name`: a closed block holding its body (block params are "
        "the arguments, its returns the results), as the frontend emits a call of a traced or "
        "loaded function; the inline_calls pass replaces it by the body before any backend sees it",
))
