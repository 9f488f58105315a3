"""Corpus: reductions with axis and keepdims, normalisations and losses
built from them, shape ops, array creation, cumsum and matmul/dot/outer."""
from __future__ import annotations

import numpy as np

from support.corpus import Registry

CASES = Registry()
case = CASES.case


@case(lambda g, n: (g.normal(n, 4),))
def reduce_everything(x):
    return x.sum(), x.mean(), x.max(), x.min(), np.prod(x * 0.1 + 1.0), np.sum(x)


@case(lambda g, n: (g.normal(n, 4),))
def reduce_along_axes(x):
    return (np.sum(x, axis=0), np.mean(x, axis=1), np.max(x, 0), np.min(x, axis=-1),
            x.prod(axis=0), np.amax(x, axis=1))


@case(lambda g, n: (g.normal(n, 3, 4),))
def reduce_with_keepdims(x):
    return (x.sum(axis=-1, keepdims=True), x.mean(axis=1, keepdims=True), x.max(axis=0, keepdims=True),
            np.min(x, axis=2, keepdims=True), x.sum(axis=(0, 2)), np.mean(x, axis=(1, 2), keepdims=True))


@case(lambda g, n: (g.normal(n, 5),))
def argmax_and_argmin(x):
    return np.argmax(x, axis=1), x.argmin(axis=0), np.argmax(x), x.argmin(), np.argmax(-x, axis=-1)


@case(lambda g, n: (g.normal(n, 5),), rtol_scale=10)
def variance_and_std(x):
    return x.var(axis=0), np.std(x, axis=1, keepdims=True), x.var(), np.var(x, axis=-1), x.std()


@case(lambda g, n: (g.normal(n, 5),))
def any_and_all(x):
    return ((x > 0).any(axis=1), np.all(x > -3.0, axis=0), (x > 10.0).any(), np.any(x < 0),
            np.all(x > -1.0, axis=1, keepdims=True))


@case(lambda g, n: (g.normal(n, 6),))
def softmax(x):
    shifted = x - x.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)


@case(lambda g, n: (g.normal(n, 6),))
def log_softmax(x):
    shifted = x - np.max(x, axis=-1, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))


@case(lambda g, n: (g.normal(n, 6) * 5,))
def logsumexp(x):
    top = np.max(x, axis=-1)
    return top + np.log(np.exp(x - top[:, None]).sum(axis=-1))


@case(lambda g, n: (g.normal(n, 8), g.normal(8), g.normal(8), 1e-5), rtol_scale=10)
def layer_norm(x, gamma, beta, eps: float):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


@case(lambda g, n: (g.normal(n, 4) * 2 + 1, g.positive(4), g.normal(4)), sizes=(2, 3, 7), rtol_scale=10)
def batch_norm_training(x, gamma, beta):
    mean = np.mean(x, axis=0)
    var = np.var(x, axis=0)
    normalized = (x - mean) / np.sqrt(var + 1e-5)
    return gamma * normalized + beta, mean, var


@case(lambda g, n: (g.normal(n, 8), g.normal(8)), rtol_scale=10)
def rms_norm(x, weight):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + 1e-6) * weight


@case(lambda g, n: (g.normal(n, 3), g.normal(n, 3)))
def mean_squared_and_absolute_error(prediction, target):
    diff = prediction - target
    return np.mean(diff ** 2), np.mean(np.abs(diff)), np.sum(diff ** 2, axis=1) / diff.shape[1]


@case(lambda g, n: (g.normal(n, 5), g.normal(n, 5)), rtol_scale=10)
def cosine_similarity(a, b):
    dot = np.sum(a * b, axis=-1)
    norms = np.sqrt(np.sum(a * a, axis=-1)) * np.sqrt(np.sum(b * b, axis=-1))
    return dot / np.maximum(norms, 1e-8)


@case(lambda g, n: (g.normal(n, 4),))
def cumulative_sums(x):
    return np.cumsum(x, axis=0), x.cumsum(axis=1), np.cumsum(x), np.cumsum(x > 0, axis=1)


@case(lambda g, n: (g.normal(n),), rtol_scale=10)
def running_mean_via_cumsum(x):
    return np.cumsum(x) / np.arange(1, x.shape[0] + 1)


@case(lambda g, n: (g.normal(n, 6),))
def reshapes(x):
    n = x.shape[0]
    return x.reshape(n, 2, 3), x.reshape(-1), x.reshape((3, -1)), np.reshape(x, (2, -1, 3)), x.reshape(n * 6, 1)


@case(lambda g, n: (g.normal(n, 3, 4),))
def transposes(x):
    return x.transpose(), np.transpose(x, (1, 0, 2)), x.T, x.transpose(2, 0, 1), x[0].T


@case(lambda g, n: (g.normal(n, 3, 4),))
def swapaxes(x):
    return np.swapaxes(x, 0, 2), x.swapaxes(1, -1), np.swapaxes(x, 1, 1)


@case(lambda g, n: (g.normal(n, 4),))
def expand_and_squeeze(x):
    expanded = np.expand_dims(x, 1)
    return (expanded, np.squeeze(expanded, axis=1), np.expand_dims(x, axis=-1).squeeze(-1),
            np.expand_dims(x, 0).shape, np.squeeze(x.reshape(1, -1, 1), axis=(0, 2)))


