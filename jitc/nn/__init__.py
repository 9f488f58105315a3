"""`jitc.nn`: model classes in plain NumPy, in the style of `torch.nn`.

    class MLP(jitc.nn.Module):
        def __init__(self, rng):
            self.fc1 = jitc.nn.Linear(64, 256, rng=rng)
            self.fc2 = jitc.nn.Linear(256, 10, rng=rng)

        def forward(self, x):
            return self.fc2(np.maximum(self.fc1(x), 0))

A module runs eagerly as written; `jitc.script(MLP(rng))` compiles its
`forward` and everything it calls, with the parameters as constants.
"""
from .layers import GELU, Conv2d, Embedding, LayerNorm, Linear, ReLU, Tanh
from .module import Module, ModuleList, Sequential
from .recurrent import LSTMCell, RNNCell
from .scripting import ScriptModule

__all__ = ["Module", "ModuleList", "Sequential", "Linear", "Conv2d", "LayerNorm", "Embedding", "ReLU",
           "GELU", "Tanh", "RNNCell", "LSTMCell", "ScriptModule"]
