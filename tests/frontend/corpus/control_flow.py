"""Corpus: if/elif/else, for over ranges, rows, lists, zip and enumerate,
while, break, continue, early return, assert and pass, on scalar
parameters (specialised or not) and on array data."""
from __future__ import annotations

import numpy as np

from support.corpus import Registry

CASES = Registry()
case = CASES.case


@case(lambda g, n: (g.normal(n, 4), n))
def if_elif_else_on_int(x, k: int):
    if k > 4:
        y = x * 2
    elif k == 3:
        y = x + 1
    elif k < 2:
        y = -x
    else:
        y = x ** 2
    return y * k


@case(lambda g, n: (g.normal(n, 4),), data_dependent=True)
def branch_on_data(x):
    if x.sum() > 0:
        x = x - x.min()
    else:
        x = x + x.max()
    return x


@case(lambda g, n: (g.normal(n, 4), g.scalar()))
def nested_if_on_float(x, a: float):
    if a > 0:
        if a > 0.5:
            return x * a
        return x + a
    else:
        if a < -0.5:
            y = -x
        else:
            y = x - a
    return y


@case(lambda g, n: (g.normal(n, 4),), fixes_sizes=True)
def accumulate_over_range(x):
    total = np.zeros(x.shape[1], dtype=x.dtype)
    for i in range(x.shape[0]):
        total = total + x[i] * i
    return total


@case(lambda g, n: (g.normal(n + 2),), fixes_sizes=True)
def ranges_with_steps(x):
    n = x.shape[0]
    even = x[0] * 0
    for i in range(0, n, 2):
        even += x[i]
    backwards = np.zeros_like(x)
    for i in range(n - 1, -1, -1):
        backwards[n - 1 - i] = x[i]
    odd = x[0] * 0
    for i in range(1, n, 3):
        odd = odd + x[i]
    return even, backwards, odd


@case(lambda g, n: (g.normal(n, 4),), fixes_sizes=True)
def iterate_over_rows(x):
    total = np.zeros(x.shape[1], dtype=x.dtype)
    largest = x[0]
    for row in x:
        total += row ** 2
        largest = np.maximum(largest, row)
    return total, largest


@case(lambda g, n: (g.normal(n, 4), g.normal(n, 4)))
def iterate_over_list_literal(x, y):
    out = np.zeros_like(x)
    for term in [x, y, x * y]:
        out = out + term
    for scale in (0.5, 2.0):
        out = out * scale
    return out


@case(lambda g, n: (g.normal(n, 3), g.normal(n, 3), g.normal(n, 3)))
def zip_over_lists(a, b, c):
    weights = [0.2, 0.3, 0.5]
    total = np.zeros_like(a)
    for w, array in zip(weights, [a, b, c]):
        total += w * array
    return total


@case(lambda g, n: (g.normal(n, 3), g.normal(n, 3)))
def enumerate_over_list(a, b):
    out = a * 0
    for i, array in enumerate([a, b, a - b]):
        out = out + array * (i + 1)
    for i, w in enumerate([1.0, -1.0], 1):
        out = out - i * w
    return out


@case(lambda g, n: (g.normal(n, 4), n))
def while_counter(x, k: int):
    i = 0
    while i < k:
        x = x * 0.5 + 1
        i += 1
    return x, i


@case(lambda g, n: (g.positive(n, 3),), data_dependent=True, rtol_scale=10)
def newton_square_root(a):
    y = a
    steps = 0
    while np.max(np.abs(y * y - a)) > 1e-4 and steps < 30:
        y = 0.5 * (y + a / y)
        steps += 1
    return y


@case(lambda g, n: (g.normal(n, 4), n))
def break_on_counter(x, k: int):
    for i in range(10):
        if i >= k:
            break
        x = x + i
    return x


@case(lambda g, n: (g.normal(n, 4) * 5,), data_dependent=True)
def break_on_data(x):
    for i in range(30):
        x = x * 0.5
        if np.abs(x).max() < 0.1:
            break
    return x


@case(lambda g, n: (g.normal(n, 4), n + 3))
def continue_skips_even(x, k: int):
    acc = np.zeros_like(x)
    for i in range(k):
        if i % 2 == 0:
            continue
        acc += x * i
    return acc


@case(lambda g, n: (g.normal(n, 4), n))
def early_return_in_loop(x, k: int):
    for i in range(5):
        if i == k:
            return x * i
    return -x


@case(lambda g, n: (g.normal(n, 4), n % 2 == 0))
def early_return_in_branch(x, flag: bool):
    if flag:
        return x
    y = x * 2
    return y + 1


@case(lambda g, n: (g.normal(n),), data_dependent=True, fixes_sizes=True)
def first_negative_index(x):
    for i in range(x.shape[0]):
        if x[i] < 0:
            return i
    return -1


