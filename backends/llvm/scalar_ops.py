"""One lowering per elementwise op: what it computes on one element.

Each lowering gets a `Scalar` context (the emitter, the dtype the inputs were
cast to, the result dtype, and whether Python's scalar semantics apply) and
the input registers, and returns the result register. The loop nest around
it (broadcasting, strides, casts) is the same for every op; see elementwise.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from llvmlite import ir

from ...ir.types import DType
from . import vector_math
from .emitter import FunctionEmitter
from .layout import F32, F64, I1, is_unsigned_in_registers, register_type
from .runtime import declare


@dataclass
class Scalar:
    em: FunctionEmitter
    dtype: DType      # the dtype the inputs were cast to
    out: DType        # the dtype of the result
    python: bool      # all inputs are Python scalars: Python's rules (errors, not inf/0)
    uniform: tuple = ()  # per input: the same value for every element (a scalar or a 0-d array)

    @property
    def b(self) -> ir.IRBuilder:
        return self.em.builder

    @property
    def is_float(self) -> bool:
        return self.dtype.is_float

    @property
    def is_unsigned(self) -> bool:
        return self.dtype.is_unsigned

    def compare(self, symbol: str, x: ir.Value, y: ir.Value) -> ir.Value:
        """Integer comparison, unsigned for bool and uint* registers."""
        unsigned = is_unsigned_in_registers(self.dtype)
        return (self.b.icmp_unsigned if unsigned else self.b.icmp_signed)(symbol, x, y)

    def constant(self, value, dtype: DType | None = None) -> ir.Constant:
        dtype = dtype or self.dtype
        return ir.Constant(register_type(dtype), float(value) if dtype.is_float else int(value))

    def intrinsic(self, name: str, *args: ir.Value) -> ir.Value:
        type = args[0].type
        suffix = "f32" if type == F32 else "f64" if type == F64 else f"i{type.width}"
        return self._call(f"llvm.{name}.{suffix}", type, args)

    def libm(self, name: str, *args: ir.Value) -> ir.Value:
        type = args[0].type
        return self._call(name + ("f" if type == F32 else ""), type, args)

    def _call(self, symbol: str, type, args) -> ir.Value:
        return self.b.call(declare(self.em.module, symbol, type, [type] * len(args)), list(args))

    def is_nan(self, x: ir.Value) -> ir.Value:
        return self.b.fcmp_unordered("uno", x, x)

    def checked(self, name: str, x: ir.Value, y: ir.Value) -> ir.Value:
        """x <name> y on i64, raising OverflowError where Python's ints would grow."""
        result, overflow = self.em.with_overflow(name, x, y)
        self.em.raise_if(overflow, "OverflowError", "integer overflow: compiled code keeps Python ints in 64 bits")
        return result


Lowering = Callable[..., ir.Value]
SCALAR_LOWERINGS: dict[str, Lowering] = {}


def lowers(*names: str):
    def register(function: Lowering) -> Lowering:
        for name in names:
            SCALAR_LOWERINGS[f"np::{name}"] = function
        return function
    return register


# -- arithmetic ---------------------------------------------------------------------------
def _integer_arithmetic(name: str, llvm_name: str, overflow: str):
    def lower(s: Scalar, x, y):
        if s.dtype == DType.BOOL:  # NumPy: add is or, multiply is and
            return s.b.or_(x, y) if name == "add" else s.b.and_(x, y)
        if s.python and s.dtype == DType.INT64:
            return s.checked(overflow, x, y)
        return getattr(s.b, llvm_name)(x, y)
    return lower


for _name, _int, _float, _overflow in (("add", "add", "fadd", "sadd"), ("subtract", "sub", "fsub", "ssub"),
                                       ("multiply", "mul", "fmul", "smul")):
    def _make(name=_name, int_op=_int, float_op=_float, overflow=_overflow):
        integer = _integer_arithmetic(name, int_op, overflow)

        def lower(s: Scalar, x, y):
            return getattr(s.b, float_op)(x, y) if s.is_float else integer(s, x, y)
        return lower
    lowers(_name)(_make())


@lowers("divide")
def _divide(s: Scalar, x, y):
    if s.python:
        message = "float division by zero" if s.out == s.dtype and s.dtype.is_float else "division by zero"
        s.em.raise_if(s.b.fcmp_ordered("==", y, s.constant(0.0)), "ZeroDivisionError", message)
    return s.b.fdiv(x, y)


