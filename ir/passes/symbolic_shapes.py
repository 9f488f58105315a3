"""Shapes as expressions of the parameters' dims, for byte counts that hold
for every size: a copy of the graph is typed with each parameter dim a
graph leaves as `*` named after it (`%x[0]`), and each `*` a type rule
gives named after the first value that has it (`%y[1]`).
"""
from __future__ import annotations

import math

from ..graph import Block, Graph, Node, Value
from ..ops import constant_value, infer_node_types
from ..types import ANY_DIM, TensorType
from .byte_counts import dim_factors, product_dim
from .propagate_types import _propagate_node  # retypes one node (its blocks, for control flow)


def symbolic_shapes(graph: Graph, names: dict[Value, str]) -> dict[Value, tuple]:
    """Every node output's shape, with the dims the graph leaves as `*` named:
    after the parameters' dims (`%x[0]`) where the type rules carry those
    through a copy of the graph, else after the first value that has the dim
    (`%y[1]`), so that values of one shape get one size."""
    copy = graph.copy()
    twins = dict(zip(all_values(copy), all_values(graph)))
    for param in copy.params:
        if isinstance(param.type, TensorType) and param.type.shape is not None:
            param.type = param.type.with_shape(_named(param.type.shape, names[twins[param]]))
    try:
        _name_dims(copy.block, twins, names)
    except Exception:  # the names only make the plan read better: on any trouble, keep the graph's own dims
        copy, twins = graph, {value: value for value in twins.values()}
    shapes = {}
    for node in copy.walk():
        for twin in node.outputs:
            value = twins[twin]
            if not isinstance(value.type, TensorType):
                continue
            if value.type.shape is None:  # of unknown rank: one symbol for its number of elements
                shapes[value] = (size_symbol(names[value]),)
            else:
                known = value.type.shape
                if isinstance(twin.type, TensorType) and twin.type.rank == len(known):
                    known = tuple(d if d != ANY_DIM else t for d, t in zip(known, twin.type.shape))
                shapes[value] = _named(known, names[value])
    return shapes


def _reshaped(node: Node, type: TensorType) -> TensorType:
    """`reshape(x, ..., -1, ...)`: the -1 dim is x's elements over the other
    target dims, a product of x's dims (`4*%x[0]*%x[1]`) when they divide it."""
    sizes = [constant_value(value) for value in node.inputs[1:]]
    shape, x = type.shape, node.inputs[0].type
    if (shape is None or sizes.count(-1) != 1 or not all(isinstance(s, int) and s != 0 for s in sizes)
            or not isinstance(x, TensorType) or x.shape is None or ANY_DIM in x.shape):
        return type
    factor, symbols = 1, []
    for dim in x.shape:
        dim_factor, dim_symbols = dim_factors(dim)
        factor, symbols = factor * dim_factor, symbols + dim_symbols
    others = math.prod(s for s in sizes if s != -1)
    if factor % others:
        return type
    axis = sizes.index(-1)
    return type.with_shape(product_dim(factor // others, symbols) if i == axis else d for i, d in enumerate(shape))


def _name_dims(block: Block, twins: dict, names: dict) -> None:
    """Retype `block`'s nodes in order, naming each `*` dim as it appears."""
    for node in block.nodes:
        if node.blocks:
            _propagate_node(node)
        else:
            for output, type in zip(node.outputs, infer_node_types(node)):
                output.type = _reshaped(node, type) if node.kind == "np::reshape" else type
        for output in node.outputs:
            if isinstance(output.type, TensorType) and output.type.rank is not None:
                output.type = output.type.with_shape(_named(output.type.shape, names[twins[output]]))


def _named(shape: tuple, name: str) -> tuple:
    return tuple(dim_symbol(name, axis) if dim == ANY_DIM else dim for axis, dim in enumerate(shape))


def dim_symbol(name: str, axis: int) -> str:
    """The symbol for the size along `axis` of the value printed as `name` (`%x[0]`)."""
    return f"{name}[{axis}]"


def size_symbol(name: str) -> str:
    """The symbol for the number of elements of a value of unknown rank."""
    return f"{name}.size"


def all_values(graph: Graph) -> list[Value]:
    values = list(graph.params)
    for node in graph.walk():
        values += node.outputs
        for block in node.blocks:
            values += block.params
    return values
