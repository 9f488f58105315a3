"""exp, expm1, tanh and log as straight-line arithmetic (no calls, no
branches), so that LLVM vectorises the loops they sit in. libm's scalar
calls would stop the loop vectoriser.

Accuracy, measured against NumPy by tests/backends/test_vector_math.py over
the whole float range: exp 3 ulp (float32, where NumPy's own float32 exp is
2.4 ulp off) / 2 ulp (float64), expm1 2 ulp, tanh 5 ulp (float32) / 3 ulp
(float64), log 4 ulp (float32) / 3 ulp (float64) (NaN, ±inf, ±0, subnormal
results and overflow as in C99). Against the exact function (NumPy's float64
result, over every 13th float32 bit pattern) float32 exp is within 0.9 ulp,
expm1 1.8, tanh 5.1 (largest where tanh is near ±1) and log 2.9.

Method: exp and expm1 reduce x = n ln2 + r with |r| <= ln2/2 (Cody-Waite,
two constants; n rounded by adding 1.5 * 2^mantissa, whose low bits are
then n), take expm1(r) from its Taylor polynomial (degree 7 for float32, 13
for float64, evaluated by Estrin's scheme: a short chain of dependent FMAs)
and scale by 2^n in two steps so that subnormal and overflowing results
round once (float32 exp: a shorter variant, see _exp_float32). Float32 tanh
is a rational function (see _tanh_rational); float64 tanh(x) = expm1(2|x|) /
(expm1(2|x|) + 2) with the sign restored; its argument is at most 80 (tanh
is 1 beyond 40), so expm1 scales there in one step. Polynomials and
reductions use llvm.fmuladd (one FMA instruction on CPUs with FMA). log
splits x = m 2^e with m in [sqrt(1/2), sqrt(2)) and sums
e ln2 + 2 atanh((m-1)/(m+1)) as an odd series.
"""
from __future__ import annotations

import math

from llvmlite import ir

from .layout import F32, I32, I64

_SPEC = {
    # float type: (int type, mantissa bits, exponent bias, polynomial degree, clamp low, clamp high,
    #              ln2 high, ln2 low, log series terms)
    "float": (I32, 23, 127, 7, -104.0, 89.0, 0.693359375, -2.12194440e-4, 5),
    "double": (I64, 52, 1023, 13, -746.0, 710.0, 6.93147180369123816490e-01, 1.90821492927058770002e-10, 11),
}


def _spec(x):
    return _SPEC["float" if x.type == F32 else "double"]


def _c(x, value: float) -> ir.Constant:
    return ir.Constant(x.type, value)


def _pow2(s, n, x):
    """2^n as a float of x's type, for n in the normal exponent range (n an int register)."""
    int_type, mantissa, bias = _spec(x)[:3]
    b = s.b
    return b.bitcast(b.shl(b.add(n, ir.Constant(int_type, bias)), ir.Constant(int_type, mantissa)), x.type)


def _muladd(s, a, b, c):
    """a * b + c, fused into one FMA where the CPU has it (llvm.fmuladd)."""
    return s.intrinsic("fmuladd", a, b, c)


def _reduce(s, x, clamp_low: bool = True):
    """(n, expm1(r)) with x = n ln2 + r, x clamped to where exp is finite
    (and, unless `clamp_low` is False for x known >= 0, nonzero). The clamps
    keep a NaN, and n comes from the bits of x/ln2 + 1.5 * 2^mantissa (its
    low bits are n once rounded: one FMA does the rounding, no conversion
    instruction), so a NaN x gives a NaN expm1(r) and a defined n."""
    b = s.b
    int_type, mantissa, _, degree, low, high, ln2_high, ln2_low = _spec(x)[:8]
    x = b.select(b.fcmp_ordered(">", x, _c(x, high)), _c(x, high), x)
    if clamp_low:
        x = b.select(b.fcmp_ordered("<", x, _c(x, low)), _c(x, low), x)
    magic = 1.5 * 2.0 ** mantissa
    shifted = _muladd(s, x, _c(x, 1 / math.log(2)), _c(x, magic))
    n_float = b.fsub(shifted, _c(x, magic))
    r = _muladd(s, n_float, _c(x, -ln2_low), _muladd(s, n_float, _c(x, -ln2_high), x))
    # expm1(r) = r + r^2 (1/2! + r/3! + r^2/4! + ...), the bracket by Estrin's scheme (pairs
    # c_k + c_k+1 r combined with r^2, r^4, ...): a shorter chain of dependent FMAs than Horner's
    square = b.fmul(r, r)
    terms = [_muladd(s, r, _c(x, 1 / math.factorial(k + 1)), _c(x, 1 / math.factorial(k)))
             if k < degree else _c(x, 1 / math.factorial(k)) for k in range(2, degree + 1, 2)]
    power = square
    while len(terms) > 1:
        terms = [_muladd(s, power, terms[i + 1], terms[i]) if i + 1 < len(terms) else terms[i]
                 for i in range(0, len(terms), 2)]
        power = b.fmul(power, power) if len(terms) > 1 else power
    em1 = _muladd(s, square, terms[0], r)
    return b.sub(b.bitcast(shifted, int_type), ir.Constant(int_type, _float_bits(x, magic))), em1


