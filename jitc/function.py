"""The callables `jitc.script` and `jitc.trace` return.

A `CompiledFunction` is a dispatcher: each call binds the arguments like
the Python function would, derives the argument signature, and runs the
version compiled for that signature, compiling it on first use:

    generic graph ──specialize──► typed graph ──optimize──► backend.compile
"""
from __future__ import annotations

import contextlib
import functools
import gc
import inspect
import os
import sys
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from .backends import NativeCallError, UnsupportedOpError, backend_name, get_backend
from .errors import CompileWarning
from .ir.code import graph_to_code
from .ir.errors import IRTypeError
from .ir.graph import Graph
from .ir.ops.prim import arrays_in, written_parameters
from .ir.passes import optimize, specialize
from .ir.types import TensorType, Type, is_subtype
from .frontend import trace_inline
from .frontend.builder import StaticValueNeeded
from .signature import SpecializedValue, argument_type, describe, generic_type, specialize_value, value_type

DEFAULT_OPTIMIZATION_LEVEL = 2
FAST_ENTRIES = 4  # native entries tried before the Python dispatcher


@contextlib.contextmanager
def gc_paused():
    """The cyclic garbage collector off while compiling: scripting, passes and
    llvmlite's IR builder allocate many objects and few cycles, and its passes
    over them took 50-130 ms of the GPT-2 example's 1.4 s cold compile."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@dataclass
class Specialization:
    """One compiled version: its optimised graph and how to run it."""

    types: tuple[Type, ...]
    graph: Graph
    run: Callable[..., tuple]
    backend: str
    seconds: dict[str, float] = field(default_factory=dict)
    graph_from: str = "built"  # or "disk": the optimised graph came from graph_cache


class CompiledFunction:
    """Common behaviour of scripted and traced functions."""

    def __init__(self, name: str, parameters: Sequence[inspect.Parameter], *,
                 backend: str | None = None, optimization_level: int = DEFAULT_OPTIMIZATION_LEVEL,
                 output_arity: int | None = None):
        self.__name__ = name
        self.signature = inspect.Signature(parameters)
        self.backend = backend_name(backend)
        self.optimization_level = optimization_level
        self.output_arity = output_arity
        self._specializations: dict[tuple[Type, ...], Specialization] = {}
        # Parameters whose int or bool value is part of the signature, found while compiling.
        self.static_parameters: set[str] = set()
        # Indices of the parameters some compiled version writes into: a call checks that
        # their arrays share no memory with the other arguments (`check_no_overlap`).
        self.written_parameters: frozenset[int] = frozenset()
        # The native entries of the versions that ran last, most recent first: each
        # checks the arguments itself and declines (NotImplemented) those it was not
        # compiled for, so a call that matches one never reaches the Python dispatcher.
        self._fast: tuple = ()

    # -- what subclasses provide -----------------------------------------------
    def generic_graph(self, types: tuple[Type, ...]) -> Graph:
        """The graph to specialise for arguments of these types."""
        raise NotImplementedError

    @property
    def graph(self) -> Graph:
        """The generic graph, before specialisation."""
        raise NotImplementedError

    @property
    def code(self) -> str:
        return graph_to_code(self.graph)

    # -- calling ---------------------------------------------------------------
    def bind(self, args, kwargs) -> list:
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError as error:
            raise TypeError(f"{self.__name__}(): {error}") from None
        bound.apply_defaults()
        return list(bound.arguments.values())

    def __call__(self, *args, **kwargs):
        checked, values = bool(self.written_parameters), None
        if checked:  # all arguments given by position need no binding
            if not kwargs and len(args) == len(self.signature.parameters):
                self.check_no_overlap(args)
            else:
                values = self.bind(args, kwargs)
                self.check_no_overlap(values)
        if not kwargs:
            for fast, executable in self._fast:
                try:
                    results = fast(*args)
                except NativeCallError as error:
                    raise executable.error(*error.args) from None
                if results is not NotImplemented:
                    return results[0] if self.output_arity is None else results
        if values is None:
            values = self.bind(args, kwargs)
        if trace_inline.ACTIVE:  # called on traced values while jitc.trace records: inline the graph
            inlined = trace_inline.call_while_tracing(self, values)
            if inlined is not NotImplemented:
                return inlined
        specialization = self.specialization_for(values)
        if not checked and self.written_parameters:  # known once the first version is compiled
            self.check_no_overlap(values)
        fast = getattr(specialization.run, "fast", None)
        # A native entry checks types, not values, so specialised values stay on this path.
        if fast is not None and not any(isinstance(t, SpecializedValue) for t in specialization.types):
            others = tuple(entry for entry in self._fast if entry[0] is not fast)
            self._fast = ((fast, specialization.run),) + others[:FAST_ENTRIES - 1]
        return self.pack(specialization.run(*values))

    def check_no_overlap(self, values: Sequence[Any]) -> None:
        """ValueError when an argument the function writes into shares memory
        with another argument (`f(x, x)`, `f(x, x[1:])`): compiled code reads
        every argument as it was at the call, where NumPy would see the write."""
        for written in self.written_parameters:
            target = values[written]
            if not isinstance(target, np.ndarray):
                continue
            for index, value in enumerate(values):
                if index == written or isinstance(value, (int, float, bool)) or value is None:
                    continue
                if isinstance(value, np.ndarray) and not np.may_share_memory(target, value):
                    continue  # the common case, without the walk below
                if any(_overlap(target, array) for array in arrays_in(value)):
                    names = list(self.signature.parameters)
                    raise ValueError(
                        f"{self.__name__}(): arguments '{names[written]}' and '{names[index]}' share memory, and "
                        f"{self.__name__} writes into '{names[written]}'; compiled code reads every argument as it "
                        f"was at the call, where NumPy's result could differ: pass a copy as '{names[index]}'")

    def pack(self, outputs: tuple) -> Any:
        outputs = tuple(_as_numpy_result(v) for v in outputs)
        return outputs[0] if self.output_arity is None else outputs

    @functools.cached_property
    def fixed_dims(self) -> dict[int, tuple[int, ...]]:
        """Axes of each parameter whose size the graph fixes (other than 1):
        a traced graph fixes the dims the trace depends on."""
        fixed = {}
        for index, type in enumerate(self.parameter_types()):
            shape = getattr(type, "shape", None) or ()
            axes = tuple(axis for axis, dim in enumerate(shape) if isinstance(dim, int) and dim != 1)
            if axes:
                fixed[index] = axes
        return fixed

    def parameter_types(self) -> list[Type]:
        """The generic graph's parameter types."""
        return [param.type for param in self.graph.params]

    def signature_of(self, values) -> tuple[Type, ...]:
        types = [argument_type(v, name) for v, name in zip(values, self.signature.parameters)]
        if self.static_parameters:
            types = [specialize_value(t, v) if name in self.static_parameters else t
                     for t, v, name in zip(types, values, self.signature.parameters)]
        for index, axes in self.fixed_dims.items():
            type, sizes = types[index], np.shape(values[index])
            if isinstance(type, TensorType) and len(sizes) > max(axes):
                types[index] = type.with_shape(sizes[axis] if axis in axes else dim
                                               for axis, dim in enumerate(type.shape))
        return tuple(types)

    def specialization_for(self, values) -> Specialization:
        while True:
            types = self.signature_of(values)
            specialization = self._specializations.get(types)
            if specialization is not None:
                return specialization
            try:
                with gc_paused():
                    specialization = self._specializations[types] = self.compile(types)
                return specialization
            except StaticValueNeeded as needed:  # compile again with those values fixed
                if set(needed.parameters) <= self.static_parameters:
                    raise
                self.static_parameters.update(needed.parameters)

    def graph_for(self, *args, **kwargs) -> Graph:
        """The specialised, optimised graph that runs for these arguments."""
        return self.specialization_for(self.bind(args, kwargs)).graph

    def llvm_ir(self, *args, **kwargs) -> str:
        """The optimised LLVM IR of the version that runs for these arguments."""
        return self._native_listing("llvm_ir", args, kwargs)

    def asm(self, *args, **kwargs) -> str:
        """The machine code (assembly) of the version that runs for these arguments."""
        return self._native_listing("asm", args, kwargs)

    def memory_plan(self, *args, **kwargs):
        """The memory plan of the version that runs for these arguments, in
        bytes for them: its planned peak against the sum of all its buffers,
        and where each value lives (a `MemoryReport`; print it)."""
        from .ir.passes.plan_memory import plan_memory
        values = self.bind(args, kwargs)
        return plan_memory(self.specialization_for(values).graph).report(*values)

    def _native_listing(self, what: str, args, kwargs) -> str:
        specialization = self.specialization_for(self.bind(args, kwargs))
        listing = getattr(specialization.run, what, None)
        if listing is None:
            raise ValueError(f"{self.__name__}(): this version runs in the {specialization.backend} "
                             f"backend, which has no {what}")
        return listing

    def static_arguments(self, graph: Graph) -> dict[str, Any]:
        """The parameter values `graph`, one of `saved_graphs()`, was compiled
        for (see `static_parameters`); empty when it takes them all as data."""
        return {}

    def specializations(self) -> list[Specialization]:
        """The versions compiled so far, in order (`jitc.save` writes their graphs)."""
        return list(self._specializations.values())

    def compile_stats(self) -> list[dict]:
        """Seconds spent per stage, for every compiled signature, and where
        its machine code came from (compiled, or the memory or disk cache)."""
        return [{"signature": [str(t) for t in s.types], "backend": s.backend, "graph_from": s.graph_from,
                 "code_from": getattr(s.run, "origin", "compiled"), **s.seconds}
                for s in self._specializations.values()]

    # -- compiling ---------------------------------------------------------------
    def compile(self, types: tuple[Type, ...]) -> Specialization:
        seconds = {}
        return self.build_specialization(types, self.optimized_graph(types, seconds), seconds)

    def build_specialization(self, types: tuple[Type, ...], graph: Graph, seconds: dict[str, float],
                       graph_from: str = "built") -> Specialization:
        """`graph` (specialised and optimised) compiled by the backend; its time
        joins the other stages' in `seconds`."""
        start = time.perf_counter()
        run, backend = self.compile_graph(graph)
        seconds["codegen"] = time.perf_counter() - start
        return Specialization(types, graph, run, backend, seconds, graph_from)

    def optimized_graph(self, types: tuple[Type, ...], seconds: dict[str, float]) -> Graph:
        """The generic graph specialised to `types` and optimised; the time
        of each stage goes into `seconds`."""
        start = time.perf_counter()
        generic = self.generic_graph(types)
        seconds["frontend"] = time.perf_counter() - start
        graph_types = tuple(value_type(t) for t in types)
        self.check_argument_types(generic, graph_types)
        start = time.perf_counter()
        try:
            graph = specialize(generic, graph_types)
            optimize(graph, self.optimization_level)
        except IRTypeError as error:
            raise TypeError(f"{self.__name__}(): {error}") from None
        seconds["optimize"] = time.perf_counter() - start
        return graph

    def check_argument_types(self, graph: Graph, types: tuple[Type, ...]) -> None:
        for param, type, name in zip(graph.params, types, self.signature.parameters):
            if not is_subtype(type, param.type):
                raise TypeError(f"{self.__name__}(): argument '{name}' must be {describe(param.type)}, "
                                f"got {describe(type)}")

    def compile_graph(self, graph: Graph) -> tuple[Callable[..., tuple], str]:
        self.written_parameters |= written_parameters(graph)
        backend = get_backend(self.backend)
        ignored = sorted({str(node.attributes["function"]) for node in graph.walk() if node.kind == "prim::PythonCall"})
        if ignored and backend.name != "interpreter":  # only the interpreter calls Python
            _warn_once((self.__name__, backend.name, "prim::PythonCall"),
                       f"jitc: {self.__name__} calls {', '.join(ignored)}, marked @jitc.ignore, which "
                       f"stay{'s' if len(ignored) == 1 else ''} in Python; {self.__name__} runs in the "
                       f"interpreter, not the {backend.name} backend")
            return get_backend("interpreter").compile(graph), "interpreter"
        try:
            return backend.compile(graph), backend.name
        except UnsupportedOpError as error:
            _warn_fallback(self.__name__, backend.name, error)
            return get_backend("interpreter").compile(graph), "interpreter"

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.__name__} ({self.backend})>"


