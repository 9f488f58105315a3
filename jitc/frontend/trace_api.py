"""`jitc.trace` for functions, lambdas, closures and `jitc.nn.Module`
instances.

Tracing a module traces its bound `forward`. While it runs, the module's
parameters (every array among its attributes, masks included) are replaced
by proxies of tensor constants named by their path (`fc1.weight`,
`blocks.0.3`), so indexing them with traced values (`self.wte[ids]`,
`self.mask[:T, :T]`) is recorded rather than computed once; the module's
attributes are restored afterwards. As for scripted modules, the trace
keeps the values the arrays had when it was made.
"""
from __future__ import annotations

import contextlib
import inspect
import re
from typing import Any, Callable

import numpy as np

from .trace_check import check_trace
from .tracer import Tracer, trace_graph


def trace(target: Callable, example_inputs: Any, *, check_inputs=None, strict: bool = True,
          backend: str | None = None, optimize: int = 2):
    from ..function import TracedFunction
    function, constants = target, None
    name = getattr(target, "__name__", None) or type(target).__name__
    if _is_module(target):
        function, name = target.forward, type(target).__name__
        constants = lambda tracer: _arrays_as_proxies(target, tracer)  # noqa: E731
    name = re.sub(r"\W", "_", name).strip("_") or "traced"
    examples = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    parameters = _parameters(function, name, len(examples))
    graph, arity, fixed_at = trace_graph(function, examples, [p.name for p in parameters], strict=strict,
                                         constants=constants, name=name)
    traced = TracedFunction(graph, parameters, arity, fixed_at=fixed_at, backend=backend,
                            optimization_level=optimize)
    if check_inputs is not None:
        check_trace(traced, target, check_inputs)
    return traced


def _parameters(function: Callable, name: str, count: int) -> list[inspect.Parameter]:
    """One positional parameter per example input: the function's first
    ones, then `args_0`, `args_1`, ... for its `*args`."""
    signature = inspect.signature(function).parameters.values()
    parameters = [p for p in signature if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)][:count]
    rest = next((p.name for p in signature if p.kind == p.VAR_POSITIONAL), None)
    if rest is not None:
        taken = {p.name for p in signature}
        extra = (f"{rest}_{i}" for i in range(count * 2) if f"{rest}_{i}" not in taken)
        parameters += [inspect.Parameter(next(extra), inspect.Parameter.POSITIONAL_ONLY)
                       for _ in range(count - len(parameters))]
    if len(parameters) != count:
        raise TypeError(f"{name} takes {len(parameters)} positional parameter(s); "
                        f"{count} example input(s) given")
    return [p.replace(kind=p.POSITIONAL_OR_KEYWORD, default=p.empty) for p in parameters]


def _is_module(target) -> bool:
    try:
        from ..nn import Module
    except ImportError:
        return False
    return isinstance(target, Module)


@contextlib.contextmanager
def _arrays_as_proxies(module, tracer: Tracer):
    """Replace every parameter of the module tree (the arrays among its
    attributes, also inside lists and tuples) by a constant proxy named by
    its path while the block runs; one proxy per array object."""
    paths = {id(array): path for path, array in module.named_parameters()}
    proxies: dict[int, Any] = {}

    def substitute(value):
        if isinstance(value, np.ndarray) and id(value) in paths:
            if id(value) not in proxies:
                proxies[id(value)] = tracer.constant(value, paths[id(value)])
            return proxies[id(value)]
        if isinstance(value, (list, tuple)):
            items = [substitute(item) for item in value]
            if all(new is old for new, old in zip(items, value)):
                return value
            return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
        return value

    saved = []
    for _, submodule in module.named_modules():
        attributes = vars(submodule)
        for key, value in list(attributes.items()):
            new = substitute(value)
            if new is not value:
                saved.append((attributes, key, value))
                attributes[key] = new
    try:
        yield
    finally:
        for attributes, key, value in reversed(saved):
            attributes[key] = value


__all__ = ["trace"]