@case(lambda g, n: (g.normal(4), g.normal(n, 4)))
def broadcast_to(v, x):
    return np.broadcast_to(v, x.shape) + x, np.broadcast_to(v[:, None], (4, 3)), np.broadcast_to(2.0, (2, 2))


@case(lambda g, n: (g.normal(n, 4),))
def ravel(x):
    return x.ravel(), np.ravel(x.T), np.ravel(x[:, ::2])


@case(lambda g, n: (g.normal(n, 4), g.normal(2, 4)))
def concatenate(x, y):
    return np.concatenate([x, y]), np.concatenate((x, x * 2), axis=1), np.concatenate([y, x, y], axis=0)


@case(lambda g, n: (g.normal(n, 4), g.normal(n, 4)))
def stack(a, b):
    return np.stack([a, b]), np.stack((a, b), axis=-1), np.stack([a, b, a + b], axis=1)


@case(lambda g, n: (g.normal(n, 4), g.normal(n, 2), g.normal(n)))
def hstack_and_vstack(a, b, v):
    return np.hstack([a, b]), np.vstack([a, a * 2]), np.hstack((v, v + 1)), np.vstack((v, v))


@case(lambda g, n: (g.normal(n, 6),))
def split_into_sections(x):
    a, b, c = np.split(x, 3, axis=1)
    parts = np.split(x, [1, 4], axis=1)
    return a + c, b, parts[0], parts[2], len(parts)


@case(lambda g, n: (g.normal(2 * n, 3),))
def split_rows_in_halves(x):
    top, bottom = np.split(x, 2)
    return top - bottom, np.split(x, 2, axis=0)[1]


@case(lambda g, n: (g.normal(n, 4),))
def zeros_ones_full(x):
    return (np.zeros(x.shape, dtype=x.dtype) + x, np.zeros((x.shape[0], 2)), np.ones(4), np.ones((2, 3), np.int64),
            np.full((2, 3), 7.0), np.full(x.shape, 2, dtype=np.int32), np.zeros(3, dtype=bool))


@case(lambda g, n: (g.normal(n, 4),))
def empty_then_fill(x):
    out = np.empty(x.shape, dtype=x.dtype)
    out[...] = x * 2
    return out


@case(lambda g, n: (g.normal(n, 4),))
def like_constructors(x):
    filled = np.empty_like(x)
    filled[:] = 1.0
    return (np.zeros_like(x), np.ones_like(x) * x, np.full_like(x, 3.5), filled,
            np.zeros_like(x, dtype=np.int64), np.ones_like(x > 0))


@case(lambda g, n: (g.normal(n),))
def aranges(x):
    n = x.shape[0]
    return (np.arange(n), np.arange(2, 10, 3), np.arange(0.0, 1.0, 0.25), np.arange(n, dtype=x.dtype) * x,
            np.arange(n - 1, -1, -1))


@case(lambda g, n: (g.normal(n),), sizes=(2, 3, 6), fixes_sizes=True)
def linspaces(x):
    n = x.shape[0]
    return np.linspace(0, 1, n) * x, np.linspace(-1.0, 1.0, 5), np.linspace(0, 1, 4, endpoint=False)


@case(lambda g, n: (g.normal(n, n),))
def eye_and_triangles(x):
    n = x.shape[0]
    return (x + np.eye(n), np.eye(n, 4), np.tri(n), np.triu(x), np.tril(x, -1), np.triu(x, k=1),
            np.eye(3, dtype=x.dtype), np.tri(n, 3, 1))


@case(lambda g, n: (g.normal(n, n),))
def causal_mask(scores):
    n = scores.shape[-1]
    mask = np.tril(np.ones((n, n), dtype=bool))
    return np.where(mask, scores, -1e9), np.triu(np.full((n, n), -np.inf), 1) + scores


@case(lambda g, n: (g.normal(n, 3), g.normal(3, 4), g.normal(3)), rtol_scale=10)
def matmul_shapes(a, b, v):
    return a @ b, np.matmul(a, b), a @ v, v @ b, np.stack([a, a * 2]) @ b, v @ v


@case(lambda g, n: (g.normal(n), g.normal(n), g.normal(n, 3)), rtol_scale=10)
def dot_and_outer(a, b, m):
    return np.dot(a, b), np.outer(a, b), np.dot(a, m), a.dot(m), np.dot(m.T, m), np.outer(a, m[:, 0])


@case(lambda g, n: (g.normal(n, 4),), rtol_scale=10)
def gram_matrix(x):
    return x.T @ x / x.shape[0], x @ x.T


@case(lambda g, n: (g.normal(n, 4),), sizes=(2, 3, 7), rtol_scale=100)
def covariance(x):
    centered = x - x.mean(axis=0)
    return centered.T @ centered / (x.shape[0] - 1)


@case(lambda g, n: (g.normal(n, 3), g.normal(3, 4), g.normal(n, 4)), rtol_scale=10)
def bilinear_form(x, w, y):
    return np.sum((x @ w) * y, axis=-1)


@case(lambda g, n: (g.normal(n, 4) + 3.0,), rtol_scale=10)
def standardize_columns(x):
    mean = x.mean(axis=0, keepdims=True)
    std = x.std(axis=0, keepdims=True)
    return (x - mean) / (std + 1e-6), (x - x.min(axis=0)) / (x.max(axis=0) - x.min(axis=0) + 1e-6)
