"""Corpus: indexing and assignment with NumPy's semantics: ints, slices
with steps and negative bounds, `None`, `...`, integer-array gathers,
boolean masks, slice assignment, `x[i] = v` in loops, and views."""
from __future__ import annotations

import numpy as np

from support.corpus import Registry

CASES = Registry()
case = CASES.case


@case(lambda g, n: (g.normal(n, 6),))
def basic_slices(x):
    return x[0], x[-1], x[:, 1:4], x[:, ::2], x[::-1], x[1:, -3:-1], x[0, 0], x[-1, -2]


@case(lambda g, n: (g.normal(n, 6),))
def negative_steps(x):
    return x[:, ::-2], x[::-1, 1:5:2], x[:, -1:0:-1], x[:, 4::-3]


@case(lambda g, n: (g.normal(n, 3, 4),))
def none_and_ellipsis(x):
    return x[..., 0], x[None], x[:, None, :, 1], x[..., None], x[0, ..., 1:], x[:, :, None, :].shape


@case(lambda g, n: (g.normal(n, 3, 4),))
def mixed_int_and_slice_index(x):
    return x[0, :, 1:3], x[:, 1, ::-1], x[..., -1][:, None], x[-1, -1, -1]


@case(lambda g, n: (g.normal(n, 4),))
def index_of_results(x):
    return (x @ x.T)[0, :], x.T[1:][::2], (x + 1)[:, 0], np.exp(x)[-1]


@case(lambda g, n: (g.normal(n, 4),), fixes_sizes=True)
def set_rows_in_loop(x):
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        out[i] = x[i] * (i + 1)
    return out


@case(lambda g, n: (g.normal(n, 6),))
def pad_with_slice_assignment(x):
    out = np.zeros((x.shape[0] + 2, 8), dtype=x.dtype)
    out[1:-1, 2:] = x
    return out


@case(lambda g, n: (g.normal(n, 6),))
def slice_assignment_from_expression(x):
    out = x.copy()
    out[1:-1, 2:] = out[1:-1, 2:] * 2 + 1
    out[:, :2] = 0
    return out


@case(lambda g, n: (g.normal(n, n),), sizes=(3, 5, 8))
def laplacian_stencil(u):
    out = np.zeros_like(u)
    out[1:-1, 1:-1] = (u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:]
                       - 4 * u[1:-1, 1:-1])
    return out


@case(lambda g, n: (g.normal(10, 4), g.ints(0, 10, n)))
def embedding_gather(table, ids):
    return table[ids], table[ids].sum(axis=0)


@case(lambda g, n: (g.normal(6, 4), g.ints(0, 6, n, 2)))
def embedding_gather_2d_ids(table, ids):
    return table[ids].mean(axis=1)


@case(lambda g, n: (g.normal(n, 5), g.ints(0, 5, n)))
def gather_one_per_row(x, idx):
    return x[np.arange(x.shape[0]), idx]


@case(lambda g, n: (g.normal(n, 5), g.ints(0, 5, n)), rtol_scale=10)
def cross_entropy(logits, labels):
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_probs[np.arange(labels.shape[0]), labels].mean()


@case(lambda g, n: (g.normal(n, 4),))
def list_index(x):
    return x[[0, -1]], x[:, [3, 0, 1]]


@case(lambda g, n: (g.normal(n, 4),))
def boolean_mask_select(x):
    return x[x > 0], x[x > 0].sum()


@case(lambda g, n: (g.normal(n, 4),))
def boolean_mask_assign_scalar(x):
    y = x.copy()
    y[y < 0] = 0
    return y


@case(lambda g, n: (g.normal(n, 4), g.normal(n, 4)))
def boolean_mask_assign_array(x, y):
    out = x.copy()
    m = x > y
    out[m] = y[m]
    return out


@case(lambda g, n: (g.normal(n, 4), g.bools(n, 4)))
def masked_mean(x, m):
    total = np.sum(np.where(m, x, 0), axis=1)
    count = np.maximum(m.sum(axis=1), 1)
    return total / count


@case(lambda g, n: (g.normal(n, 4),))
def select_rows_by_mask(x):
    return x[x.sum(axis=1) > 0], x[:, x[0] > 0]


@case(lambda g, n: (g.normal(n, 4),))
def scalar_element_assignment(x):
    y = x.copy()
    y[0, 0] = 5.0
    y[-1] = 0
    y[:, 1] = y[:, 2]
    y[0] += 1
    return y


@case(lambda g, n: (g.ints(0, 5, n), g.normal(n, 4)), fixes_sizes=True)
def scatter_add_in_loop(ids, values):
    out = np.zeros((5, 4), dtype=values.dtype)
    for i in range(len(ids)):
        out[ids[i]] += values[i]
    return out


@case(lambda g, n: (g.ints(0, 5, n), 5))
def one_hot(labels, classes: int):
    return (labels[:, None] == np.arange(classes)).astype(np.float32), np.eye(classes)[labels]


@case(lambda g, n: (g.normal(n),))
def scatter_to_even_positions(x):
    out = np.zeros(2 * x.shape[0], dtype=x.dtype)
    out[np.arange(x.shape[0]) * 2] = x
    return out


@case(lambda g, n: (g.normal(n, 3),), fixes_sizes=True)
def reverse_rows_in_loop(x):
    out = np.empty_like(x)
    n = x.shape[0]
    for i in range(n):
        out[n - 1 - i] = x[i]
    return out


@case(lambda g, n: (g.normal(n, n),))
def diagonal_by_gather(x):
    i = np.arange(x.shape[0])
    diagonal = x[i, i]
    return diagonal, diagonal.sum()


@case(lambda g, n: (g.normal(n + 4), 3), fixes_sizes=True)
def moving_average(x, width: int):
    out = np.zeros(x.shape[0] - width + 1, dtype=x.dtype)
    for i in range(out.shape[0]):
        out[i] = x[i:i + width].mean()
    return out


@case(lambda g, n: (g.normal(n, 4),))
def swap_columns(x):
    y = x.copy()
    y[:, [0, 1]] = y[:, [1, 0]]
    return y


@case(lambda g, n: (g.normal(n + 3, 4), 2))
def index_with_int_parameter(x, k: int):
    return x[k], x[:, k:], x[-k:], x[k, k], x[::k]


@case(lambda g, n: (g.normal(n, 5),))
def top_two_per_row(x):
    rows = np.arange(x.shape[0])
    first = np.argmax(x, axis=1)
    rest = x.copy()
    rest[rows, first] = -np.inf
    second = np.argmax(rest, axis=1)
    return first, second, x[rows, first] - x[rows, second]


@case(lambda g, n: (g.normal(n, 4),))
def view_write_changes_base(x):
    y = x.copy()
    tail = y[1:]
    tail *= 2
    row = y[0]
    row[:] = 7
    return y


@case(lambda g, n: (g.normal(n, 4),))
def write_through_transpose_view(x):
    y = np.zeros((4, x.shape[0]), dtype=x.dtype)
    y.T[:] = x
    return y


@case(lambda g, n: (g.normal(n, 4),))
def reversed_view_then_assign(x):
    y = x.copy()
    y[::-1] = y
    return y


@case(lambda g, n: (g.normal(n, 4), g.ints(0, 4, 3)))
def gather_columns_and_reduce(x, cols):
    picked = x[:, cols]
    return picked.max(axis=1), x[:, cols[0]]


@case(lambda g, n: (g.normal(n, 6),))
def clamp_outliers_with_masks(x):
    y = x.copy()
    mean = y.mean()
    spread = y.std()
    y[y > mean + spread] = mean + spread
    y[y < mean - spread] = mean - spread
    return y