_WARNED: set[tuple[str, str, str]] = set()
# jitc, jitc.ir and jitc.backends: three folders where the package is run from the source tree.
_PACKAGE_FOLDERS = tuple(os.path.dirname(module.__file__) + os.sep for module in
                         (sys.modules[__package__], sys.modules[Graph.__module__.rsplit(".", 1)[0]],
                          sys.modules[get_backend.__module__]))


def _warn_fallback(function: str, backend: str, error: UnsupportedOpError) -> None:
    _warn_once((function, backend, error.kind),
               f"jitc: the {backend} backend cannot compile {error} yet; {function} runs in the interpreter")


def _warn_once(key: tuple[str, str, str], message: str) -> None:
    if key not in _WARNED:
        _WARNED.add(key)
        warnings.warn(message, CompileWarning, stacklevel=_first_caller_outside_jitc())


def _first_caller_outside_jitc() -> int:
    """The stacklevel, for a warning raised in the caller, of the innermost
    frame outside jitc's packages: the user's call, however deep the compile."""
    frame, level = sys._getframe(2), 2
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_FOLDERS):
        frame, level = frame.f_back, level + 1
    return level


def _overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two arrays share memory (a question too hard to settle counts as yes)."""
    if not np.may_share_memory(a, b):
        return False
    try:
        return np.shares_memory(a, b, max_work=10_000)
    except np.exceptions.TooHardError:
        return True


def _as_numpy_result(value):
    """0-d arrays become NumPy scalars, as NumPy's own operations return them."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value[()]
    if isinstance(value, list):
        return [_as_numpy_result(v) for v in value]
    return value


