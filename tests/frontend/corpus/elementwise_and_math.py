"""Corpus: operators, every ufunc of the scripting surface, activations and
losses built from them, dtype promotion, `astype`, and scalar arithmetic
with the `math` module."""
from __future__ import annotations

import math

import numpy as np

from support.corpus import Registry

CASES = Registry()
case = CASES.case


@case(lambda g, n: (g.normal(n, 8),))
def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


@case(lambda g, n: (g.normal(n, 5),))
def silu(x):
    return x / (1.0 + np.exp(-x))


@case(lambda g, n: (g.normal(n, 5) * 3,))
def softplus_stable(x):
    return np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0)


@case(lambda g, n: (g.normal(n, 4), 0.7))
def elu(x, alpha: float):
    return np.where(x > 0, x, alpha * np.expm1(x))


@case(lambda g, n: (g.normal(n, 6),))
def mish(x):
    return x * np.tanh(np.log1p(np.exp(x)))


@case(lambda g, n: (g.normal(n, 6) * 4,))
def sigmoid_stable(x):
    positive = 1.0 / (1.0 + np.exp(-np.abs(x)))
    return np.where(x >= 0, positive, 1.0 - positive)


@case(lambda g, n: (g.normal(n, 4), g.positive(n, 4)))
def arithmetic_operators(x, y):
    return (x + y) * (x - y) / (y * y + 1) - x ** 2 + 3 * x - y / 2


@case(lambda g, n: (g.normal(n, 4) * 5, g.positive(n, 4)))
def floor_divide_and_mod(x, y):
    quotient = x // y
    remainder = x % y
    return quotient, remainder, quotient * y + remainder


@case(lambda g, n: (g.positive(n, 3), g.normal(n, 3)))
def powers(x, y):
    return np.power(x, y) + x ** 0.5 + x ** 3 - 2.0 ** y + np.power(x, 2)


@case(lambda g, n: (g.normal(n, 4), g.normal(n, 4)))
def comparisons(x, y):
    return x < y, x <= y, x == x, x != y, (x >= y) & (x > -1.0)


@case(lambda g, n: (g.normal(n, 4), g.normal(n, 4)))
def boolean_operators(x, y):
    a = x > 0
    b = y > 0
    return a & b, a | b, a ^ b, ~a, ~(a & ~b)


@case(lambda g, n: (g.ints(-20, 20, n, 4), g.ints(1, 9, n, 4)))
def integer_operators(i, j):
    return i & j, i | j, i ^ j, ~i, i // j, i % j, -i, i * j - 3, i // 4


@case(lambda g, n: (g.positive(n, 5),))
def exp_and_log_family(x):
    return (np.exp(x) - np.exp2(x) + np.log(x) + np.log2(x) + np.log1p(x)
            + np.expm1(x * 0.1))


@case(lambda g, n: (g.positive(n, 5),))
def roots_and_reciprocals(x):
    return np.sqrt(x) + np.square(x) - np.reciprocal(x), np.sqrt(np.square(x) + 1.0)


@case(lambda g, n: (g.normal(n, 5),))
def trigonometry(x):
    return np.sin(x) * np.cos(x) + np.tan(x * 0.5), np.sin(x) ** 2 + np.cos(x) ** 2


@case(lambda g, n: (g.uniform(-0.9, 0.9, n, 4), g.normal(n, 4)))
def inverse_trigonometry(u, x):
    return np.arcsin(u) + np.arccos(u), np.arctan(u * 3.0), np.arctan2(u, x)


@case(lambda g, n: (g.normal(n, 4),))
def hyperbolic(x):
    return np.sinh(x) / np.cosh(x) - np.tanh(x), np.cosh(x) ** 2 - np.sinh(x) ** 2


@case(lambda g, n: (g.normal(n, 6),))
def rounding_and_sign(x):
    return np.floor(x * 3.0), np.ceil(x * 3.0), np.sign(x), np.abs(x), abs(x - 0.5)


@case(lambda g, n: (g.normal(n, 4), g.normal(n, 4)))
def clip_maximum_minimum(x, y):
    return np.clip(x, -0.5, 0.5), np.maximum(x, y), np.minimum(x, y), np.maximum(x, 0.0)


@case(lambda g, n: (g.normal(n, 4), g.normal(4) - 1.0, g.positive(4)))
def clip_to_array_bounds(x, low, width):
    return np.clip(x, low, low + width)


@case(lambda g, n: (g.normal(n, 4), g.normal(n, 4)))
def where_select(x, y):
    return np.where(x > y, x - y, 0.0), np.where(x > 0, x, y)


