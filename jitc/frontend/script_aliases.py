"""Which array each variable of a scripted function is, so that writing
into an array behaves as in NumPy while the IR stays functional.

The IR has no in-place ops: `x[i] = v` becomes a new value
`x' = setitem(x, i, v)`. What NumPy code sees as one array object is, in
the scripter, a *storage*: the IR values that are its successive contents.
A value is either the whole of a storage (its *root*) or a view of one,
reached from the root by view ops (`chain`): slices, int indices that keep
an axis, `None`, transposes, squeezes. Writing through a variable

1. computes the view's new contents with the functional setitem,
2. writes them back along the chain to a new root of the same storage,
3. rebinds every variable that holds the storage or a view of it, by
   replaying its chain on the new root (so `y = x[1:]; y[0] = 5` changes
   `x`, and `b = a; b += 1` changes `a`).

Where the scripter cannot tell which array a value is, a write is a
ScriptError rather than a silent difference from NumPy: a value that
branches or loop iterations give from different arrays (a *merged*
storage, which may be any of them) while another of those arrays is still
read; an array taken out of a list or tuple; a reshape (a view in NumPy
only when the array is contiguous); an array that was put into a list or
tuple and would have to change there too; a tensor constant (a global or
a module attribute).
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Container, Iterator

import numpy as np

from ..errors import FrontendError
from ..ir.graph import Graph, Node, Value
from ..ir.ops import UNKNOWN, get_op
from ..ir.types import TensorType

VIEW_OPS = frozenset({"np::slice", "np::select", "np::expand_dims", "np::squeeze", "np::transpose"})
# Views in NumPy that cannot be written through here: a reshape is a view only of a
# contiguous array, and broadcast_to gives a read-only view.
OPAQUE_VIEW_OPS = frozenset({"np::reshape", "np::broadcast_to"})
ELEMENT_OPS = frozenset({"prim::ListIndex", "prim::TupleIndex", "prim::TupleUnpack", "prim::ListUnpack"})
CONTAINER_OPS = frozenset({"prim::ListConstruct", "prim::ListAppend", "prim::ListAdd", "prim::ListSet",
                           "prim::TupleConstruct"})


@dataclass(eq=False)
class Storage:
    """One array object of the running program. `kind`: "parameter",
    "local", "constant", "element" (taken out of a list or tuple) or
    "merged" (one of `maybe`, decided by control flow at `origin`)."""

    kind: str
    label: str
    maybe: frozenset = frozenset()
    origin: str = ""

    def may_be(self, other: "Storage") -> bool:
        """True when the two may be the same array without being surely so."""
        return self is not other and (other in self.maybe or self in other.maybe
                                      or bool(self.maybe & other.maybe))


def is_view_step(node: Node | None) -> bool:
    """True when `node`'s output is a view of its first input in NumPy."""
    if node is None or node.kind not in VIEW_OPS | OPAQUE_VIEW_OPS:
        return False
    if node.kind == "np::select":  # x[i] of a 1-d array is a NumPy scalar: a copy
        shape = getattr(node.output.type, "shape", None)
        return shape is None or len(shape) > 0
    return True


def chain(value: Value, roots: Container[Value] = ()) -> tuple[Value, list[Node]]:
    """(root, view nodes from the root to `value`, outermost first); a
    value in `roots` is a root even when a view op made it."""
    steps = []
    while value not in roots and is_view_step(value.producer):
        steps.append(value.producer)
        value = value.producer.inputs[0]
    return value, steps[::-1]


def is_array(value: Any) -> bool:
    return isinstance(value, Value) and isinstance(value.type, TensorType)


def arrays_in(value: Any) -> Iterator[Value]:
    """The array values in a frontend value (through Python tuples)."""
    if is_array(value):
        yield value
    elif isinstance(value, tuple):
        for item in value:
            yield from arrays_in(item)


def replace_arrays(value: Any, replace: Callable[[Value], Value]) -> Any:
    """`value` with each array replaced; `value` itself when none changes."""
    if is_array(value):
        return replace(value)
    if isinstance(value, tuple):
        items = tuple(replace_arrays(item, replace) for item in value)
        return value if all(a is b for a, b in zip(items, value)) else items
    return value