def _float_divmod(s: Scalar, x, y):
    """NumPy's npy_divmod (CPython's float // and % are the same algorithm)."""
    b, zero = s.b, s.constant(0.0)
    mod = b.frem(x, y)
    div = b.fdiv(b.fsub(x, mod), y)
    adjust = b.and_(b.fcmp_unordered("!=", mod, zero),
                    b.xor(b.fcmp_ordered("<", y, zero), b.fcmp_ordered("<", mod, zero)))
    mod = b.select(adjust, b.fadd(mod, y), b.select(b.fcmp_unordered("!=", mod, zero), mod,
                                                      s.intrinsic("copysign", zero, y)))
    div = b.select(adjust, b.fsub(div, s.constant(1.0)), div)
    floor = s.intrinsic("floor", div)
    floor = b.select(b.fcmp_ordered(">", b.fsub(div, floor), s.constant(0.5)), b.fadd(floor, s.constant(1.0)), floor)
    floor = b.select(b.fcmp_unordered("!=", div, zero), floor, s.intrinsic("copysign", zero, b.fdiv(x, y)))
    by_zero = b.fcmp_ordered("==", y, zero)
    return b.select(by_zero, b.fdiv(x, y), floor), b.select(by_zero, b.frem(x, y), mod)


def _unsigned_divmod(s: Scalar, x, y, operation: str):
    """udiv/urem, with y == 0 giving 0 as NumPy does (and never trapping)."""
    b, zero = s.b, s.constant(0)
    by_zero = b.icmp_unsigned("==", y, zero)
    safe_y = b.select(by_zero, s.constant(1), y)
    result = b.udiv(x, safe_y) if operation == "floor_divide" else b.urem(x, safe_y)
    return b.select(by_zero, zero, result)


def _integer_divmod(s: Scalar, x, y, operation: str):
    """Floor division and modulo on ints, never trapping: y == 0 gives 0 as
    in NumPy (Python raises), MIN // -1 wraps as in NumPy."""
    b = s.b
    if s.is_unsigned:
        return _unsigned_divmod(s, x, y, operation)
    zero, one, minus_one = s.constant(0), s.constant(1), s.constant(-1)
    if s.python:
        s.em.raise_if(b.icmp_signed("==", y, zero), "ZeroDivisionError",
                      f"integer {'division' if operation == 'floor_divide' else 'modulo'} by zero")
    unsafe = b.or_(b.icmp_signed("==", y, zero), b.icmp_signed("==", y, minus_one))
    safe_y = b.select(unsafe, one, y)
    quotient, remainder = b.sdiv(x, safe_y), b.srem(x, safe_y)
    adjust = b.and_(b.icmp_signed("!=", remainder, zero),
                    b.xor(b.icmp_signed("<", remainder, zero), b.icmp_signed("<", y, zero)))
    if operation == "floor_divide":
        result = b.select(adjust, b.sub(quotient, one), quotient)
        special = b.select(b.icmp_signed("==", y, zero), zero, b.sub(zero, x))
    else:
        result = b.select(adjust, b.add(remainder, y), remainder)
        special = zero
    if s.python:  # MIN // -1 overflows a Python int's 64 bits
        s.em.raise_if(b.and_(b.icmp_signed("==", y, minus_one), b.icmp_signed("==", x, s.constant(-2 ** 63))),
                      "OverflowError", "integer overflow: compiled code keeps Python ints in 64 bits")
    return b.select(unsafe, special, result)


def _divmod_lowering(operation: str):
    def lower(s: Scalar, x, y):
        if s.dtype == DType.BOOL:
            x, y = (s.em.cast(v, DType.BOOL, DType.INT64) for v in (x, y))
            s = Scalar(s.em, DType.INT64, s.out, s.python)
        if s.is_float:
            if s.python:
                s.em.raise_if(s.b.fcmp_ordered("==", y, s.constant(0.0)), "ZeroDivisionError",
                              "float floor division by zero" if operation == "floor_divide"
                              else "float modulo by zero")
            quotient, modulo = _float_divmod(s, x, y)
            return quotient if operation == "floor_divide" else modulo
        return _integer_divmod(s, x, y, operation)
    return lower


SCALAR_LOWERINGS["np::floor_divide"] = _divmod_lowering("floor_divide")
SCALAR_LOWERINGS["np::remainder"] = _divmod_lowering("remainder")


def _small_power(s: Scalar, x, exponent: float):
    """x ** n for n = 1, 2, 3, 4 as multiplications (vectorisable; within 1 ulp of pow)."""
    result = x
    for _ in range(int(exponent) - 1):
        result = s.b.fmul(result, x) if s.is_float else s.b.mul(result, x)
    return result


