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
from .module import Module


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


class ScriptModule(ScriptFunction):
    """A module compiled by `jitc.script(module)`: called like the module,
    it runs the compiled `forward`."""

    def __init__(self, module: Module, **options):
        super().__init__(module.forward, **options)
        self.module = module
        self.__name__ = type(module).__name__

    def script(self, generic_types):
        new = generic_types not in self._graphs
        graph = super().script(generic_types)
        if new:
            name_tensors(graph, parameter_paths(self.module))
        return graph

    def __repr__(self) -> str:
        return f"<ScriptModule {self.__name__} ({self.backend})>"


__all__ = ["ScriptModule", "name_tensors", "parameter_paths"]
