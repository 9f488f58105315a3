"""Corpus: lists and tuples (literals, append, +=, comprehensions, zip(*),
star-unpacking, lists as arguments), calls to helpers (defaults, keywords,
keyword-only, *args), lambdas, and small models written in plain NumPy."""
from __future__ import annotations

import math

import numpy as np

from support.corpus import Registry

CASES = Registry()
case = CASES.case


# -- helpers the corpus functions call ---------------------------------------------------------
def scale_and_shift(x, factor=2.0, shift=0.0):
    return x * factor + shift


def linear(x, w, b=None):
    y = x @ w
    if b is not None:
        y = y + b
    return y


def sum_all(*arrays):
    total = arrays[0]
    for array in arrays[1:]:
        total = total + array
    return total


def normalize(x, *, axis=-1, eps=1e-5):
    mean = x.mean(axis=axis, keepdims=True)
    var = x.var(axis=axis, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


def moments(x):
    mean = x.mean(axis=0)
    return mean, ((x - mean) ** 2).mean(axis=0)


def relu(x):
    return np.maximum(x, 0)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def gelu(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def layer_norm(x, gamma, beta, eps=1e-5):
    return normalize(x, eps=eps) * gamma + beta


def attention(q, k, v, mask=None):
    scores = q @ k.swapaxes(-1, -2) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = np.where(mask, scores, -1e9)
    return softmax(scores) @ v


def weights(g, *shapes, scale=0.5):
    """Random weights scaled so that deep stacks keep values near 1."""
    return tuple(g.normal(*shape) * scale for shape in shapes)


# -- lists and tuples --------------------------------------------------------------------------
@case(lambda g, n: (g.normal(n, 3),))
def list_literal_indexing(x):
    xs = [x, x * 2, x * 3]
    return xs[0] + xs[-1], xs[1], len(xs), xs[-2] - xs[2]


@case(lambda g, n: (g.normal(n, 3), n))
def list_comprehension_stack(x, k: int):
    parts = [x * i for i in range(k)]
    return np.stack(parts), np.stack([p + 1 for p in parts], axis=1)


@case(lambda g, n: (g.normal(n, 3), n + 2))
def list_comprehension_with_if(x, k: int):
    powers = [x ** i for i in range(k) if i % 2 == 0]
    return np.concatenate(powers), len(powers)


@case(lambda g, n: (g.normal(n, 3),))
def list_plus_and_augmented(x):
    a = [x]
    b = [x * 2, x * 3]
    c = a + b
    c += [x * 4]
    return np.stack(c), len(c)


@case(lambda g, n: (g.normal(n, 3), g.normal(n, 3)))
def zip_star_unzips_pairs(x, y):
    pairs = [(x, y), (y, x), (x + y, x - y)]
    firsts, seconds = zip(*pairs)
    return np.stack(firsts) - np.stack(seconds)


@case(lambda g, n: (g.normal(n, 3),))
def star_unpacking(x):
    first, *rest = [x, x + 1, x + 2, x + 3]
    head, *_, last = (x, x * 2, x * 3)
    return first + np.stack(rest).sum(axis=0), head - last, len(rest)


@case(lambda g, n: ([g.normal(n, 3) for _ in range(3)],))
def list_argument_combinators(xs):
    return np.stack(xs), np.concatenate(xs, axis=1), np.hstack(xs), np.vstack(xs), len(xs)


@case(lambda g, n: ([g.normal(n, 2) for _ in range(4)],))
def loop_over_list_argument(xs):
    total = xs[0] * 0
    for i in range(len(xs)):
        total = total + xs[i] * (i + 1)
    smallest = xs[0]
    for x in xs:
        smallest = np.minimum(smallest, x)
    return total, smallest


@case(lambda g, n: (g.normal(n, 4),))
def tuple_returned_and_unpacked(x):
    mean, var = moments(x)
    pair = moments(x * 2)
    return (x - mean) / np.sqrt(var + 1.0), pair[1] - pair[0]


@case(lambda g, n: (g.normal(n, 3),))
def list_of_lists_of_arrays(x):
    grid = [[x, x + 1], [x * 2, x * 3]]
    rows = [np.concatenate(row, axis=1) for row in grid]
    return np.concatenate(rows), grid[1][0]


@case(lambda g, n: (g.normal(n, 3),))
def tuple_literals_and_indexing(x):
    t = (x, 2.0, 3)
    a, b, c = t
    return a * b + c, t[0] - t[-1], len(t)


# -- calls -------------------------------------------------------------------------------------
@case(lambda g, n: (g.normal(n, 3),))
def call_with_defaults_and_keywords(x):
    return scale_and_shift(x) + scale_and_shift(x, 3.0) + scale_and_shift(x, shift=1.0) \
        + scale_and_shift(x, factor=0.5, shift=-1.0)


@case(lambda g, n: (g.normal(n, 3), g.normal(3, 4), g.normal(4)))
def call_with_optional_none(x, w, b):
    return linear(x, w), linear(x, w, b), linear(x, w, b=None)


@case(lambda g, n: (g.normal(n, 3), g.normal(n, 3)))
def call_with_star_args(x, y):
    arrays = [x, y, x * y]
    return sum_all(x), sum_all(x, y), sum_all(*arrays), sum_all(x, *arrays)


@case(lambda g, n: (g.normal(n, 5),), rtol_scale=10)
def call_with_keyword_only(x):
    return normalize(x), normalize(x, axis=0), normalize(x, eps=0.1, axis=1)


@case(lambda g, n: (g.normal(n, 6), g.normal(6), g.normal(6)), rtol_scale=10)
def calls_that_call_calls(x, gamma, beta):
    return gelu(layer_norm(x, gamma, beta)), softmax(layer_norm(x, gamma, beta, eps=0.5), axis=0)


@case(lambda g, n: (g.normal(n, 4),))
def lambda_bound_to_a_name(x):
    activation = lambda v: np.maximum(v, 0)
    scale = 2.0
    scaled = lambda v, s=3.0: v * scale + s
    return activation(x) + activation(-x), scaled(x), scaled(x, 1.0)


@case(lambda g, n: (g.normal(n, 4), g.normal(4, 4)))
def lambdas_composed(x, w):
    layer = lambda v: np.tanh(v @ w)
    twice = lambda v: layer(layer(v))
    return twice(x) - layer(x)


@case(lambda g, n: (g.normal(n, 3), g.scalar(0.0, 3.0)))
def math_in_helper(x, t: float):
    def decay(step):
        return math.exp(-0.5 * step) * math.cos(step)
    return x * decay(t) + decay(1.0)


@case(lambda g, n: (g.normal(n, 3), [0.5, -1.0, 2.0, 0.25]))
def horner_polynomial(x, coefficients):
    result = np.zeros_like(x)
    for c in coefficients:
        result = result * x + c
    return result


@case(lambda g, n: (g.normal(n, 3),))
def horner_polynomial_fixed(x):
    coefficients = (1.0, -0.5, 1.0 / 6.0, -1.0 / 24.0)
    result = x * 0
    for c in coefficients[::-1]:
        result = result * x + c
    return result


# -- small models ------------------------------------------------------------------------------
@case(lambda g, n: (g.normal(n, 8),) + weights(g, (8, 16), (16,), (16, 4), (4,)), rtol_scale=10)
def mlp(x, w1, b1, w2, b2):
    h = relu(x @ w1 + b1)
    return h @ w2 + b2


@case(lambda g, n: (g.normal(n, 6), list(weights(g, (6, 6), (6, 6), (6, 6))),
                    list(weights(g, (6,), (6,), (6,)))), rtol_scale=10)
def mlp_over_list_of_layers(x, ws, bs):
    for w, b in zip(ws, bs):
        x = np.tanh(x @ w + b)
    return x


@case(lambda g, n: (g.normal(n, 3), g.normal(4)) + weights(g, (3, 4), (4, 4), (4,)),
      fixes_sizes=True, rtol_scale=10)
def rnn(x, h, w_x, w_h, b):
    states = []
    for t in range(x.shape[0]):
        h = np.tanh(x[t] @ w_x + h @ w_h + b)
        states += [h]
    return np.stack(states), h


@case(lambda g, n: (g.normal(n, 3), g.normal(4)) + weights(g, (3, 12), (4, 12), (12,)),
      fixes_sizes=True, rtol_scale=10)
def gru(x, h, w_x, w_h, b):
    for step in x:
        zx, rx, nx = np.split(step @ w_x + b, 3)
        zh, rh, nh = np.split(h @ w_h, 3)
        z = sigmoid(zx + zh)
        r = sigmoid(rx + rh)
        candidate = np.tanh(nx + r * nh)
        h = (1 - z) * candidate + z * h
    return h


@case(lambda g, n: (g.normal(n, 2, 3), g.normal(2, 4), g.normal(2, 4)) + weights(g, (3, 16), (4, 16), (16,)),
      fixes_sizes=True, rtol_scale=10)
def lstm(x, h, c, w_x, w_h, b):
    outputs = []
    for t in range(x.shape[0]):
        gates = x[t] @ w_x + h @ w_h + b
        i, f, g, o = np.split(gates, 4, axis=-1)
        c = sigmoid(f) * c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs, axis=0), (h, c)


@case(lambda g, n: (g.normal(n, 4), g.normal(n, 4), g.normal(n, 4)), rtol_scale=10)
def scaled_dot_product_attention(q, k, v):
    return attention(q, k, v)


@case(lambda g, n: (g.normal(n, 4), g.normal(n, 4), g.normal(n, 4)), rtol_scale=10)
def causal_attention(q, k, v):
    n = q.shape[0]
    mask = np.tril(np.ones((n, n), dtype=bool))
    return attention(q, k, v, mask)


@case(lambda g, n: (g.normal(n, 8),) + weights(g, (8, 24), (8, 8)) + (2,), rtol_scale=10)
def multi_head_self_attention(x, w_qkv, w_out, n_head: int):
    q, k, v = np.split(x @ w_qkv, 3, axis=-1)
    n = x.shape[0]
    mask = np.tril(np.ones((n, n), dtype=bool))
    heads = [attention(qh, kh, vh, mask)
             for qh, kh, vh in zip(np.split(q, n_head, axis=-1), np.split(k, n_head, axis=-1),
                                   np.split(v, n_head, axis=-1))]
    return np.concatenate(heads, axis=-1) @ w_out


@case(lambda g, n: (g.normal(n, 8), g.positive(8), g.normal(8) * 0.1) + weights(g, (8, 32), (32, 8)),
      rtol_scale=100)
def transformer_mlp_block(x, gamma, beta, w_in, w_out):
    return x + gelu(layer_norm(x, gamma, beta) @ w_in) @ w_out


@case(lambda g, n: (g.normal(n, 8),) + (list(weights(g, (8, 8), (8, 8), (8, 8))),), rtol_scale=100)
def residual_stack_over_list(x, layers):
    for w in layers:
        x = x + np.tanh(layer_norm(x, 1.0, 0.0) @ w)
    return x


def im2col(image, k):
    channels, height, width = image.shape
    out_h = height - k + 1
    out_w = width - k + 1
    columns = []
    for i in range(k):
        for j in range(k):
            columns.append(image[:, i:i + out_h, j:j + out_w].reshape(channels, out_h * out_w))
    return np.concatenate(columns, axis=0), out_h, out_w


@case(lambda g, n: (g.normal(2, n + 3, n + 4),) + weights(g, (3, 2 * 9), (3,)), rtol_scale=10)
def conv2d_im2col(image, kernel, bias):
    columns, out_h, out_w = im2col(image, 3)
    return (kernel @ columns + bias[:, None]).reshape(kernel.shape[0], out_h, out_w)


@case(lambda g, n: (g.normal(3, 2 * n, 4),))
def max_pool_2x2(x):
    channels, height, width = x.shape
    return x.reshape(channels, height // 2, 2, width // 2, 2).max(axis=(2, 4))


@case(lambda g, n: (g.normal(1, 6, 6),) + weights(g, (2, 9), (2,), (2 * 2 * 2, 3), (3,)), sizes=(1,),
      rtol_scale=10)
def cnn_forward(image, kernel, bias, w_fc, b_fc):
    columns, out_h, out_w = im2col(image, 3)
    feature = relu(kernel @ columns + bias[:, None]).reshape(kernel.shape[0], out_h, out_w)
    pooled = feature.reshape(feature.shape[0], out_h // 2, 2, out_w // 2, 2).max(axis=(2, 4))
    return pooled.reshape(-1) @ w_fc + b_fc


@case(lambda g, n: (g.normal(n + 4, 3),) + weights(g, (3, 3, 4), (4,)), rtol_scale=10)
def conv1d_over_taps(x, kernel, bias):
    taps = kernel.shape[0]
    length = x.shape[0] - taps + 1
    out = np.zeros((length, kernel.shape[2]), dtype=x.dtype) + bias
    for k in range(taps):
        out += x[k:k + length] @ kernel[k]
    return out


@case(lambda g, n: (g.normal(3 * n + 3, 2), g.normal(3, 2)), rtol_scale=10)
def kmeans_step(points, centroids):
    distances = ((points[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=-1)
    labels = np.argmin(distances, axis=1)
    one_hot = (labels[:, None] == np.arange(centroids.shape[0])).astype(points.dtype)
    counts = one_hot.sum(axis=0)
    means = (one_hot.T @ points) / np.maximum(counts, 1)[:, None]
    return np.where(counts[:, None] > 0, means, centroids), labels


@case(lambda g, n: (g.normal(n + 2, 3), (g.normal(n + 2) > 0).astype(g.dtype), g.normal(3), 0.1, 0.5),
      rtol_scale=10)
def logistic_regression_step(features, targets, w, b: float, lr: float):
    p = sigmoid(features @ w + b)
    error = p - targets
    grad_w = features.T @ error / features.shape[0]
    grad_b = error.mean()
    loss = -np.mean(targets * np.log(p + 1e-7) + (1 - targets) * np.log(1 - p + 1e-7))
    return w - lr * grad_w, b - lr * grad_b, loss


@case(lambda g, n: (g.normal(n + 1, n + 1), g.normal(n + 1), 8), rtol_scale=1000)
def power_iteration(a, v, iterations: int):
    m = a @ a.T
    for _ in range(iterations):
        v = m @ v
        v = v / np.sqrt(np.sum(v * v))
    return v, v @ m @ v


@case(lambda g, n: (g.normal(n, 4),), fixes_sizes=True, rtol_scale=10)
def running_statistics(x):
    count = 0
    mean = np.zeros(x.shape[1], dtype=x.dtype)
    m2 = np.zeros(x.shape[1], dtype=x.dtype)
    for row in x:
        count += 1
        delta = row - mean
        mean += delta / count
        m2 += delta * (row - mean)
    return mean, m2 / count


@case(lambda g, n: (g.normal(n, 3), 0.3), fixes_sizes=True, rtol_scale=10)
def exponential_moving_average(x, alpha: float):
    average = x[0]
    smoothed = [average]
    for t in range(1, x.shape[0]):
        average = alpha * x[t] + (1 - alpha) * average
        smoothed.append(average)
    return np.stack(smoothed)


@case(lambda g, n: (g.normal(n + 1, n + 1), g.normal(n + 1), 20, 0.05), rtol_scale=100)
def gradient_descent_quadratic(a, b, steps: int, lr: float):
    spd = a @ a.T / a.shape[0] + np.eye(a.shape[0], dtype=a.dtype)
    x = np.zeros_like(b)
    for _ in range(steps):
        grad = spd @ x - b
        x = x - lr * grad
    return x, 0.5 * x @ spd @ x - b @ x


@case(lambda g, n: (g.normal(n, 5), g.ints(0, 5, n)), rtol_scale=10)
def softmax_cross_entropy_gradient(logits, labels):
    p = softmax(logits)
    grad = p.copy()
    grad[np.arange(logits.shape[0]), labels] -= 1
    return grad / logits.shape[0]


@case(lambda g, n: (g.normal(2, n, 4), g.normal(2, n, 4), g.normal(2, n, 4)), rtol_scale=10)
def batched_attention(q, k, v):
    scores = np.matmul(q, np.swapaxes(k, -1, -2)) / np.sqrt(q.shape[-1])
    return np.matmul(softmax(scores), v)


@case(lambda g, n: (g.normal(10, 4), g.ints(0, 10, n + 1)) + weights(g, (4, 3), (3,)), rtol_scale=10)
def bag_of_embeddings_classifier(table, ids, w, b):
    pooled = table[ids].mean(axis=0)
    return softmax(pooled @ w + b)


@case(lambda g, n: (g.ints(0, 12, n + 1), g.normal(12, 8), g.normal(8, 8), g.positive(8), g.normal(8) * 0.1,
                    list(weights(g, (8, 24), (8, 8), (8, 24), (8, 8))), 2), rtol_scale=100)
def gpt_like_forward(ids, wte, wpe, gamma, beta, block_weights, n_head: int):
    n = ids.shape[0]
    x = wte[ids] + wpe[:n]
    mask = np.tril(np.ones((n, n), dtype=bool))
    for layer in range(len(block_weights) // 2):
        w_qkv = block_weights[2 * layer]
        w_out = block_weights[2 * layer + 1]
        q, k, v = np.split(layer_norm(x, gamma, beta) @ w_qkv, 3, axis=-1)
        heads = [attention(qh, kh, vh, mask) for qh, kh, vh in
                 zip(np.split(q, n_head, axis=-1), np.split(k, n_head, axis=-1), np.split(v, n_head, axis=-1))]
        x = x + np.concatenate(heads, axis=-1) @ w_out
    return layer_norm(x, gamma, beta) @ wte.T