@case(lambda g, n: (g.normal(n, 6),))
def nan_and_inf_handling(x):
    logs = np.log(x)
    inverse = 1.0 / np.where(x > 1.0, 0.0, x)
    return np.where(np.isnan(logs), 0.0, logs), np.isfinite(inverse), np.isnan(logs) | np.isfinite(logs)


@case(lambda g, n: (g.normal(n, 4), g.normal(n, 4)))
def logical_functions(x, y):
    return (np.logical_and(x > 0, y > 0), np.logical_or(x > 1, y < -1),
            np.logical_not(x > y))


@case(lambda g, n: (g.normal(n, 3), g.scalar(-2.0, 2.0)))
def math_module_on_scalars(x, t: float):
    a = math.exp(t) + math.log(abs(t) + 1.0) + math.sin(t) * math.cos(t)
    b = math.sqrt(t * t + 1.0) + math.tanh(t) + math.atan2(t, 2.0)
    return x * a - b + math.floor(t * 4.0) + math.ceil(t) + math.pi


@case(lambda g, n: (g.normal(n, 3), n))
def integer_scalar_arithmetic(x, k: int):
    m = k * 3 + 1
    half = m // 2
    rest = m % 3
    power = 2 ** k
    return x * half + rest - power / 8 + abs(-k) - min(k, 2) + max(k, 4)


@case(lambda g, n: (g.normal(n, 3), g.scalar(), g.scalar()))
def float_scalar_arithmetic(x, a: float, b: float):
    c = a * b - a / (abs(b) + 1.0) + a ** 2
    c -= b
    c *= 0.5
    return x * c + float(n_items(x))


def n_items(x):
    return x.size


@case(lambda g, n: (g.normal(n, 3), g.scalar()))
def chained_comparison(x, t: float):
    if -0.5 < t <= 0.5:
        return x * t
    if 0.5 < t < 2.0 > -t:
        return x + t
    return x - t


@case(lambda g, n: (g.normal(n, 4), n))
def conditional_expressions(x, k: int):
    scale = 2.0 if k > 2 else 0.5
    sign = -1 if k % 2 else 1
    shifted = x + 1 if k >= 3 else x - 1
    return shifted * scale * sign


@case(lambda g, n: (g.normal(n, 4), g.scalar(), g.scalar()))
def and_or_not_on_scalars(x, a: float, b: float):
    if a > 0 and b > 0 or not a < -0.5:
        x = x * 2
    if not (a > 0.5 or b > 0.5):
        x = x - 1
    return x


@case(lambda g, n: (g.normal(n, 4),))
def astype_conversions(x):
    tenths = (x * 10).astype(np.int64)
    back = tenths.astype(x.dtype) / 10
    return tenths, back, (x > 0).astype(np.float32), x.astype(np.float64) + 1, x.astype(np.int32)


@case(lambda g, n: (g.normal(n, 4),))
def numpy_scalar_constructors(x):
    return x * np.float32(0.5) + np.float64(1.0) / 3, x * np.int64(3), x + np.float32(2.5)


@case(lambda g, n: (g.normal(n, 4), g.ints(-5, 5, n, 4)))
def mixed_dtype_promotion(x, i):
    return x + i, i * 2, i / 2, i // 2, x * 2, x + 1.5, i + 1.5


@case(lambda g, n: (g.normal(n, 4),))
def bool_arithmetic(x):
    mask = x > 0
    return mask * x, mask + mask, mask * 1.5, mask.astype(x.dtype) - 0.5


@case(lambda g, n: (g.normal(n, 4), g.normal(n, 4)))
def polar_coordinates(x, y):
    radius = np.sqrt(x * x + y * y)
    angle = np.arctan2(y, x)
    return radius, angle, radius * np.cos(angle) - x


@case(lambda g, n: (g.normal(n, 4), g.normal(n, 4), 0.8))
def huber_loss(prediction, target, delta: float):
    error = np.abs(prediction - target)
    quadratic = 0.5 * error ** 2
    linear = delta * (error - 0.5 * delta)
    return np.where(error < delta, quadratic, linear).mean()


@case(lambda g, n: (g.normal(n, 4),))
def unary_operators(x):
    return -x, +x, -(x - 1) ** 2, abs(x), -abs(-x)


@case(lambda g, n: (g.normal(n, 4),))
def augmented_assignment_on_arrays(x):
    y = x + 0
    y += 1
    y *= 2
    y -= x
    y /= 3
    y **= 2
    z = x * 1
    z //= 0.25
    return y, z


@case(lambda g, n: (g.normal(n, 4),))
def dtype_and_shape_properties(x):
    rows, cols = x.shape
    flat = x.reshape(rows * cols)
    return flat * x.ndim + x.size, x.size, x.ndim, len(x.shape), np.zeros(x.shape, dtype=x.dtype)
