"""Every ScriptError of the scripter: its type, a message that names the
construct, the file and line, and a caret under the construct."""
from __future__ import annotations

import numpy as np
import pytest

from jitc.errors import ScriptError
from jitc.frontend.scripter import script_graph
from jitc.ir.types import DType, TensorType
from support.script_checks import assert_points_at


def identity_decorator(function):
    return function


def script_error(function, param_types=None) -> ScriptError:
    with pytest.raises(ScriptError) as info:
        script_graph(function, param_types)
    return info.value


# -- statements -----------------------------------------------------------------------------------
def uses_while_else(x):
    while x.sum() > 0:
        x = x - 1
    else:
        x = x + 1
    return x


def uses_with(x):
    with open("f") as f:
        pass
    return x


def uses_try(x):
    try:
        x = x + 1
    except ValueError:
        pass
    return x


def uses_bare_raise(x):
    raise


class ModelError(Exception):
    pass


def raises_own_exception(x):
    raise ModelError("no")


def raises_from(x):
    raise ValueError("no") from None


def assert_with_computed_message(x):
    assert x.sum() > 0, x.max()
    return x


def uses_global(x):
    global GAIN
    return x


def uses_nonlocal():
    y = 1

    def inner(x):
        nonlocal y
        return x
    return inner


def uses_nested_def(x):
    def inner(y):
        z = y * 2
        return z
    return inner(x)


def uses_class(x):
    class Local:
        pass
    return x


def uses_import(x):
    import math
    return x


def uses_del(x):
    y = x
    del y
    return x


def assigns_attribute(x):
    x.shape = (3,)
    return x


def assigns_tuple_element(x):
    pair = (x, x)
    pair[0] = x
    return x


def starred_target(xs: list[np.ndarray]):
    first, *rest = xs
    return first


def returns_of_different_arity_in_loop(x, n: int):
    for i in range(n):
        if i > 2:
            return x, x
    return x


def loop_over_float(x):
    for c in 2.5:
        x = x + c
    return x


def loop_grows_its_list(x):
    items = [x, x]
    for item in items:
        items.append(item)
    return x


def assigned_after_break(x, flag: bool):
    for w in (x, x):
        if flag:
            break
        y = w
    return y


WEIGHTS = np.ones(3)


def writes_a_global_array(x):
    w = WEIGHTS
    w[0] = 2.0
    return x + w


def writes_through_reshape(x):
    flat = x.reshape(-1)
    flat[0] = 1.0
    return x


def writes_one_of_two_arrays(a, b, flag: bool):
    y = a if flag else b
    y[0] = 1.0
    return a, b


def writes_after_putting_in_a_list(x):
    items = [x]
    x[0] = 1.0
    return items[0]


def writes_into_a_list_element(xs: list[np.ndarray]):
    first = xs[0]
    first[0] = 1.0
    return xs[0]


def augments_an_array_in_a_list(x):
    items = [x, x * 2]
    items[0] += 1.0
    return x


def in_place_add_of_a_float_to_ints(x):
    x += 1.5
    return x


def range_with_variable_step(x, stride: int):
    for i in range(0, 10, stride):
        x = x + i
    return x


def range_with_zero_step(x):
    for i in range(5, 9, 0):
        x = x + i
    return x


def range_of_float(x):
    for i in range(2.5):
        x = x + i
    return x


def for_else(x, n: int):
    for i in range(n):
        x = x + 1
    else:
        x = x - 1
    return x


def defined_in_one_branch(x, n: int):
    if n > 0:
        y = x * 2
    return y


def defined_in_loop(x, n: int):
    for i in range(n):
        last = x * i
    return last


def used_before_assignment(x):
    y = z + x
    z = x
    return y


def branches_of_different_types(x, n: int):
    if n > 0:
        y = x
    else:
        y = 1
    return y


def loop_changes_type(x, n: int):
    total = 0
    for i in range(n):
        total = total + x
    return total


def returns_of_different_arity(x, n: int):
    if n > 0:
        return x, x
    return x


def falls_off_after_return(x, n: int):
    if n > 0:
        return x


def async_function(x):
    return x


async def is_async(x):
    return await x


def star_parameters(x, *rest):
    return x


def keyword_only(x, *, scale):
    return x * scale


def bad_annotation(x: str):
    return x


# -- expressions -----------------------------------------------------------------------------------
def uses_dict_comprehension(x):
    return {i: x for i in range(3)}


def uses_set_comprehension(x):
    return {i for i in range(3)}


def uses_generator(x):
    return sum(i for i in range(3))


def uses_fstring(x):
    return f"{x}"


def uses_starred_call(x):
    args = [x, x]
    for i in range(3):
        args.append(x)
    return np.maximum(*args)


def uses_kwargs_call(x):
    options = x
    return np.sum(x, **options)