class StorageTable:
    """The storage of every root value of one graph (shared by the
    functions inlined into it); computed on first use, or set by the loop
    compiler for the values it classifies."""

    def __init__(self):
        self.storages: dict[Value, Storage] = {}
        self.decisions = 0  # how many compile-time choices depended on storages

    def of(self, root: Value) -> Storage | None:
        """The storage `root` is the whole of; None for prim::Uninitialized."""
        found = self.storages.get(root)
        if found is None:
            found = self.storages[root] = self._classify(root, set())
        return found

    def chain(self, value: Value) -> tuple[Value, list[Node]]:
        return chain(value, self.storages)

    def of_value(self, value: Value) -> Storage | None:
        return self.of(self.chain(value)[0])

    def _merge(self, values, label, origin, visiting) -> Storage | None:
        """The storage of a value that is one of `values` (an if's branches,
        a loop's entry and iteration): theirs when all are the whole of the
        same storage, else a merged storage."""
        storages, whole = set(), True
        for value in values:
            if not is_array(value):
                continue
            root, steps = self.chain(value)
            storage = self.storages.get(root) or self._classify(root, visiting)
            if storage is None:
                continue
            storages.add(storage)
            whole = whole and not steps
        if not storages:
            return None
        if whole and len(storages) == 1:
            return next(iter(storages))
        maybe = frozenset(storages).union(*(s.maybe for s in storages))
        return Storage("merged", label, maybe, origin)

    def _classify(self, root: Value, visiting: set) -> Storage | None:
        node = root.producer
        label = root.name or "an array"
        if root in visiting:
            return None
        visiting = visiting | {root}
        if node is None:
            block = root.owner
            loop = getattr(block, "owner", None)
            if isinstance(loop, Node) and loop.kind == "prim::Loop":
                index = block.params.index(root) - 1
                leaving = block.returns[1 + index:2 + index]  # none while the body is being compiled
                storage = self._merge([loop.inputs[2 + index], *leaving], label, _where(loop), visiting)
            else:
                storage = Storage("parameter", label)
            return storage
        if node.kind == "prim::Uninitialized":
            return None
        if node.kind == "prim::Constant":
            return Storage("constant", label)
        if node.kind in ELEMENT_OPS:
            return Storage("element", label)
        if node.kind in ("prim::If", "prim::Loop"):
            index = node.outputs.index(root)
            if node.kind == "prim::If":
                incoming = [block.returns[index] for block in node.blocks]
            else:
                incoming = [node.inputs[2 + index], node.blocks[0].returns[1 + index]]
            return self._merge(incoming, label, _where(node), visiting)
        return Storage("local", label)


_TABLES: "weakref.WeakKeyDictionary[Graph, StorageTable]" = weakref.WeakKeyDictionary()


def storage_table(graph: Graph) -> StorageTable:
    table = _TABLES.get(graph)
    if table is None:
        table = _TABLES[graph] = StorageTable()
    return table


def _where(node: Node) -> str:
    return f"at line {node.source.line}" if node.source is not None else ""


@dataclass
class Holder:
    """A variable that holds (a view of) a storage."""

    name: str
    root: Value
    steps: list[Node] = field(default_factory=list)


def holders(variables: dict[str, Any], table: StorageTable) -> Iterator[tuple[Holder, Storage]]:
    for name, value in variables.items():
        for array in arrays_in(value):
            root, steps = table.chain(array)
            storage = table.of(root)
            if storage is not None:
                yield Holder(name, root, steps), storage


def stored_in_container(root: Value) -> Node | None:
    """A list or tuple node that holds `root` or a view of it."""
    pending = [root]
    while pending:
        value = pending.pop()
        for use in value.uses:
            user = use.user
            if not isinstance(user, Node):
                continue
            if user.kind in CONTAINER_OPS:
                return user
            if is_view_step(user) and use.index == 0:
                pending.append(user.output)
    return None


def writable_error(storage: Storage, name: str, steps: list[Node]) -> str | None:
    """Why writing into `name` (a view of `storage` through `steps`) is not
    supported, or None when it is."""
    opaque = next((step for step in steps if step.kind in OPAQUE_VIEW_OPS), None)
    if opaque is not None:
        what = opaque.kind.split("::")[1]
        return (f"'{name}' is made by {what} (line {opaque.source.line if opaque.source else '?'}), which "
                f"NumPy makes a view only sometimes (reshape: of a contiguous array) or read-only "
                f"(broadcast_to); jitc cannot write through it. Write into the array it comes from, "
                f"or make a copy with .copy() first")
    if storage.kind == "constant":
        return (f"'{name}' is (a view of) an array jitc compiles as a constant (a global or a module "
                f"attribute); writing into it would change it for every later call. Copy it first: "
                f"{name} = {name}.copy()")
    if storage.kind == "element":
        return (f"'{name}' is an array taken out of a list or tuple; jitc cannot tell which array that "
                f"is, so it cannot write into it. Copy it first ({name} = {name}.copy()) or write "
                f"into the array before putting it into the list")
    return None