class TracedFunction(CompiledFunction):
    """A function recorded by `jitc.trace`: one graph, whose parameter types
    come from the example inputs (dtype and rank; dims the trace depends on
    are fixed). `fixed_at` says where the trace fixed each dim,
    {(parameter index, axis): SourceLocation}, for the error a call with
    another size gets."""

    def __init__(self, graph: Graph, parameters: Sequence[inspect.Parameter], output_arity: int | None,
                 fixed_at: dict | None = None, **options):
        super().__init__(graph.name, parameters, output_arity=output_arity, **options)
        self._graph = graph
        self.fixed_at = dict(fixed_at or {})

    def check_argument_types(self, graph: Graph, types: tuple[Type, ...]) -> None:
        """A size the trace fixed is a ValueError that says why it is fixed."""
        for index, (param, type, name) in enumerate(zip(graph.params, types, self.signature.parameters)):
            if (isinstance(type, TensorType) and isinstance(param.type, TensorType)
                    and type.dtype == param.type.dtype and type.rank == param.type.rank
                    and not is_subtype(type, param.type)):
                from .frontend.tracer import fixed_size_message
                raise ValueError(f"{self.__name__}(): " + fixed_size_message(
                    name, param.type.shape, type.shape, {axis: where for (i, axis), where
                                                         in self.fixed_at.items() if i == index}))
        super().check_argument_types(graph, types)

    @property
    def graph(self) -> Graph:
        return self._graph

    def generic_graph(self, types):
        return self._graph

    def saved_graphs(self) -> list[Graph]:
        return [self._graph]