def uses_dict(x):
    return {"x": x}


def uses_walrus(x):
    return (y := x)


def uses_yield(x):
    yield x


def calls_print(x):
    print(x)
    return x


def calls_unsupported_numpy(x):
    return np.linalg.inv(x)


def unknown_name(x):
    return undefined_function(x)


def unknown_numpy_attribute(x):
    return np.not_a_function(x)


def unknown_array_attribute(x):
    return x.strides


def wrong_keyword(x):
    return x.sum(axis=0, bogus=1)


def unexpected_keyword(x):
    return x.reshape(2, bogus=1)


def too_many_arguments(x):
    return np.tanh(x, x, x)


def uses_in(x, n: int):
    return n in (1, 2)


def uses_is_between_arrays(x, y):
    return x is y


def unpacks_array(x):
    a, b = x
    return a


def unpacks_too_many(x):
    a, b, c = (x, x)
    return a


def broadcast_mismatch(x, y):
    return x + y


def complex_constant(x):
    return x * 1j


def calls_an_int(x):
    return x(1)


def appends_in_expression(x):
    y = []
    z = y.append(x)
    return x


class Model:
    """Methods are indented: columns must still be the file's."""

    def forward(self, x):
        self.cache = x
        return x

    def method_with_while_else(self, x):
        while x > 0:
            x = x - 1
        else:
            x = x + 1
        return x


@identity_decorator
def decorated(x):
    return undefined_function(x)


def slices_a_list(xs: list[np.ndarray]):
    return xs[1:]


CASES = [
    (slices_a_list, "slicing a list is not supported yet", "xs[1:]"),
    (uses_while_else, "'while ... else' is not supported", "x = x + 1"),
    (uses_with, "'with'", 'with open("f") as f:'),
    (uses_try, "'try'", "try:"),
    (uses_bare_raise, "a bare `raise` is not supported", "raise"),
    (raises_own_exception, "jitc can raise only Python's built-in exceptions (ValueError, TypeError, "
     "RuntimeError...), not", 'ModelError("no")'),
    (raises_from, "`raise ... from ...` is not supported", "None"),
    (assert_with_computed_message, "the message of an assert must be a constant", "x.max()"),
    (uses_global, "'global'", "global GAIN"),
    (uses_nonlocal(), "'nonlocal'", "nonlocal y"),
    (uses_nested_def, "a nested function whose body is more than one `return`", "def inner(y):"),
    (uses_class, "class definitions", "class Local:"),
    (uses_import, "'import'", "import math"),
    (uses_del, "'del'", "del y"),
    (assigns_attribute, "assigning to an attribute", "x.shape"),
    (assigns_tuple_element, "a tuple of 2 does not support item assignment", "pair[0]"),
    (starred_target, "star-unpacking needs a tuple or a list whose length is known", "first, *rest"),
    (returns_of_different_arity_in_loop, "this return gives one value but the return at line", "return x"),
    (loop_over_float, "cannot loop over float 2.5", "2.5"),
    (loop_grows_its_list, "the loop adds to the list 'items' it iterates over", "items.append(item)"),
    (assigned_after_break, "'y' is assigned only after the if at line", "y"),
    (writes_a_global_array, "an array jitc compiles as a constant", "w[0]"),
    (writes_through_reshape, "'flat' is made by reshape", "flat[0]"),
    (writes_one_of_two_arrays, "'y' and 'a' may or may not be the same array", "y[0]"),
    (writes_after_putting_in_a_list, "'x' was put into a list or tuple at line", "x[0]"),
    (writes_into_a_list_element, "'first' is an array taken out of a list or tuple", "first[0]"),
    (augments_an_array_in_a_list, "`items[0] += ...` writes into the array held by the list", "items[0] += 1.0"),
    (range_with_variable_step, "step of range() must be a non-zero int constant", "stride"),
    (range_with_zero_step, "step of range() must be a non-zero int constant", "0"),
    (range_of_float, "range() takes ints, got float 2.5", "2.5"),
    (for_else, "'for ... else'", "x = x - 1"),
    (defined_in_one_branch, "'y' is defined in only one branch of the if at line", "y"),
    (defined_in_loop, "'last' is assigned inside the for loop at line", "last"),
    (used_before_assignment, "local variable 'z' is used before it is assigned", "z"),
    (branches_of_different_types, "'y' is Tensor when the condition holds and int when it does not",
     "if n > 0:"),
    (loop_changes_type, "'total' is int before an iteration of the loop and Tensor after it",
     "for i in range(n):"),
    (returns_of_different_arity, "this return gives one value but the return at line", "return x"),
    (falls_off_after_return, "the return value is Tensor when the condition holds and None", "if n > 0:"),
    (is_async, "async functions", "async def is_async(x):"),
    (star_parameters, "positional parameters only", "rest"),
    (keyword_only, "positional parameters only", "scale"),
    (bad_annotation, "does not support the annotation str of 'x'", "str"),
    (uses_dict_comprehension, "dict comprehensions", "{i: x for i in range(3)}"),
    (uses_set_comprehension, "set comprehensions", "{i for i in range(3)}"),
    (uses_generator, "generator expressions", "(i for i in range(3))"),
    (uses_fstring, "the f-string value {x} is not known while compiling", 'f"{x}"'),
    (uses_starred_call, "*x in a call needs a tuple or a list whose length is known", "*args"),
    (uses_kwargs_call, "**kwargs in calls", "**options"),
    (uses_dict, "dict displays", '{"x": x}'),
    (uses_walrus, "assignment expressions (:=)", "y := x"),
    (uses_yield, "'yield'", "yield x"),
    (calls_print, "print is not supported by jitc", "print(x)"),
    (calls_unsupported_numpy, "np.inv is not supported by jitc", "np.linalg.inv(x)"),
    (unknown_name, "name 'undefined_function' is not defined", "undefined_function"),
    (unknown_numpy_attribute, "has no attribute 'not_a_function'", "np.not_a_function"),
    (unknown_array_attribute, "the ndarray attribute 'strides' is not supported", "x.strides"),
    (wrong_keyword, "np.sum: argument 'bogus' is not supported", "x.sum(axis=0, bogus=1)"),
    (unexpected_keyword, "ndarray.reshape(): got an unexpected keyword argument 'bogus'",
     "x.reshape(2, bogus=1)"),
    (too_many_arguments, "np.tanh takes 1 input(s), got 3", "np.tanh(x, x, x)"),
    (uses_in, "'in' and 'not in'", "n in (1, 2)"),
    (uses_is_between_arrays, "'is' is supported only to compare with None", "x is y"),
    (unpacks_array, "cannot unpack a value of type Tensor into 2 names", "a, b"),
    (unpacks_too_many, "cannot unpack a tuple of 2 into 3 names", "a, b, c"),
    (complex_constant, "complex constants", "1j"),
    (calls_an_int, "is not callable", "x(1)"),
    (appends_in_expression, "list.append(...) is supported only as a statement", "y.append"),
    (Model.forward, "assigning to an attribute", "self.cache"),
    (Model.method_with_while_else, "'while ... else' is not supported", "x = x + 1"),
    (decorated, "name 'undefined_function' is not defined", "undefined_function"),
]


