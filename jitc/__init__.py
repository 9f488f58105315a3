"""jitc: a JIT compiler for model code written in plain NumPy.

    @jitc.script
    def gelu(x):
        return 0.5 * x * (1 + np.tanh(0.7978845608 * (x + 0.044715 * x**3)))

`script` compiles a function from its source (loops and branches stay in
the graph); `trace` records one run on example inputs; `save` and `load`
move compiled functions between processes without their source.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Sequence

from .errors import (CompileWarning, JitcError, LoadError, ScriptError, TraceError, TracerWarning,
                     TracingCheckError)
from .function import CompiledFunction, LoadedFunction, ScriptFunction, TracedFunction
from .serialization import load, save
from . import nn
from .nn import ScriptModule
from .nn.module import export
from .freeze import freeze

__version__ = "0.1.0"
__all__ = ["script", "trace", "ignore", "export", "freeze", "save", "load", "nn", "CompiledFunction", "ScriptFunction",
           "ScriptModule",
           "TracedFunction",
           "LoadedFunction", "JitcError", "ScriptError", "TraceError", "TracingCheckError",
           "LoadError", "TracerWarning", "CompileWarning", "to_host", "__version__"]


def to_host(value: Any) -> Any:
    """`value` with its arrays as NumPy arrays: the device arrays that
    backend="cuda" returns are copied back (`copy_to_host()`); NumPy arrays
    pass through; lists and tuples are converted item by item."""
    from .backends.cuda.runtime import to_host as device_to_host
    return device_to_host(value)


def _disabled() -> bool:
    """`JITC_DISABLE=1` makes script and trace return the Python function,
    so a whole program runs eagerly (under pdb, with print)."""
    return os.environ.get("JITC_DISABLE", "") not in ("", "0")


def ignore(function: Callable) -> Callable:
    """Mark `function` (or a Module method) to stay in Python: scripted code
    does not compile it, but calls it through a `prim::PythonCall` node,
    which only the interpreter runs (a function calling one runs there,
    with a CompileWarning, and cannot be saved). The result's type comes
    from the return annotation; without one it is None when the body has
    no `return value`, else an array. Arrays reach it read-only."""
    function.__jitc_ignore__ = True
    return function


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


def trace(function: Callable, example_inputs: Any, *, check_inputs: Sequence[Any] | None = None,
          strict: bool = True, backend: str | None = None, optimize: int = 2):
    """Record `function` (a function, lambda, closure, or a `jitc.nn.Module`,
    whose forward is traced) run on `example_inputs` (an array or a tuple).
    Data-dependent values that leave the graph warn (`TracerWarning`);
    under `strict` a data-dependent decision is a `TraceError`. Each tuple
    of `check_inputs` is run eagerly and traced; a difference raises
    `TracingCheckError`."""
    if _disabled():
        return function
    from .frontend.trace_api import trace as trace_function
    return trace_function(function, example_inputs, check_inputs=check_inputs, strict=strict,
                          backend=backend, optimize=optimize)