@case(lambda g, n: (g.normal(n, 3), g.normal(3, 2)))
def assert_on_shapes(x, w):
    assert x.shape[1] == w.shape[0], "inner dimensions differ"
    assert x.ndim == 2
    return x @ w


@case(lambda g, n: (g.positive(n, 3),), data_dependent=True)
def assert_on_data(x):
    assert np.all(x > 0), "log of a non-positive value"
    return np.log(x)


@case(lambda g, n: (g.normal(n, 3), n % 2 == 1))
def pass_in_branch(x, flag: bool):
    if flag:
        pass
    else:
        x = -x
    for _ in range(2):
        pass
    return x


@case(lambda g, n: (g.normal(n, 3),))
def tuple_swap_in_loop(x):
    a, b = x, x * 0
    for _ in range(3):
        a, b = b + 1, a * 0.5
    return a, b


@case(lambda g, n: (g.normal(n, 2), n + 2))
def fibonacci_scale(x, k: int):
    a, b = 0, 1
    for _ in range(k):
        a, b = b, a + b
    return x * a, a


@case(lambda g, n: (g.normal(n, 3),), fixes_sizes=True)
def nested_loops_fill(x):
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        for j in range(x.shape[1]):
            out[i, j] = x[i, j] * (i - j)
    return out


@case(lambda g, n: (g.normal(n, 4), n + 2))
def if_chain_inside_loop(x, k: int):
    out = x
    for i in range(k):
        if i % 3 == 0:
            out = out + 1
        elif i % 3 == 1:
            out = out * 0.5
        else:
            out = np.tanh(out)
    return out


@case(lambda g, n: (g.normal(n, 3), n))
def conditional_expression_in_loop(x, k: int):
    total = x * 0
    for i in range(k + 2):
        total = total + (x if i % 2 == 0 else -x) * (0.5 if i > 1 else 1.0)
    return total


@case(lambda g, n: (g.normal(n, 3), n + 1))
def while_true_with_break(x, k: int):
    i = 0
    while True:
        i += 1
        x = x + 1
        if i >= k:
            break
    return x


@case(lambda g, n: (g.normal(n + 2),), data_dependent=True, fixes_sizes=True)
def count_positives(x):
    count = 0
    for value in x:
        if value > 0:
            count += 1
    return count


@case(lambda g, n: (g.normal(n, 4), n))
def append_in_loop_then_stack(x, k: int):
    outs = []
    for i in range(k + 1):
        outs.append(x * i)
    return np.stack(outs), len(outs)


@case(lambda g, n: (g.normal(n, 4),), data_dependent=True, fixes_sizes=True)
def branch_per_row(x):
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        if x[i].sum() > 0:
            out[i] = x[i]
        else:
            out[i] = -x[i]
    return out


@case(lambda g, n: (g.normal(n, 4),), data_dependent=True)
def branch_on_any(x):
    if np.any(x > 2.0):
        return x / np.abs(x).max()
    return x


@case(lambda g, n: (g.normal(n, 3, 2),))
def loop_over_shape_tuple(x):
    total = 1
    for d in x.shape:
        total *= d
    return x.reshape(total), total


@case(lambda g, n: (g.normal(n, 2), n + 5))
def collatz_steps(x, k: int):
    m = k
    steps = 0
    while m != 1:
        m = m // 2 if m % 2 == 0 else 3 * m + 1
        steps += 1
    return x * steps


@case(lambda g, n: (g.normal(2 * n, 3),), fixes_sizes=True)
def loop_bound_from_shape_arithmetic(x):
    half = x.shape[0] // 2
    out = np.zeros((half, 3), dtype=x.dtype)
    for i in range(half):
        out[i] = x[2 * i] - x[2 * i + 1]
    return out


@case(lambda g, n: (g.normal(n, 4), g.scalar(0.0, 1.0)))
def variable_changes_shape_per_branch(x, t: float):
    if t > 0.5:
        y = x.sum(axis=0)
    else:
        y = x.mean(axis=0)
    return y


@case(lambda g, n: (g.normal(n, 4), n))
def loop_with_break_and_continue(x, k: int):
    total = x * 0
    for i in range(20):
        if i % 2 == 1:
            continue
        if i > 2 * k:
            break
        total = total + x * i
    return total


@case(lambda g, n: (g.normal(n, 4),), data_dependent=True)
def while_on_data_norm(x):
    steps = 0
    while np.sqrt(np.sum(x * x)) > 1.0:
        x = x * 0.5
        steps += 1
    return x, steps


@case(lambda g, n: (g.normal(n, 4),), data_dependent=True)
def raise_on_bad_data(x):
    if not np.all(np.isfinite(x)):
        raise ValueError("raise_on_bad_data needs finite values")
    if x.ndim != 2:
        raise TypeError(f"expected a matrix, got {x.ndim} dimension(s)")
    return x - x.mean(axis=0)