def ambiguity_error(name: str, other: str, storage: Storage, other_storage: Storage) -> str:
    merged = storage if storage.kind == "merged" else other_storage
    where = f" (the control flow {merged.origin} decides)" if merged.origin else ""
    return (f"'{name}' and '{other}' may or may not be the same array here{where}, so jitc cannot tell "
            f"whether writing into '{name}' changes '{other}'. Make one of them a copy (.copy()) "
            f"before the branch or loop")


# -- writing ---------------------------------------------------------------------------------------
def replay(builder, steps: list[Node], root: Value) -> Value:
    """The view `steps` make of `root` (they were made of an older root)."""
    value = root
    for node in steps:
        value = builder.op_multi(node.kind, [value, *node.inputs[1:]], dict(node.attributes))[0]
    return value


def write_back(builder, steps: list[Node], contents: Value, setitem: Callable) -> Value:
    """The new root when the view at the end of `steps` takes `contents`."""
    for node in reversed(steps):
        contents = _write_step(builder, node, node.inputs[0], contents, setitem)
    return contents


def _write_step(builder, node: Node, parent: Value, contents: Value, setitem: Callable) -> Value:
    kind, attributes = node.kind, get_op(node.kind).bind_attributes(node.attributes)
    if kind == "np::slice":
        start, stop, step = (_static(builder, value) for value in node.inputs[1:])
        return setitem(parent, _along(attributes["axis"], slice(start, stop, step)), contents)
    if kind == "np::select":
        return setitem(parent, _along(attributes["axis"], _static(builder, node.inputs[1])), contents)
    if kind == "np::expand_dims":
        return builder.op("np::squeeze", contents, axis=attributes["axis"])
    if kind == "np::transpose":
        axes = attributes["axes"]
        if axes is not None:
            rank = len(axes)
            axes = tuple(int(a) for a in np.argsort([a % rank for a in axes]))
        return builder.op("np::transpose", contents, axes=axes)
    if kind == "np::squeeze":
        rank = len(parent.type.shape)
        return builder.op("np::reshape", contents, *(builder.op("np::dim", parent, axis=i) for i in range(rank)))
    raise AssertionError(f"no write-back through {kind}")


def _static(builder, value: Value) -> Any:
    constant = builder.constant_of(value)
    return value if constant is UNKNOWN else constant


def _along(axis: int, item: Any) -> tuple:
    if axis >= 0:
        return (slice(None),) * axis + (item,)
    return (Ellipsis, item) + (slice(None),) * (-axis - 1)