def _scale(s, value, n, x):
    """value * 2^n in two steps (2^n alone may be subnormal or overflow)."""
    b = s.b
    int_type = _spec(x)[0]
    half = b.ashr(n, ir.Constant(int_type, 1))
    return b.fmul(b.fmul(value, _pow2(s, half, x)), _pow2(s, b.sub(n, half), x))


def _keep_nan(s, x, result):
    return s.b.select(s.is_nan(x), x, result)


# exp(r) ~ 1 + r + c2 r^2 + ... + c6 r^6 on |r| <= ln2/2 for float32: least maximum relative
# error (3e-9, a twentieth of an ulp; a linear program over 6,000 points)
_EXP32 = (0.4999999343209834, 0.16666520399000628, 0.04166839078906096, 0.008368745112789592,
          0.0013814539935873595)


def _exp_float32(s, x):
    """float32 exp in about twenty vector instructions (the general path takes thirty): the
    Taylor polynomial of degree 7 gives way to the minimax one of degree 6 in Horner's form,
    and 2^n comes straight from the bits of the rounding sum. That sum adds 1.5 * 2^23 plus
    the exponent bias plus K = 64 for x < 0 (-64 otherwise), so that its low bits, shifted into
    the exponent field, are 2^(n+K), a normal number for every n of the clamped range; the
    result p 2^(n+K) 2^-K then rounds once, in the last multiply, also where it is subnormal
    or overflows. A NaN stays NaN through the multiplies."""
    b = s.b
    x = b.select(b.fcmp_ordered(">", x, _c(x, 89.0)), _c(x, 89.0), x)
    x = b.select(b.fcmp_ordered("<", x, _c(x, -104.0)), _c(x, -104.0), x)
    negative = b.fcmp_ordered("<", x, _c(x, 0.0))
    magic = 1.5 * 2.0 ** 23 + 127
    shift = b.select(negative, _c(x, magic + 64), _c(x, magic - 64))
    shifted = _muladd(s, x, _c(x, 1 / math.log(2)), shift)
    n = b.fsub(shifted, shift)
    ln2_high, ln2_low = _SPEC["float"][6:8]
    r = _muladd(s, n, _c(x, -ln2_low), _muladd(s, n, _c(x, -ln2_high), x))
    p = _c(x, _EXP32[-1])
    for coefficient in (*_EXP32[-2::-1], 1.0, 1.0):
        p = _muladd(s, p, r, _c(x, coefficient))
    power = b.bitcast(b.shl(b.bitcast(shifted, I32), ir.Constant(I32, 23)), x.type)
    return b.fmul(b.fmul(p, power), b.select(negative, _c(x, 2.0 ** -64), _c(x, 2.0 ** 64)))


def exp(s, x):
    if x.type == F32:
        return _exp_float32(s, x)
    n, em1 = _reduce(s, x)
    return _scale(s, s.b.fadd(em1, _c(x, 1.0)), n, x)  # NaN stays NaN through _reduce


def expm1(s, x):
    b = s.b
    int_type, mantissa = _spec(x)[:2]
    n, em1 = _reduce(s, x)
    # 2^n (expm1(r) + 1 - 2^-n): exact for n = 0, where cancellation would hurt; for
    # n below -(mantissa + 2) the result rounds to -1
    floor = ir.Constant(int_type, -(mantissa + 2))
    very_negative = b.icmp_signed("<", n, floor)
    safe_n = b.select(very_negative, floor, n)
    inverse = _scale(s, _c(x, 1.0), b.neg(safe_n), x)
    result = _scale(s, b.fadd(em1, b.fsub(_c(x, 1.0), inverse)), safe_n, x)
    return _keep_nan(s, x, b.select(very_negative, _c(x, -1.0), result))


# tanh(x) ~ x P(x^2) / Q(x^2) for float32 on |x| <= 9.02 (beyond it tanh rounds to +-1): the
# [11/8] rational of least maximum relative error (a linear program over 3,500 points), with
# P(0) = Q(0) = 1; below, the coefficients of x^2, x^4, ... of P and of Q
_TANH32_P = (0.13649767784490627, 0.0038302845496094467, 2.7224953015628997e-05, 2.865324113409363e-08,
             -1.0737551826055616e-11)
_TANH32_Q = (0.4698310175156486, 0.027107293246468756, 0.00038710070204676163, 1.231983449067234e-06)
_TANH32_CLAMP = 9.02