class LoadedFunction(CompiledFunction):
    """A function read back by `jitc.load`: the generic graphs it was saved
    with, one per kind of argument signature (and per value of the
    parameters it was specialised on, `static_arguments`)."""

    def __init__(self, name: str, parameters: Sequence[inspect.Parameter],
                 graphs: Sequence[Graph] | Callable[[], list[Graph]], output_arity: int | None,
                 backend: str | None = None, static_arguments: Sequence[dict[str, Any]] | None = None):
        super().__init__(name, parameters, backend=backend, output_arity=output_arity)
        # A callable (serialization.DeferredGraphs) parses the graphs when first needed.
        self._deferred = graphs if callable(graphs) else None
        self._parsed = None if callable(graphs) else list(graphs)
        self._static = list(static_arguments or [{} for _ in range(len(graphs))])
        self.static_parameters = {name for static in self._static for name in static}
        # Optimised graphs from a trusted file, by parameter types: compiled as they are, skipping the passes.
        self.prepared: dict[tuple[Type, ...], Graph] = {}

    def compile(self, types: tuple[Type, ...]) -> Specialization:
        graph = self.prepared.get(types)
        if graph is None:
            return super().compile(types)
        return self.build_specialization(types, graph, {})

    @property
    def _graphs(self) -> list[Graph]:
        if self._parsed is None:
            self._parsed = list(self._deferred())
        return self._parsed

    def parameter_types(self) -> list[Type]:
        if self._parsed is None and hasattr(self._deferred, "parameter_types"):
            return self._deferred.parameter_types()  # from the file's manifest, without parsing the graph
        return super().parameter_types()

    @property
    def graph(self) -> Graph:
        return self._graphs[0]

    def generic_graph(self, types):
        for graph, static in zip(self._graphs, self._static):
            names = self.signature.parameters
            if all(_accepts(p, static.get(name), t) for t, p, name in zip(types, graph.params, names)):
                return graph
        if len(self._graphs) == 1 and not self.static_parameters:
            return self._graphs[0]  # check_argument_types names the parameter that differs
        saved = "; ".join("(" + ", ".join(f"{name}={static[name]!r}" if name in static else str(p.type)
                                          for p, name in zip(g.params, self.signature.parameters)) + ")"
                          for g, static in zip(self._graphs, self._static))
        raise TypeError(f"{self.__name__}(): this model was saved for arguments of types {saved}")

    def saved_graphs(self) -> list[Graph]:
        return list(self._graphs)

    def static_arguments(self, graph: Graph) -> dict[str, Any]:
        return next(static for saved, static in zip(self._graphs, self._static) if saved is graph)


