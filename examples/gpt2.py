"""A GPT-2 forward pass in plain NumPy, scripted unchanged by jitc.

The model is written as NumPy code usually is (in the style of picoGPT):
small functions for GELU, softmax, layer norm and attention, heads split
with `np.split` and run in a list comprehension, and the transformer blocks
held as a list of weight tuples that `forward` loops over. `jitc.script`
compiles `forward` and every function it calls into one graph, with the
weights as constants.

Run:  python examples/gpt2.py   (checks the compiled model against NumPy,
times both, and saves and loads the compiled model)
"""
import math
import os
import statistics
import sys
import tempfile
import time

import numpy as np

import jitc
from example_checks import assert_matches

# float32 results agree with NumPy's to this relative (and absolute) tolerance: the compiled
# code sums in a different order, and softmax and layer norm amplify the differences a little.
TOLERANCE = 1e-4


def gelu(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def softmax(x):
    e = np.exp(x - np.max(x, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def layer_norm(x, g, b, eps=1e-5):
    mean = np.mean(x, axis=-1, keepdims=True)
    variance = np.var(x, axis=-1, keepdims=True)
    return g * (x - mean) / np.sqrt(variance + eps) + b


def attention(q, k, v, mask):
    return softmax(q @ k.T / math.sqrt(q.shape[-1]) + mask) @ v


def multi_head_attention(x, w_attn, b_attn, w_proj, b_proj, mask, n_head):
    q, k, v = np.split(x @ w_attn + b_attn, 3, axis=-1)
    heads = [attention(q_head, k_head, v_head, mask)
             for q_head, k_head, v_head in zip(np.split(q, n_head, axis=-1), np.split(k, n_head, axis=-1),
                                               np.split(v, n_head, axis=-1))]
    return np.concatenate(heads, axis=-1) @ w_proj + b_proj


class GPT2(jitc.nn.Module):
    """Token ids of shape (T,) -> next-token logits of shape (T, vocab)."""

    def __init__(self, vocab=256, n_ctx=32, n_embd=64, n_head=4, n_layer=2, seed=0):
        rng = np.random.default_rng(seed)

        def normal(*shape, scale=0.02):
            return (rng.standard_normal(shape) * scale).astype(np.float32)

        def near_one(n):
            return (1 + normal(n, scale=0.1)).astype(np.float32)

        self.n_head = n_head
        self.wte = normal(vocab, n_embd)
        self.wpe = normal(n_ctx, n_embd, scale=0.01)
        self.blocks = [(near_one(n_embd), normal(n_embd),                     # ln_1 gain and bias
                        normal(n_embd, 3 * n_embd), normal(3 * n_embd),        # attention qkv
                        normal(n_embd, n_embd), normal(n_embd),                # attention projection
                        near_one(n_embd), normal(n_embd),                     # ln_2 gain and bias
                        normal(n_embd, 4 * n_embd), normal(4 * n_embd),        # mlp in
                        normal(4 * n_embd, n_embd), normal(n_embd))            # mlp out
                       for _ in range(n_layer)]
        self.ln_f_g, self.ln_f_b = near_one(n_embd), normal(n_embd)

    def forward(self, ids):
        T = ids.shape[0]
        x = self.wte[ids] + self.wpe[np.arange(T)]
        mask = (1 - np.tri(T, dtype=x.dtype)) * -1e10  # position t attends to positions <= t only
        for (ln1_g, ln1_b, w_attn, b_attn, w_proj, b_proj,
             ln2_g, ln2_b, w_fc, b_fc, w_out, b_out) in self.blocks:
            x = x + multi_head_attention(layer_norm(x, ln1_g, ln1_b), w_attn, b_attn, w_proj, b_proj,
                                         mask, self.n_head)
            x = x + gelu(layer_norm(x, ln2_g, ln2_b) @ w_fc + b_fc) @ w_out + b_out
        return layer_norm(x, self.ln_f_g, self.ln_f_b) @ self.wte.T


def median_seconds(function, *args, runs=20):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    model = GPT2()
    ids = np.random.default_rng(1).integers(0, 256, size=16)
    expected = model(ids)

    compiled = jitc.script(model)
    start = time.perf_counter()
    logits = compiled(ids)
    first_call = time.perf_counter() - start
    assert_matches("scripted GPT-2", logits, expected, TOLERANCE)
    stats = compiled.compile_stats()[0]
    print(f"first call: {first_call:.2f} s (scripting {stats['frontend']:.2f} s, "
          f"optimising {stats['optimize']:.2f} s, code generation {stats['codegen']:.2f} s)")
    shorter = ids[:5]
    assert_matches("scripted GPT-2, 5 tokens", compiled(shorter), model(shorter), TOLERANCE)

    eager, native = median_seconds(model, ids), median_seconds(compiled, ids)
    print(f"median of 20 runs: NumPy {eager * 1e3:.3f} ms, jitc {native * 1e3:.3f} ms "
          f"({eager / native:.1f}x)")

    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "gpt2.jitc")
        jitc.save(compiled, path)
        loaded = jitc.load(path)
        assert_matches("saved and loaded GPT-2", loaded(ids), expected, TOLERANCE)
    return 0


if __name__ == "__main__":
    sys.exit(main())
