"""GPU workloads: jitc's CUDA backend against PyTorch eager and torch.compile
on the same GPU (issue 8's targets).

    python -m benchmarks.gpu [--repeat N] [--filter NAME] [--quick]

Workloads: gelu on 64M float32 (with the effective bandwidth, read + write),
layer norm then softmax on 16384x4096 float32, the RNN example (T=64, B=8,
D=64) and the GPT-2 example. Inputs are put on the GPU before timing; each
time is the median over `--repeat` repeats of a loop of calls ended by a
device synchronisation. Every peer's first result is checked against NumPy
first. Without a GPU (or under NUMBA_ENABLE_CUDASIM) it prints why and
exits 0; PyTorch missing, or without CUDA, drops its rows with a note.
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from typing import Callable

import numpy as np

import jitc

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")


def gelu(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def layer_norm_softmax(x, g, b):
    mean = np.mean(x, axis=-1, keepdims=True)
    centred = x - mean
    y = g * centred / np.sqrt(np.mean(centred * centred, axis=-1, keepdims=True) + 1e-5) + b
    e = np.exp(y - np.max(y, axis=-1, keepdims=True))
    return e / np.sum(e, axis=-1, keepdims=True)


def _torch_gelu(torch):
    return lambda x: 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def _torch_layer_norm_softmax(torch):
    def function(x, g, b):
        return torch.softmax(torch.nn.functional.layer_norm(x, x.shape[-1:], g, b, 1e-5), dim=-1)
    return function


def _torch_rnn(torch):
    def function(x, h, w_h, u_h, b_h):
        ys = []
        for t in range(x.shape[0]):
            h = torch.tanh(x[t] @ w_h + h @ u_h + b_h)
            ys.append(h)
        return torch.stack(ys), h
    return function


def workloads(quick: bool):
    """(name, NumPy function or model, inputs, torch transcription maker or None, bytes moved or None)."""
    sys.path.insert(0, EXAMPLES)
    from gpt2 import GPT2
    from rnn import example_inputs, rnn
    rng = np.random.default_rng(0)
    n = 1 << (16 if quick else 26)
    rows, columns = (64, 256) if quick else (16384, 4096)
    yield "gelu_64M", gelu, (rng.standard_normal(n, dtype=np.float32),), _torch_gelu, 2 * 4 * n
    yield ("layernorm_softmax", layer_norm_softmax,
           (rng.standard_normal((rows, columns), dtype=np.float32), np.ones(columns, np.float32),
            np.zeros(columns, np.float32)), _torch_layer_norm_softmax, 2 * 4 * rows * columns)
    yield "rnn_T64_B8_D64", rnn, example_inputs(T=8 if quick else 64), _torch_rnn, None
    yield "gpt2_example", GPT2(), (np.random.default_rng(1).integers(0, 256, size=16),), None, None


def median_seconds(function: Callable, synchronize: Callable, repeat: int, minimum: float = 0.02) -> float:
    times = []
    for _ in range(repeat):
        calls, start = 0, time.perf_counter()
        while True:
            function()
            calls += 1
            synchronize()
            elapsed = time.perf_counter() - start
            if elapsed >= minimum:
                break
        times.append(elapsed / calls)
    return statistics.median(times)


def gpu_unavailable_reason() -> str | None:
    if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0"):
        return "NUMBA_ENABLE_CUDASIM is set: the simulator is for tests, not timings"
    try:
        from numba import cuda
    except Exception as error:
        return f"numba.cuda cannot be imported ({error}); pip install 'jitc[cuda]'"
    if not cuda.is_available():
        return "no CUDA GPU is available (numba.cuda.is_available() is False)"
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--filter", default="")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke test")
    options = parser.parse_args(argv)
    reason = gpu_unavailable_reason()
    if reason:
        print(f"benchmarks.gpu: skipped, {reason}")
        return 0
    from numba import cuda
    try:
        import torch
        torch_reason = None if torch.cuda.is_available() else "PyTorch has no CUDA device"
    except ImportError:
        torch, torch_reason = None, "PyTorch is not installed"
    device = cuda.get_current_device().name if hasattr(cuda, "get_current_device") else "simulator"
    device = device.decode() if isinstance(device, bytes) else device
    print(f"device: {device}; date: {time.strftime('%Y-%m-%d')}; repeats: {options.repeat}")
    print(f"{'workload':<20} {'peer':<16} {'median ms':>10} {'vs jitc':>8}  note")
    for name, function, inputs, torch_maker, bytes_moved in workloads(options.quick):
        if options.filter not in name:
            continue
        expected = function(*inputs)
        rows = []
        compiled = jitc.script(function, backend="cuda")
        device_inputs = tuple(cuda.to_device(a) if isinstance(a, np.ndarray) else a for a in inputs)
        result = jitc.to_host(compiled(*device_inputs))
        agrees = all(np.allclose(r, e, rtol=1e-4, atol=1e-5) for r, e in zip(_flat(result), _flat(expected)))
        seconds = median_seconds(lambda: compiled(*device_inputs), cuda.synchronize, options.repeat)
        rows.append(("jitc cuda", seconds, "" if agrees else "MISMATCH against NumPy"))
        if torch_maker and torch is not None and torch_reason is None:
            torch_inputs = tuple(torch.from_numpy(a).cuda() for a in inputs)
            for peer, callable_ in (("torch eager", torch_maker(torch)),
                                    ("torch.compile", torch.compile(torch_maker(torch)))):
                with torch.no_grad():
                    callable_(*torch_inputs)
                    rows.append((peer, median_seconds(lambda: callable_(*torch_inputs), torch.cuda.synchronize,
                                                      options.repeat), ""))
        elif torch_maker is None:
            rows.append(("torch", None, "no transcription of this workload"))
        else:
            rows.append(("torch", None, torch_reason))
        base = rows[0][1]
        for peer, seconds, note in rows:
            if seconds is None:
                print(f"{name:<20} {peer:<16} {'-':>10} {'-':>8}  {note}")
                continue
            if bytes_moved:
                note = f"{bytes_moved / seconds / 1e12:.2f} TB/s effective {note}".strip()
            print(f"{name:<20} {peer:<16} {seconds * 1e3:>10.3f} {seconds / base:>8.2f}  {note}")
    return 0


def _flat(value):
    if isinstance(value, (list, tuple)):
        for item in value:
            yield from _flat(item)
    else:
        yield value


if __name__ == "__main__":
    sys.exit(main())
