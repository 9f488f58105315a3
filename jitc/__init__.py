"""jitc: a JIT compiler for model code written in plain NumPy.

    @jitc.script
    def gelu(x):
        return 0.5 * x * (1 + np.tanh(0.7978845608 * (x + 0.044715 * x**3)))

`script` compiles a function from its source (loops and branches stay in
the graph); `trace` records one run on example inputs; `save` and `load`
move compiled functions between processes without their source.
"""
from __future__ import annotations

import inspect
import os
from typing import Any, Callable, Sequence

from .errors import (CompileWarning, JitcError, LoadError, ScriptError, TraceError, TracerWarning,
                     TracingCheckError)
from .function import CompiledFunction, LoadedFunction, ScriptFunction, TracedFunction
from .serialization import load, save
from . import nn
from .nn import ScriptModule

__version__ = "0.1.0"
__all__ = ["script", "trace", "save", "load", "nn", "CompiledFunction", "ScriptFunction", "ScriptModule",
           "TracedFunction",
           "LoadedFunction", "JitcError", "ScriptError", "TraceError", "TracingCheckError",
           "LoadError", "TracerWarning", "CompileWarning", "__version__"]


def _disabled() -> bool:
    """`JITC_DISABLE=1` makes script and trace return the Python function,
    so a whole program runs eagerly (under pdb, with print)."""
    return os.environ.get("JITC_DISABLE", "") not in ("", "0")


def script(function: Callable | None = None, *, backend: str | None = None, optimize: int = 2):
    """Compile `function` from its source; use as `@jitc.script` or
    `@jitc.script(backend="interpreter")`. A `jitc.nn.Module` compiles
    its `forward`, with its parameters as constants."""
    if function is None:
        return lambda f: script(f, backend=backend, optimize=optimize)
    if _disabled():
        return function
    if isinstance(function, nn.Module):
        return ScriptModule(function, backend=backend, optimization_level=optimize)
    return ScriptFunction(function, backend=backend, optimization_level=optimize)


def trace(function: Callable, example_inputs: Any, *, strict: bool = True, backend: str | None = None,
          optimize: int = 2):
    """Record `function` (or a `jitc.nn.Module`'s forward) run on
    `example_inputs` (an array or a tuple)."""
    if _disabled():
        return function
    from .frontend.tracer import trace_graph
    module = function if isinstance(function, nn.Module) else None
    if module is not None:
        function = module.forward
    examples: Sequence[Any] = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    parameters = [p for p in inspect.signature(function).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][:len(examples)]
    if len(parameters) != len(examples):
        raise TypeError(f"{getattr(function, '__name__', 'function')} takes {len(parameters)} "
                        f"positional parameter(s); {len(examples)} example input(s) given")
    parameters = [p.replace(kind=p.POSITIONAL_OR_KEYWORD, default=p.empty) for p in parameters]
    graph, arity = trace_graph(function, examples, [p.name for p in parameters], strict=strict)
    if module is not None:
        nn.scripting.name_tensors(graph, nn.scripting.parameter_paths(module))
    return TracedFunction(graph, parameters, arity, backend=backend, optimization_level=optimize)