def _accepts(param, static_value, type: Type) -> bool:
    """Whether a saved graph's parameter, compiled for `static_value` when
    not None, takes an argument of signature type `type`."""
    if static_value is not None:
        return isinstance(type, SpecializedValue) and type.value == static_value and type.type == param.type
    return is_subtype(value_type(type), param.type)


class ScriptFunction(CompiledFunction):
    """A function compiled from its source by `jitc.script`.

    The source is found at decoration (a function without readable source
    is refused there) and parsed when first scripted (not at all when the
    caches serve the compiled code). It is compiled on the first call, once
    per *kind* of argument signature: each array's dtype and rank, and the
    type of each scalar, list or tuple. Sizes are left to specialisation, so one generic
    graph serves every size. `x.shape` unpacks and `x.dtype` is known while
    scripting, as NumPy code expects."""

    def __init__(self, function: Callable, **options):
        from .frontend.script_source import check_source
        check_source(function)  # refuses functions whose source cannot be read (parsed when scripted)
        self.function = function
        super().__init__(function.__name__, list(inspect.signature(function).parameters.values()),
                         **options)
        self._graphs: dict[tuple[Type, ...] | None, Graph] = {}
        self._latest: Graph | None = None
        self._latest_types: tuple[Type, ...] | None = None  # generic types of the latest call's version
        functools.update_wrapper(self, function, updated=())

    def compile(self, types: tuple[Type, ...]) -> Specialization:
        """As CompiledFunction.compile, but the optimised graph comes from the
        disk cache (graph_cache) when this source, with the same values, was
        compiled for these types before, in this process or another."""
        from . import graph_cache  # imported on first compile: `jitc.load` needs none of it
        start = time.perf_counter()
        generic_types = tuple(generic_type(t) for t in types)
        key = graph_cache.key(self.function, (type(self).__qualname__, self.backend, self.optimization_level,
                                              repr(types), repr(sorted(self.static_parameters))))
        cached = None if key is None else graph_cache.load(key)
        seconds = {"cache_key": time.perf_counter() - start, "frontend": 0.0, "optimize": 0.0}
        if cached is None:
            graph = self.optimized_graph(types, seconds)
            if key is not None:
                graph_cache.store(key, graph, {"output_arity": self.output_arity})
        else:
            graph, extra = cached
            self.output_arity = extra.get("output_arity")
            self._latest = None  # the generic graph is scripted again only when asked for (`graph`, `jitc.save`)
        self._latest_types = generic_types
        return self.build_specialization(types, graph, seconds, "built" if cached is None else "disk")

    def __jitc_fingerprint__(self):
        """What a function that calls this one compiles from it (graph_cache)."""
        return (self.function, self.backend, self.optimization_level)

    def script(self, generic_types: tuple[Type, ...] | None) -> Graph:
        """The generic graph for these types (None: the annotations). Types
        that are `SpecializedValue`s fix their parameters to their values;
        for the others, an int whose value compiling needs raises
        StaticValueNeeded (except for the annotations' graph)."""
        from .frontend.scripter import script_graph_with_arity
        graph = self._graphs.get(generic_types)
        if graph is None:
            if generic_types is None:
                graph, self.output_arity = script_graph_with_arity(self.function, None)
            else:
                graph, self.output_arity = script_graph_with_arity(
                    self.function, tuple(value_type(t) for t in generic_types),
                    _static_values(generic_types, self.signature.parameters))
            self._graphs[generic_types] = graph
        self._latest = graph
        return graph

    @property
    def fixed_dims(self) -> dict[int, tuple[int, ...]]:
        """No dims: scripted graphs leave every size to specialisation."""
        return {}

    def static_arguments(self, graph: Graph) -> dict[str, Any]:
        types = next((types for types, saved in self._graphs.items() if saved is graph), None)
        return _static_values(types or (), self.signature.parameters)

    @property
    def graph(self) -> Graph:
        """The generic graph of the latest call, or, before any call, the
        graph for the annotations (unannotated parameters as `Tensor`)."""
        return self._latest or self.script(self._latest_types)

    def generic_graph(self, types):
        return self.script(tuple(generic_type(t) for t in types))

    def saved_graphs(self) -> list[Graph]:
        latest = self._latest
        for types in self._specializations:  # versions whose optimised graph came from the cache
            self.generic_graph(types)
        self._latest = latest
        return list(self._graphs.values()) or [self.graph]


def _static_values(types: Sequence[Type], names) -> dict[str, Any]:
    """{parameter name: value} of the `SpecializedValue`s of a signature."""
    return {name: type.value for type, name in zip(types, names) if isinstance(type, SpecializedValue)}