@pytest.mark.parametrize("function, message, construct", CASES, ids=[case[0].__name__ for case in CASES])
def test_unsupported_source_raises_a_script_error_at_the_construct(function, message, construct):
    error = script_error(function)
    assert message in error.message
    assert error.location.filename == __file__
    assert_points_at(error, construct)


def test_an_in_place_operator_keeps_the_arrays_dtype_as_numpy_does():
    error = script_error(in_place_add_of_a_float_to_ints, [TensorType(DType.INT64, ("*",))])
    assert ("Cannot cast ufunc 'add' output from dtype('float64') to dtype('int64') with casting rule "
            "'same_kind'") in error.message
    assert_points_at(error, "x", "x += 1.5")


def test_a_type_rule_error_points_at_the_expression():
    matrix = TensorType(DType.FLOAT32, (2, 3))
    error = script_error(broadcast_mismatch, [matrix, TensorType(DType.FLOAT32, (4,))])
    assert "operands could not be broadcast together with shapes (2,3) (4,)" in error.message
    assert_points_at(error, "x + y")


def test_error_text_quotes_the_line_with_a_caret():
    error = script_error(assigns_attribute)
    line = assigns_attribute.__code__.co_firstlineno + 1
    assert str(error).splitlines()[1:] == [f'  File "{__file__}", line {line}', "    x.shape = (3,)",
                                           "    ^^^^^^^"]


def test_carets_count_characters_not_bytes():
    def unicode_names(x):
        größe = x; ü = größe.T; größe.ü = ü
        return größe

    error = script_error(unicode_names)
    assert_points_at(error, "größe.ü")
    assert str(error).splitlines()[-1] == "    " + " " * 24 + "^" * 7


def test_nested_function_columns_are_the_files():
    def outer():
        def inner(x):
            return x @ undefined_function
        return inner

    error = script_error(outer())
    assert error.location.column == 23
    assert_points_at(error, "undefined_function")


def test_functions_without_source_raise():
    namespace = {}
    exec("def made_by_exec(x):\n    return x\n", namespace)
    assert "cannot read the source of made_by_exec" in script_error(namespace["made_by_exec"]).message
    assert "use jitc.trace" in script_error(namespace["made_by_exec"]).message.lower()
    assert "needs a function written with `def`" in script_error(len).message
    assert "needs a function written with `def`" in script_error(lambda x: x).message
