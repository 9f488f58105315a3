"""`jitc.freeze(module)`: a scripted module whose parameters are frozen
into its graphs, as `torch.jit.freeze` freezes a scripted module.

`jitc.script(module)` already makes every array of the module a tensor
constant of the graph, so the optimizer sees the values. Freezing goes two
steps further:

- a snapshot: the frozen module compiles a copy of the module taken when
  `freeze` is called, so later changes to the module's arrays (training,
  `load_state_dict`) never reach it;
- folding: everything the code computes from parameters alone is computed
  once, when a graph is built, however large (`W.T`, `W * scale`, a
  concatenation of weights), by the `freeze_parameters` pass, and then
  `canonicalize` removes what the folded values make trivial (`x * g` with
  `g` all ones). The default pipeline folds only small arrays, so without
  freezing those stay computations that run on every call.

The frozen graphs hold the folded arrays, so they are what `.graph` shows
and what `jitc.save` writes.
"""
from __future__ import annotations

import copy

from .ir.passes import run_pipeline
from .nn.module import Module
from .nn.scripting import ScriptMethod, ScriptModule

FREEZE_PIPELINE = "freeze_parameters,canonicalize,eliminate_dead_code"


class _Frozen:
    """Runs FREEZE_PIPELINE on each generic graph once, when it is built."""

    def script(self, generic_types):
        new = generic_types not in self._graphs
        graph = super().script(generic_types)
        if new:
            run_pipeline(graph, FREEZE_PIPELINE)
        return graph


class FrozenMethod(_Frozen, ScriptMethod):
    """A `@jitc.export` method of a frozen module."""


class FrozenModule(_Frozen, ScriptModule):
    """What `jitc.freeze` returns: a ScriptModule over a snapshot of the
    module, with parameter-only computations folded."""

    def __init__(self, module: Module, **options):
        super().__init__(module, **options)
        for name in self.methods:
            if name != "forward":
                self.methods[name] = FrozenMethod(module, name, **options)

    def __repr__(self) -> str:
        return "<Frozen" + super().__repr__()[1:]


def freeze(module: ScriptModule | Module) -> FrozenModule:
    """Freeze a module scripted by `jitc.script(module)` (or a
    `jitc.nn.Module`, scripted with the default options): its parameters,
    as they are now, become constants that compile-time folding sees whole."""
    if isinstance(module, FrozenModule):
        return module
    if isinstance(module, ScriptModule):
        source, options = module.module, {"backend": module.backend,
                                          "optimization_level": module.optimization_level}
    elif isinstance(module, Module):
        source, options = module, {}
    else:
        raise TypeError(f"jitc.freeze takes a module scripted by jitc.script(module) or a jitc.nn.Module, "
                        f"got {type(module).__name__}; a function's arrays are frozen already when it "
                        "reads them as globals, and are data when they are its arguments")
    try:
        snapshot = copy.deepcopy(source)
    except Exception as error:
        raise TypeError(f"jitc.freeze copies the module to snapshot its parameters, and "
                        f"{type(source).__name__} cannot be copied: {error}") from None
    return FrozenModule(snapshot, **options)


__all__ = ["FREEZE_PIPELINE", "FrozenModule", "freeze"]
