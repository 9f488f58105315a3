"""A 3-layer MLP in plain NumPy, for `jitc.trace` and `jitc.script`."""
import numpy as np


def mlp(x, w1, b1, w2, b2, w3, b3):
    h = np.maximum(x @ w1 + b1, 0.0)
    h = np.maximum(h @ w2 + b2, 0.0)
    return h @ w3 + b3


def example_inputs(batch=1, width=256, dtype=np.float32, seed=0):
    rng = np.random.default_rng(seed)
    scale = 1 / np.sqrt(width)
    weights = []
    for _ in range(3):
        weights += [(rng.standard_normal((width, width)) * scale).astype(dtype),
                    (rng.standard_normal(width) * 0.1).astype(dtype)]
    return (rng.standard_normal((batch, width)).astype(dtype), *weights)