@lowers("power")
def _power(s: Scalar, x, y):
    b = s.b
    if isinstance(y, ir.Constant) and not s.python and s.dtype != DType.BOOL and y.constant in (1, 2, 3, 4):
        return _small_power(s, x, y.constant)
    if s.is_float:
        if s.python:
            zero = s.constant(0.0)
            s.em.raise_if(b.and_(b.fcmp_ordered("==", x, zero), b.fcmp_ordered("<", y, zero)), "ZeroDivisionError",
                          "0.0 cannot be raised to a negative power")
            fractional = b.fcmp_unordered("!=", s.intrinsic("floor", y), y)
            finite = b.fcmp_ordered("<", s.intrinsic("fabs", y), s.constant(float("inf")))
            s.em.raise_if(b.and_(b.and_(b.fcmp_ordered("<", x, zero), fractional), finite), "ValueError",
                          "a negative number to a fractional power is not a real number")
        if s.uniform[1:2] == (True,):  # NumPy takes the square root for a uniform exponent of 0.5
            return b.select(b.fcmp_ordered("==", y, s.constant(0.5)), s.intrinsic("sqrt", x), s.intrinsic("pow", x, y))
        return s.intrinsic("pow", x, y)
    if s.dtype == DType.BOOL:
        return b.or_(x, b.not_(y))  # NumPy: x ** y on bools is x or not y
    if not s.is_unsigned:
        s.em.raise_if(b.icmp_signed("<", y, s.constant(0)), "ValueError",
                      "Integers to negative integer powers are not allowed.")
    return _integer_power(s, x, y)


def _integer_power(s: Scalar, base, exponent):
    """Exponentiation by squaring (wrapping as NumPy; checked for Python ints)."""
    em, b = s.em, s.b
    multiply = (lambda p, q: s.checked("smul", p, q)) if s.python else b.mul
    result_slot, base_slot, exp_slot = (em.alloca_builder.alloca(base.type) for _ in range(3))
    b.store(s.constant(1), result_slot)
    b.store(base, base_slot)
    b.store(exponent, exp_slot)
    with em.while_loop(lambda: s.compare(">", b.load(exp_slot), s.constant(0)), "pow"):
        e = b.load(exp_slot)
        with b.if_then(b.trunc(e, I1)):
            b.store(multiply(b.load(result_slot), b.load(base_slot)), result_slot)
        e = (b.lshr if s.is_unsigned else b.ashr)(e, s.constant(1))
        b.store(e, exp_slot)
        with b.if_then(s.compare(">", e, s.constant(0))):
            b.store(multiply(b.load(base_slot), b.load(base_slot)), base_slot)
    return b.load(result_slot)


def _extremum_lowering(greater: bool):
    def lower(s: Scalar, x, y):
        b = s.b
        if s.python:  # max(x, y) is x unless y > x (so NaN only wins from the left)
            better = b.fcmp_ordered(">" if greater else "<", y, x) if s.is_float else \
                s.compare(">" if greater else "<", y, x)
            return b.select(better, y, x)
        if s.is_float:  # NumPy propagates NaN from either side
            keep_x = b.or_(b.fcmp_ordered(">=" if greater else "<=", x, y), s.is_nan(x))
            return b.select(keep_x, x, y)
        return b.select(s.compare(">=" if greater else "<=", x, y), x, y)
    return lower


SCALAR_LOWERINGS["np::maximum"] = _extremum_lowering(True)
SCALAR_LOWERINGS["np::minimum"] = _extremum_lowering(False)


@lowers("arctan2")
def _arctan2(s: Scalar, x, y):
    return s.libm("atan2", x, y)


# -- comparisons and logic -------------------------------------------------------------------
_COMPARISONS = {"less": "<", "less_equal": "<=", "greater": ">", "greater_equal": ">=", "equal": "==",
                "not_equal": "!="}
for _name, _symbol in _COMPARISONS.items():
    def _make(symbol=_symbol):
        def lower(s: Scalar, x, y):
            if s.is_float:
                return (s.b.fcmp_unordered if symbol == "!=" else s.b.fcmp_ordered)(symbol, x, y)
            return s.compare(symbol, x, y)
        return lower
    lowers(_name)(_make())


def _truth(s: Scalar, x):
    return s.em.cast(x, s.dtype, DType.BOOL)


@lowers("logical_and")
def _logical_and(s, x, y):
    return s.b.and_(_truth(s, x), _truth(s, y))


@lowers("logical_or")
def _logical_or(s, x, y):
    return s.b.or_(_truth(s, x), _truth(s, y))


@lowers("logical_xor")
def _logical_xor(s, x, y):
    return s.b.xor(_truth(s, x), _truth(s, y))