def _tanh_rational(s, x):
    """float32 tanh as x P(x^2) / Q(x^2): sixteen vector instructions against about forty
    through expm1, a division and the sign restore (the gelu_affine benchmark: 5.0 -> 3.4 ms
    CPU). Written as (x + x^3 P'(x^2)) / (1 + x^2 Q'(x^2)) so that the roundings of the
    higher terms weigh less. x keeps its sign (tanh is odd: -0.0 and the sign come out of x);
    the clamp passes a NaN and maps +-inf to +-1. The fit is 0.1 ulp from tanh, the float32
    roundings add the rest of the 5.1 ulp, and can carry the ratio past 1: it is clamped to
    [-1, 1] as tanh is."""
    b = s.b
    x = _clamp(s, x, _TANH32_CLAMP)
    square = b.fmul(x, x)

    def horner(coefficients):  # the polynomial without its constant term 1, divided by x^2
        value = _c(x, coefficients[-1])
        for coefficient in coefficients[-2::-1]:
            value = _muladd(s, value, square, _c(x, coefficient))
        return value
    numerator = _muladd(s, b.fmul(x, square), horner(_TANH32_P), x)
    denominator = _muladd(s, square, horner(_TANH32_Q), _c(x, 1.0))
    return _clamp(s, b.fdiv(numerator, denominator), 1.0)


def _clamp(s, x, limit: float):
    """x limited to [-limit, limit], a NaN kept (vminps and vmaxps)."""
    b = s.b
    x = b.select(b.fcmp_ordered(">", x, _c(x, limit)), _c(x, limit), x)
    return b.select(b.fcmp_ordered("<", x, _c(x, -limit)), _c(x, -limit), x)


def tanh(s, x):
    b = s.b
    if x.type == F32:
        return _tanh_rational(s, x)
    magnitude = s.intrinsic("fabs", x)
    # expm1(2|x|) for 2|x| <= 2 * 40: 2^n and 2^-n are normal numbers there, so the scaling of
    # expm1 is one multiply each way, without expm1's guards for huge and very negative arguments
    # (a NaN passes through the clamp and _reduce; beyond 40, t / (t + 2) rounds to 1)
    clamped = b.select(b.fcmp_ordered(">", magnitude, _c(x, 40.0)), _c(x, 40.0), magnitude)
    n, em1 = _reduce(s, b.fmul(clamped, _c(x, 2.0)), clamp_low=False)
    t = b.fmul(b.fadd(em1, b.fsub(_c(x, 1.0), _pow2(s, b.neg(n), x))), _pow2(s, n, x))
    return s.intrinsic("copysign", b.fdiv(t, b.fadd(t, _c(x, 2.0))), x)


def log(s, x):
    b = s.b
    int_type, mantissa, bias = _spec(x)[:3]
    terms = _spec(x)[8]
    # subnormal inputs: scale into the normal range first
    tiny = b.fcmp_ordered("<", x, _c(x, 2.0 ** -(bias - 1)))
    scaled = b.select(tiny, b.fmul(x, _c(x, 2.0 ** mantissa)), x)
    bits = b.bitcast(scaled, int_type)
    # m in [sqrt(1/2), sqrt(2)): shift the exponent so that the split happens at sqrt(2)
    sqrt_half_bits = ir.Constant(int_type, _float_bits(x, math.sqrt(0.5)))
    shifted = b.sub(bits, sqrt_half_bits)
    exponent = b.ashr(shifted, ir.Constant(int_type, mantissa))
    m_bits = b.add(b.and_(shifted, ir.Constant(int_type, (1 << mantissa) - 1)), sqrt_half_bits)
    m = b.bitcast(m_bits, x.type)
    e = b.sitofp(b.sub(exponent, b.select(tiny, ir.Constant(int_type, mantissa), ir.Constant(int_type, 0))), x.type)
    f = b.fsub(m, _c(x, 1.0))
    t = b.fdiv(f, b.fadd(m, _c(x, 1.0)))
    t2 = b.fmul(t, t)
    series = _c(x, 1.0 / (2 * terms + 1))
    for k in range(terms - 1, 0, -1):
        series = _muladd(s, t2, series, _c(x, 1.0 / (2 * k + 1)))
    log_m = b.fmul(b.fmul(t, _c(x, 2.0)), _muladd(s, t2, series, _c(x, 1.0)))
    result = _muladd(s, e, _c(x, math.log(2)), log_m)
    zero = _c(x, 0.0)
    result = b.select(b.fcmp_ordered("==", x, zero), _c(x, float("-inf")), result)
    result = b.select(b.fcmp_ordered("<", x, zero), _c(x, float("nan")), result)
    result = b.select(b.fcmp_ordered("==", x, _c(x, float("inf"))), x, result)
    return _keep_nan(s, x, result)


def _float_bits(x, value: float) -> int:
    import struct
    if x.type == F32:
        return struct.unpack("<i", struct.pack("<f", value))[0]
    return struct.unpack("<q", struct.pack("<d", value))[0]
