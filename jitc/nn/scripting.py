"""How `jitc.script` and `jitc.trace` see a `Module`: as its `forward`,
whose `self` is known while compiling, so that every array of the module
tree becomes a tensor constant of the graph. The constants are named by
their paths (`fc1.weight`, `blocks.0.3`), as `state_dict()` names them,
in the graph's text and in saved files.

The values are those the module holds when its graph is built (on the
first call): like `torch.jit.freeze`, a compiled module does not see
later changes to its parameters; script it again after `load_state_dict`.
"""
from __future__ import annotations

from ..function import ScriptFunction
from ..ir.attributes import TensorRef
from ..ir.graph import Graph
from .module import Module, exported_method_names


def parameter_paths(module: Module) -> dict[int, str]:
    """{id(array): path} for every parameter of `module`."""
    return {id(array): path for path, array in module.named_parameters()}


def name_tensors(graph: Graph, paths: dict[int, str]) -> None:
    """Rename the tensor constants of `graph` that are parameters to their
    paths; the others keep their names, made unique if a path took them."""
    parameters = {key: paths[id(array)] for key, array in graph.tensors.items() if id(array) in paths}
    if not parameters:
        return
    tensors = graph.tensors
    graph.tensors = {path: tensors[key] for key, path in parameters.items()}
    renamed = dict(parameters)
    for key, array in tensors.items():
        if key not in parameters:
            renamed[key] = graph.unique_tensor_name(key)
            graph.tensors[renamed[key]] = array
    for node in graph.walk():
        reference = node.attributes.get("value") if node.kind == "prim::Constant" else None
        if isinstance(reference, TensorRef) and reference.name in renamed:
            node.attributes["value"] = TensorRef(renamed[reference.name])
            if reference.name in parameters:
                node.output.name = parameters[reference.name]


class ScriptMethod(ScriptFunction):
    """One method of a module compiled by `jitc.script(module)`, with
    `self` bound: the module's arrays are constants named by their paths."""

    def __init__(self, module: Module, name: str, **options):
        super().__init__(getattr(module, name), **options)
        self.module = module

    def script(self, generic_types):
        new = generic_types not in self._graphs
        graph = super().script(generic_types)
        if new:
            name_tensors(graph, parameter_paths(self.module))
        return graph


class ScriptModule(ScriptMethod):
    """A module compiled by `jitc.script(module)`: called like the module,
    it runs the compiled `forward`; each method marked `@jitc.export` is
    compiled too and called by its name (`scripted.encode(x)`). `methods`
    maps every compiled method's name, `forward` first, to its callable."""

    def __init__(self, module: Module, **options):
        super().__init__(module, "forward", **options)
        self.__name__ = type(module).__name__
        self.methods: dict[str, ScriptFunction] = {"forward": self}
        for name in exported_method_names(type(module)):
            if hasattr(ScriptModule, name) or name in vars(self):
                raise ValueError(f"{self.__name__}.{name} is marked @jitc.export, but a scripted module has "
                                 f"an attribute '{name}' of its own: rename the method")
            self.methods[name] = ScriptMethod(module, name, **options)

    @property
    def forward(self) -> "ScriptModule":
        return self

    def __getattr__(self, name: str):
        methods = self.__dict__.get("methods", {})
        if name in methods:
            return methods[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'"
                             + (" (only methods marked @jitc.export are compiled)"
                                if callable(getattr(self.__dict__.get("module"), name, None)) else ""))

    def __repr__(self) -> str:
        exported = f": {', '.join(self.methods)}" if len(self.methods) > 1 else ""
        return f"<ScriptModule {self.__name__} ({self.backend}){exported}>"


class LoadedModule:
    """A module read back by `jitc.load`: called, it runs `forward`; each
    saved method is an attribute (`loaded.encode(x)`) and in `methods`.
    `graph`, `code`, `signature`, `graph_for` and `compile_stats` are
    forward's, as on a ScriptModule."""

    def __init__(self, name: str, methods: dict):
        self.__name__ = name
        self.methods = dict(methods)

    def __call__(self, *args, **kwargs):
        return self.methods["forward"](*args, **kwargs)

    def __getattr__(self, name: str):
        methods = self.__dict__.get("methods", {})
        if name in methods:
            return methods[name]
        raise AttributeError(f"loaded module {self.__dict__.get('__name__')} has no method '{name}' "
                             f"(it has {', '.join(methods)})")

    graph = property(lambda self: self.forward.graph)
    code = property(lambda self: self.forward.code)
    signature = property(lambda self: self.forward.signature)
    output_arity = property(lambda self: self.forward.output_arity)

    def graph_for(self, *args, **kwargs):
        return self.forward.graph_for(*args, **kwargs)

    def compile_stats(self) -> list[dict]:
        return self.forward.compile_stats()

    def __repr__(self) -> str:
        return f"<LoadedModule {self.__name__}: {', '.join(self.methods)}>"


__all__ = ["LoadedModule", "ScriptMethod", "ScriptModule", "name_tensors", "parameter_paths"]