@lowers("logical_not")
def _logical_not(s, x):
    return s.b.not_(_truth(s, x))


@lowers("bitwise_and")
def _bitwise_and(s, x, y):
    return s.b.and_(x, y)


@lowers("bitwise_or")
def _bitwise_or(s, x, y):
    return s.b.or_(x, y)


@lowers("bitwise_xor")
def _bitwise_xor(s, x, y):
    return s.b.xor(x, y)


@lowers("invert")
def _invert(s, x):
    return s.b.not_(x)


# -- unary arithmetic ----------------------------------------------------------------------------
@lowers("negative")
def _negative(s, x):
    if s.is_float:
        return s.b.fneg(x)
    return s.checked("ssub", s.constant(0), x) if s.python else s.b.neg(x)


@lowers("positive")
def _positive(s, x):
    return x


@lowers("absolute")
def _absolute(s, x):
    if s.is_float:
        return s.intrinsic("fabs", x)
    if s.dtype == DType.BOOL or s.is_unsigned:
        return x
    negated = s.checked("ssub", s.constant(0), x) if s.python else s.b.neg(x)
    return s.b.select(s.b.icmp_signed("<", x, s.constant(0)), negated, x)


@lowers("sign")
def _sign(s, x):
    b, zero = s.b, s.constant(0)
    if s.is_float:
        signed = b.select(b.fcmp_ordered(">", x, zero), s.constant(1),
                          b.select(b.fcmp_ordered("<", x, zero), s.constant(-1), zero))
        return b.select(s.is_nan(x), x, signed)
    if s.is_unsigned:
        return b.select(b.icmp_unsigned(">", x, zero), s.constant(1), zero)
    return b.select(b.icmp_signed(">", x, zero), s.constant(1),
                    b.select(b.icmp_signed("<", x, zero), s.constant(-1), zero))


@lowers("square")
def _square(s, x):
    return s.b.fmul(x, x) if s.is_float else s.b.and_(x, x) if s.dtype == DType.BOOL else s.b.mul(x, x)


@lowers("reciprocal")
def _reciprocal(s, x):
    if s.is_float:
        return s.b.fdiv(s.constant(1.0), x)
    # NumPy on ints: 1 / x truncated, and 0 for x == 0
    is_zero = s.b.icmp_signed("==", x, s.constant(0))
    divide = s.b.udiv if s.is_unsigned else s.b.sdiv
    return s.b.select(is_zero, s.constant(0), divide(s.constant(1), s.b.select(is_zero, s.constant(1), x)))


def _rounding(intrinsic: str):
    def lower(s, x):
        return s.intrinsic(intrinsic, x) if s.is_float else x
    return lower


for _name, _intrinsic in (("floor", "floor"), ("ceil", "ceil"), ("trunc", "trunc"), ("rint", "rint")):
    lowers(_name)(_rounding(_intrinsic))

for _name, _intrinsic in (("sqrt", "sqrt"), ("exp2", "exp2"), ("log2", "log2"), ("log10", "log10"),
                          ("sin", "sin"), ("cos", "cos")):
    lowers(_name)(lambda s, x, _i=_intrinsic: s.intrinsic(_i, x))

for _name, _function in (("log1p", "log1p"), ("tan", "tan"), ("arcsin", "asin"), ("arccos", "acos"),
                         ("arctan", "atan"), ("sinh", "sinh"), ("cosh", "cosh")):
    lowers(_name)(lambda s, x, _f=_function: s.libm(_f, x))

for _name in ("exp", "expm1", "tanh", "log"):  # vectorisable versions (vector_math.py)
    lowers(_name)(lambda s, x, _f=getattr(vector_math, _name): _f(s, x))


@lowers("isnan")
def _isnan(s, x):
    return s.is_nan(x) if s.is_float else ir.Constant(I1, 0)


@lowers("isinf")
def _isinf(s, x):
    return s.b.fcmp_ordered("==", s.intrinsic("fabs", x), s.constant(float("inf"))) if s.is_float \
        else ir.Constant(I1, 0)


@lowers("isfinite")
def _isfinite(s, x):
    return s.b.fcmp_ordered("<", s.intrinsic("fabs", x), s.constant(float("inf"))) if s.is_float \
        else ir.Constant(I1, 1)


# -- three inputs -----------------------------------------------------------------------------------
@lowers("where")
def _where(s, condition, x, y):
    return s.b.select(condition, x, y)


@lowers("clip")
def _clip(s, x, low, high):
    lower = _extremum_lowering(True)(s, x, low)
    return _extremum_lowering(False)(s, lower, high)
