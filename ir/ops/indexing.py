"""NumPy's advanced indexing and subscript assignment, as two pure ops:

- `np::index`: `x[ids]` (a gather by int ids of any shape), `x[mask]` (a
  boolean mask: the result's length depends on the data), either mixed
  with ints, slices, None and `...`, as in `x[:, ids]` or `x[0, mask]`;
- `np::index_put`: `x[index] = value` as a new array (x itself is left
  alone), for every kind of index; the value is broadcast to the indexed
  region and cast to x's dtype as NumPy's setitem does (unsafely).

An index is described statically by the attribute `items`, one word per item
of the index tuple: "int", "slice", "none", "..." or "array" (int ids or a
boolean mask: its dtype says which, as in NumPy). The inputs after `x` (and
`value`) are the items' run-time parts in order: one for "int" and "array";
start, stop and step for "slice"; none for "none" and "...".

Indexes of ints, slices, None and ... alone read through np::select and
np::slice views; `index_plan` maps any index onto x's axes once, for the
type rules here and for the backends.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..types import ANY_DIM, INT, NONE, DType, TensorType
from .arrays import slice_length
from .registry import REQUIRED, UNKNOWN, Group, OpDef, register
from .rules import array_like_input, broadcast_shapes, format_shape, tensor_input

PART_COUNTS = {"int": 1, "slice": 3, "none": 0, "...": 0, "array": 1}


@dataclass(frozen=True)
class Step:
    """What one index item does to x: `kind` is "int", "slice", "full" (a
    `:` that `...` or the end of the index stands for), "none", "ids" or
    "mask"; it reads `width` axes of x from `axis` on (a mask its rank, None
    none); `item` is its position in the index (for "full", that of the
    `...` it stands for, or the index's length after its end)."""

    kind: str
    item: int
    axis: int
    width: int


@dataclass(frozen=True)
class IndexPlan:
    """The steps of an index over x's axes, in order. With arrays in the
    index, ints count as 0-d ids (NumPy's rule), and the broadcast shape of
    all of them goes into the result at `block`, counted in the dims the
    basic steps give: where the first of them stands when they are next to
    each other in the index, else first of all. `block` is None without arrays."""

    steps: tuple[Step, ...]
    block: int | None

    def is_advanced(self, step: Step) -> bool:
        return step.kind in ("ids", "mask") or (step.kind == "int" and self.block is not None)


def group_parts(items: Sequence[str], parts: Sequence) -> list[tuple]:
    """The parts of each item, in the order of `items`."""
    groups, position = [], 0
    for item in items:
        groups.append(tuple(parts[position:position + PART_COUNTS[item]]))
        position += PART_COUNTS[item]
    return groups


def check_items(items, part_count: int) -> str | None:
    """Why `items` cannot describe an index with `part_count` parts, or None."""
    if not isinstance(items, tuple) or not all(item in PART_COUNTS for item in items):
        return f"items must be a tuple of {', '.join(map(repr, PART_COUNTS))}, got {items!r}"
    if items.count("...") > 1:
        return "an index can only have a single ellipsis ('...')"
    expected = sum(PART_COUNTS[item] for item in items)
    if part_count != expected:
        return f"the index {items} takes {expected} part(s), got {part_count}"
    return None


def index_plan(items: Sequence[str], rank: int, masks: Sequence[int | None]) -> IndexPlan:
    """Map `items` onto the axes of a rank-`rank` array; `masks` holds, per
    "array" item, the rank of a boolean mask or None for int ids.
    Raises ValueError for more indices than axes (IndexError in NumPy)."""
    masks = iter(masks)
    kinds = [(item, next(masks) if item == "array" else None) for item in items]
    widths = [mask_rank if item == "array" and mask_rank is not None else int(item in ("int", "slice", "array"))
              for item, mask_rank in kinds]
    if sum(widths) > rank:
        raise ValueError(f"too many indices for array: array is {rank}-dimensional, but {sum(widths)} were indexed")
    steps, axis = [], 0
    for position, ((item, mask_rank), width) in enumerate(zip(kinds, widths)):
        if item == "...":
            steps.extend(Step("full", position, axis + i, 1) for i in range(rank - sum(widths)))
            axis += rank - sum(widths)
            continue
        kind = "mask" if mask_rank is not None else "ids" if item == "array" else item
        steps.append(Step(kind, position, axis, width))
        axis += width
    steps.extend(Step("full", len(items), a, 1) for a in range(axis, rank))
    block = None
    if any(item == "array" for item in items):
        positions = [i for i, item in enumerate(items) if item in ("int", "array")]
        adjacent = positions == list(range(positions[0], positions[-1] + 1))
        before = [s for s in steps if s.item < positions[0] and s.kind in ("slice", "full", "none")]
        block = len(before) if adjacent else 0
    return IndexPlan(tuple(steps), block)


def numpy_index(items: Sequence[str], parts: Sequence) -> tuple:
    """The Python index tuple that `items` and `parts` stand for."""
    index = []
    for item, group in zip(items, group_parts(items, parts)):
        if item == "slice":
            index.append(slice(*group))
        elif item in ("int", "array"):
            index.append(group[0] if item == "int" else np.asarray(group[0]))
        else:
            index.append(None if item == "none" else Ellipsis)
    return tuple(index)


def item_code(items: Sequence[str], parts: Sequence[str]) -> str:
    """`0, 1:-1, ids, None` for the `.code` view."""
    texts = []
    for item, group in zip(items, group_parts(items, parts)):
        if item == "slice":
            start, stop, step = ("" if bound == "None" else bound for bound in group)
            texts.append(f"{start}:{stop}" + (f":{step}" if step else ""))
        else:
            texts.append(group[0] if group else {"none": "None", "...": "..."}[item])
    return ", ".join(texts) if texts else "()"


# -- type rules -------------------------------------------------------------------------------------
def _groups(context, first: int) -> list[list[int]]:
    """The input positions of each item's parts (the parts start at input
    `first`), after checking the items against their count."""
    items = context.attributes["items"]
    problem = check_items(items, len(context.input_types) - first)
    if problem:
        raise context.error(problem)
    return group_parts(items, range(first, len(context.input_types)))


def _mask_ranks(context, groups) -> list | None:
    """Per "array" item, the rank of a boolean mask or None for int ids;
    None when a dtype or rank is not known yet. Checks every part's type."""
    masks, known = [], True
    for item, where in zip(context.attributes["items"], groups):
        types = [context.input_types[p] for p in where]
        if item == "int" and types[0] != INT:  # x[True] adds an axis in NumPy: not an int
            raise context.error(f"an int index must be an int, got {types[0]}")
        if item == "slice" and any(t not in (INT, NONE) for t in types):
            raise context.error(f"slice bounds must be int or None, got {', '.join(map(str, types))}")
        if item == "slice" and context.constants[where[2]] == 0:
            raise context.error("slice step cannot be zero")
        if item != "array":
            continue
        array = types[0]
        if not isinstance(array, TensorType):
            raise context.error(f"an array index must be an array, got {array}")
        if array.dtype is not None and not (array.dtype == DType.BOOL or array.dtype.is_integer):
            raise context.error("arrays used as indices must be of integer (or boolean) type")
        if array.dtype is None or array.shape is None:
            known = False
        elif array.dtype == DType.BOOL:
            if not array.shape:
                raise context.error("0-d boolean indexes are not supported: use x[None] or np.where")
            masks.append(len(array.shape))
        else:
            masks.append(None)
    return masks if known else None


def indexed_shape(context, x: TensorType, first: int) -> tuple | None:
    """The shape of x[index] for a node whose index parts start at input
    `first`; None while x's rank or an array's dtype or rank is unknown."""
    groups = _groups(context, first)
    masks = _mask_ranks(context, groups)
    if x.shape is None or masks is None:
        return None
    try:
        plan = index_plan(context.attributes["items"], len(x.shape), masks)
    except ValueError as error:
        raise context.error(str(error)) from None
    basic, advanced = [], []
    for step in plan.steps:
        size = x.shape[step.axis] if step.width else 1
        where = groups[step.item] if step.kind in ("int", "slice", "ids", "mask") else []
        if step.kind in ("full", "none"):
            basic.append(size)
        elif step.kind == "slice":
            basic.append(slice_length(size, *(context.constants[p] for p in where)))
        elif step.kind == "int":
            index = context.constants[where[0]]
            if index is not UNKNOWN and isinstance(size, int) and not -size <= index < size:
                raise context.error(f"index {index} is out of bounds for axis {step.axis} with size {size}")
            if plan.is_advanced(step):
                advanced.append(())
        elif step.kind == "ids":
            advanced.append(context.input_types[where[0]].shape)
        else:
            mask = context.input_types[where[0]].shape
            for axis, dim, mask_dim in zip(range(step.axis, step.axis + step.width), x.shape[step.axis:], mask):
                if isinstance(dim, int) and isinstance(mask_dim, int) and dim != mask_dim:
                    raise context.error(f"boolean index did not match indexed array along axis {axis}; size of "
                                        f"axis is {dim} but size of corresponding boolean axis is {mask_dim}")
            advanced.append((ANY_DIM,))
    if plan.block is None:
        return tuple(basic)
    try:
        block = broadcast_shapes(*advanced)
    except Exception:
        raise context.error("shape mismatch: indexing arrays could not be broadcast together with shapes "
                            + " ".join(format_shape(s) for s in advanced)) from None
    return tuple(basic[:plan.block]) + block + tuple(basic[plan.block:])


def _index_infer(context):
    x = tensor_input(context, 0)
    return [x.with_shape(indexed_shape(context, x, 1))]


def _index_reference(x, *parts, items):
    return x[numpy_index(items, parts)]


register(OpDef(
    name="np::index", group=Group.INDEX, inputs=("x", "*parts"), attributes={"items": REQUIRED},
    infer=_index_infer, reference=_index_reference,
    code=lambda inputs, attributes: f"{inputs[0]}[{item_code(attributes['items'], inputs[1:])}]",
    doc="x[index] where the index holds int arrays (a gather) or boolean masks, with ints, slices, "
        "None and ...; `items` names each item (see ir/ops/indexing.py)",
))


def is_whole_mask(items, masks, rank: int) -> bool:
    """x[mask] with one mask over all of x's axes: NumPy's setitem then takes
    only a 0-d or 1-d value, one element per true entry or one for all."""
    return tuple(items) == ("array",) and masks[0] == rank


def _check_value_fits(context, value: TensorType, region: tuple, whole_mask: bool) -> None:
    """NumPy's setitem broadcasting: the value's shape, leading 1s dropped,
    must broadcast to the indexed region's shape without growing."""
    if value.shape is None:
        return
    if whole_mask and len(value.shape) > 1:
        raise context.error("NumPy boolean array indexing assignment requires a 0 or 1-dimensional input, "
                            f"input has {len(value.shape)} dimensions")
    extra = len(value.shape) - len(region)
    pairs = list(zip(value.shape[max(extra, 0):], region[max(-extra, 0):]))
    if any(d != 1 and isinstance(d, int) for d in value.shape[:max(extra, 0)]) or any(
            isinstance(v, int) and isinstance(r, int) and v not in (1, r) for v, r in pairs):
        raise context.error(f"could not broadcast input array from shape {format_shape(value.shape)} "
                            f"into shape {format_shape(region)}")


def _index_put_infer(context):
    x = tensor_input(context, 0)
    value = array_like_input(context, 1)
    region = indexed_shape(context, x, 2)
    items = context.attributes["items"]
    if all(item == "int" for item in items) and len(items) == len(x.shape or ()) and value.shape \
            and x.dtype not in (None, DType.BOOL):  # one element takes a scalar (a bool: anything with a truth)
        raise context.error("setting an array element with a sequence.")
    if region is not None:
        masks = _mask_ranks(context, _groups(context, 2))
        _check_value_fits(context, value, region, is_whole_mask(context.attributes["items"], masks, len(x.shape)))
    return [x]


def _index_put_reference(x, value, *parts, items):
    result = np.array(x, copy=True)
    result[numpy_index(items, parts)] = value
    return result


def _index_put_code(inputs, attributes) -> str:
    return f"{inputs[0]}.at[{item_code(attributes['items'], inputs[2:])}].set({inputs[1]})"


register(OpDef(
    name="np::index_put", group=Group.INDEX, inputs=("x", "value", "*parts"), attributes={"items": REQUIRED},
    infer=_index_put_infer, reference=_index_put_reference, code=_index_put_code,
    doc="a copy of x with x[index] = value (NumPy's broadcasting and unsafe cast; the last of "
        "repeated ids wins); the index as in np::index",
))
