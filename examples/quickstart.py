"""jitc in one page: script a NumPy RNN, check it against NumPy, look at
its IR, trace an MLP, save both and load them back.

Run:  python examples/quickstart.py
"""
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import jitc  # noqa: E402
from mlp import example_inputs as mlp_inputs, mlp  # noqa: E402
from rnn import example_inputs as rnn_inputs, rnn  # noqa: E402


def check(name, compiled, expected, rtol=1e-5):
    for got, want in zip(compiled if isinstance(compiled, tuple) else (compiled,),
                         expected if isinstance(expected, tuple) else (expected,)):
        assert got.dtype == want.dtype and got.shape == want.shape, name
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol)
    print(f"{name}: matches NumPy")


def main():
    scripted_rnn = jitc.script(rnn)
    args = rnn_inputs(T=16, B=4, D=32)
    check("scripted RNN", scripted_rnn(*args), rnn(*args))
    print(scripted_rnn.graph_for(*args))

    args = mlp_inputs(batch=8, width=64)
    traced_mlp = jitc.trace(mlp, args)
    check("traced MLP", traced_mlp(*args), mlp(*args))
    print(traced_mlp.code)

    with tempfile.TemporaryDirectory() as folder:
        for name, function, inputs, reference in (
                ("rnn", scripted_rnn, rnn_inputs(T=8, B=2, D=32, seed=1), rnn),
                ("mlp", traced_mlp, mlp_inputs(batch=3, width=64, seed=1), mlp)):
            path = os.path.join(folder, f"{name}.jitc")
            jitc.save(function, path)
            check(f"{name} loaded from {os.path.getsize(path)} bytes", jitc.load(path)(*inputs),
                  reference(*inputs))
    for stats in scripted_rnn.compile_stats():
        stages = ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in stats.items() if isinstance(v, float))
        print(f"compiled rnn for {stats['signature']} on {stats['backend']}: {stages}")


if __name__ == "__main__":
    main()