class ArrayWrites:
    """Writes into arrays for one function's variables (`context`), with
    `setitem(x, index, value) -> x'` the functional setitem."""

    def __init__(self, context, setitem: Callable[[Value, Any, Any], Value]):
        self.context = context
        self.builder = context.builder
        self.table = storage_table(self.builder.graph)
        self.setitem = setitem

    def write(self, name: str, view: Value, index: Any, value: Any, live: set[str]) -> None:
        """`view[index] = value`, where `view` is variable `name` or an
        index of it, and every variable holding that array sees it."""
        self.table.decisions += 1
        view = self.rebase(view)
        root, steps = self.table.chain(view)
        storage = self.table.of(root)
        problem = writable_error(storage, name, steps)
        if problem is not None:
            raise FrontendError(problem)
        self.check_others(name, storage, live)
        container = stored_in_container(root)
        if container is not None:
            line = f" at line {container.source.line}" if container.source is not None else ""
            raise FrontendError(f"'{name}' was put into a list or tuple{line}, where NumPy would hold the "
                                f"same array and see this write; jitc's lists hold values. Write into "
                                f"'{name}' before putting it into the list, or put a copy in (.copy())")
        contents = self.setitem(view, index, value)
        self.replace(storage, write_back(self.builder, steps, contents, self.setitem))

    def check_others(self, name: str, storage: Storage, live: set[str]) -> None:
        """Raise when a variable still read later may or may not be the
        array being written, or is a reshape of it."""
        for holder, other in holders(self.context.variables, self.table):
            if holder.name == name or not (holder.name in live or is_hidden(holder.name)):
                continue
            if other is storage and any(step.kind in OPAQUE_VIEW_OPS for step in holder.steps):
                raise FrontendError(f"'{holder.name}' is a reshape or broadcast of the array written "
                                    f"through '{name}': NumPy makes that a view only sometimes, so jitc "
                                    f"cannot tell whether '{holder.name}' changes. Take it after the "
                                    f"write, or copy it (.copy())")
            if storage.may_be(other):
                raise FrontendError(ambiguity_error(name, display(holder.name), storage, other))

    def replace(self, storage: Storage, root: Value) -> None:
        """`root` is now the contents of `storage`: rebind its holders."""
        self.table.storages[root] = storage

        def rederive(array: Value) -> Value:
            old_root, steps = self.table.chain(array)
            return replay(self.builder, steps, root) if self.table.of(old_root) is storage else array

        for name, value in list(self.context.variables.items()):
            new = replace_arrays(value, rederive)
            if new is not value:
                self.context.bind(name, new)

    def write_from_call(self, array: Value) -> None:
        """An inlined function wrote into an array this function passed it:
        `array` is the argument as the callee left it."""
        root = self.table.chain(array)[0]
        storage = self.table.of(root)
        self.check_others("", storage, self.context.live)
        self.replace(storage, root)

    def rebase(self, value: Any) -> Any:
        """`value` with each array in it made from the latest contents of
        its array: a view made before the array changed (an element of a
        tuple, an item of a loop's sequence taken from the array as it
        entered the loop) reads and writes what is there now."""
        latest: dict[Storage, Value] = {}
        for holder, storage in holders(self.context.variables, self.table):
            if storage not in latest or _depth(holder.root) > _depth(latest[storage]):
                latest[storage] = holder.root

        def move(array: Value) -> Value:
            root, steps = self.table.chain(array)
            now = latest.get(self.table.of(root))
            return array if now is None or now is root else replay(self.builder, steps, now)
        return replace_arrays(value, move)

    def views_to_remake(self, names: list[str], merged: list) -> dict[str, tuple[Any, list[Node]]]:
        """Of the variables an if merges (`merged[i]` for `names[i]`), those
        that both branches leave as the same view of one array whose whole
        is known after the if: {name: (the variable holding the whole, or
        the root both branches keep; the view's steps)}. Made again from
        it, they stay views of that array, so later writes reach them."""
        wholes: dict[Storage, Any] = {}
        candidates = {}
        for name, item in zip(names, merged):
            pair = (item.then_value, item.else_value)
            if not all(is_array(value) for value in pair):
                continue
            (root, steps), (other_root, other_steps) = (self.table.chain(value) for value in pair)
            storage = self.table.of(root)
            if storage is None or storage is not self.table.of(other_root):
                continue
            if not steps and not other_steps:
                wholes.setdefault(storage, name)
            elif _same_steps(steps, other_steps):
                candidates[name] = (storage, root if root is other_root else None, steps)
        remade = {}
        for name, (storage, common_root, steps) in candidates.items():
            source = wholes.get(storage, common_root)
            if source is not None:
                remade[name] = (source, steps)
        return remade

    def is_exclusive(self, name: str, value: Value, live: set[str]) -> bool:
        """True when `value`, bound to `name`, is a whole array no other
        variable read later holds and no list holds: rebinding `name` is
        then the same as writing into it."""
        self.table.decisions += 1
        root, steps = self.table.chain(value)
        storage = self.table.of(root)
        if steps or storage is None or storage.kind not in ("local", "merged") or stored_in_container(root):
            return False
        for holder, other in holders(self.context.variables, self.table):
            if holder.name != name and (holder.name in live or is_hidden(holder.name)) and (
                    other is storage or storage.may_be(other)):
                return False
        return True


def _same_steps(first: list[Node], second: list[Node]) -> bool:
    """True when two chains of view ops index alike (the same ops, attributes and index values)."""
    return len(first) == len(second) and all(
        a.kind == b.kind and a.attributes == b.attributes and len(a.inputs) == len(b.inputs)
        and all(x is y for x, y in zip(a.inputs[1:], b.inputs[1:])) for a, b in zip(first, second))


def _depth(value: Value) -> int:
    """How many blocks enclose where `value` is made: a loop's parameter is
    newer than what entered the loop."""
    depth, block = 0, value.owner if value.producer is None else value.producer.block
    while block is not None and isinstance(block.owner, Node):
        depth += 1
        block = block.owner.block
    return depth


def is_hidden(name: str) -> bool:
    """True for the scripter's own variables (`<returned>`, `<array x>`...)."""
    return name.startswith("<")


def hint(name: str) -> str:
    """A variable's name as the printing hint of the values it takes."""
    if not is_hidden(name):
        return name
    if name.startswith("<array "):
        return display(name).split(".")[0]
    return name.strip("<>").replace(" ", "")


def display(name: str) -> str:
    """A variable's name as a message shows it: `<array x>` is parameter x."""
    return name[len("<array "):-1] if name.startswith("<array ") else name


__all__ = ["ArrayWrites", "Storage", "StorageTable", "Holder", "storage_table", "chain", "replay", "write_back",
           "is_view_step", "is_array", "is_hidden", "hint", "display", "arrays_in", "replace_arrays", "holders",
           "stored_in_container", "writable_error", "ambiguity_error", "VIEW_OPS", "OPAQUE_VIEW_OPS"]
