"""Random valid IR graphs for property tests, concrete inputs for them, and
a structural graph comparison.

    @given(graphs())                                    # any valid graph
    @given(graphs(GraphOptions(max_depth=0)))           # straight-line only
    @given(graphs_with_inputs(GraphOptions(families=ELEMENTWISE_FAMILIES)))

Every node is built with `jitc.ir.ops.create_op`, so every type comes from
the op table's type rules; the generator only decides which operands to
combine. It combines shapes only where they are compatible for *every*
run-time size of their symbols: equal ints, the same named symbol, or 1.
Named symbols (`N`) and anonymous ones (`*`) stand for sizes in
`SYMBOL_SIZES`, never 1, and one name has one size per run.

Run-time values stay where no op raises: slices and indices fit every size
a symbol can take, reductions never see an empty axis, and combinations that
raise on some values (Python scalar division, int powers, int products that
could overflow int64, float-to-int conversions of NaN) are not generated.
Float results may still be NaN or inf (log of a negative): compare with
`support.compare.assert_same`, which treats NaNs as equal.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from jitc.ir.errors import IRTypeError
from jitc.ir.graph import Block, Graph, SourceLocation, Value
from jitc.ir.ops import Group, OpDef, all_ops, constant_value, create_op, get_op
from jitc.ir.types import (ANY_DIM, BOOL, FLOAT, INT, DType, ListType, ScalarType, TensorType, TupleType,
                           Type)

SYMBOL_SIZES = range(2, 6)
INT_RANGE = 3        # Python int inputs lie in [-INT_RANGE, INT_RANGE]
FLOAT_RANGE = 2.0    # float inputs lie in [-FLOAT_RANGE, FLOAT_RANGE]
CAST_DTYPES = (DType.FLOAT32, DType.FLOAT64, DType.INT32, DType.INT64, DType.BOOL)

FAMILIES = ("unary", "binary", "ternary", "reduction", "row", "shape", "index", "matmul", "creation", "cast",
            "query", "scalar", "list", "tuple", "constant", "if", "loop")
ELEMENTWISE_FAMILIES = frozenset({"unary", "binary", "ternary"})
# Families only pass tests ask for: patterns that particular passes rewrite.
PASS_FAMILIES = frozenset({"peephole", "counted_loop", "row_loop"})

# Ops that raise or change type on some values when all operands are Python
# scalars (1 // 0, 2 ** -1), or when all are integral (NumPy: int ** -1 raises,
# int // 0 is undefined in compiled code).
_SCALAR_ONLY_HAZARDS = {"np::divide", "np::floor_divide", "np::remainder", "np::power"}
_INTEGRAL_HAZARDS = {"np::power", "np::floor_divide", "np::remainder", "np::reciprocal"}
# Value names, some of which the printer must sanitise.
_NAME_HINTS = (None, None, "x", "h", "out", "x.1", "a-b", "two words", "7")
_FILENAMES = ("model.py", "/tmp/my model.py", "C:\\work\\net.py", "a:1:2.py", "<string>", " lead.py")


@dataclass(frozen=True)
class GraphOptions:
    """What the generated graphs may contain."""

    dtypes: tuple[DType, ...] = (DType.FLOAT32, DType.FLOAT64)  # of tensor params
    max_rank: int = 3
    symbols: tuple[str, ...] = ("N", "M", ANY_DIM)  # symbolic dims params may have
    families: frozenset[str] = field(default_factory=lambda: frozenset(FAMILIES))
    max_params: int = 5
    max_nodes: int = 10          # node-building steps in the graph; half that per block
    max_depth: int = 2           # nesting of prim::If / prim::Loop blocks
    scalar_params: bool = True   # int, float and bool params besides tensors
    sources: bool = True         # random source locations on nodes
    tensor_returns_only: bool = False
    foldable: bool = False       # favour constant operands and conditions, return more values
    chains: bool = False         # favour the newest value as an operand, so ops form chains


# -- shapes -----------------------------------------------------------------------------
def shape_of(type: Type) -> tuple | None:
    """The broadcast shape of a numeric operand: () for Python scalars."""
    return () if isinstance(type, ScalarType) else type.shape


def dims_compatible(a, b) -> bool:
    """True when dims `a` and `b` broadcast for every run-time size."""
    return a == 1 or b == 1 or (a == b and a != ANY_DIM)


def broadcast_compatible(*shapes) -> bool:
    rank = max(len(shape) for shape in shapes)
    for position in range(1, rank + 1):
        dims = [shape[-position] for shape in shapes if len(shape) >= position]
        if not all(dims_compatible(a, b) for a, b in itertools.combinations(dims, 2)):
            return False
    return True


def broadcast_result(*shapes) -> tuple:
    """The broadcast of shapes that are `broadcast_compatible`."""
    rank = max(len(shape) for shape in shapes)
    padded = [(1,) * (rank - len(shape)) + tuple(shape) for shape in shapes]
    return tuple(next((d for d in dims if d != 1), 1) for dims in zip(*padded))


def possible_sizes(dim) -> range:
    return range(dim, dim + 1) if isinstance(dim, int) else SYMBOL_SIZES


def _is_numeric(value: Value) -> bool:
    type = value.type
    return type in (INT, FLOAT, BOOL) or (isinstance(type, TensorType) and type.is_specialised)


def _is_tensor(value: Value) -> bool:
    return isinstance(value.type, TensorType) and value.type.is_specialised


def _is_integral(type: Type) -> bool:
    """Python ints and bools, and int or bool tensors."""
    if isinstance(type, TensorType):
        return type.dtype.is_integer or type.dtype == DType.BOOL
    return type in (INT, BOOL)


def _defined_for_all_values(op: OpDef, types: list[Type]) -> bool:
    """False for combinations that raise, or change type, on some values."""
    if all(isinstance(t, ScalarType) for t in types) and op.name in _SCALAR_ONLY_HAZARDS:
        return False
    if op.name in _INTEGRAL_HAZARDS and all(_is_integral(t) for t in types):
        return False
    if op.name == "np::multiply" and all(t in (INT, BOOL) for t in types):
        return False  # squaring chains outgrow int64 once they meet a tensor
    return True


def rule_accepts(op: OpDef, inputs, attributes=None, num_outputs=None) -> bool:
    try:
        op.infer_types([v.type for v in inputs], attributes or {},
                       [constant_value(v) for v in inputs], num_outputs)
    except IRTypeError:
        return False
    return True


def ops_in(group: Group) -> list[OpDef]:
    return [op for op in all_ops() if op.group is group]


# -- the graph builder ----------------------------------------------------------------------------
class _GraphBuilder:
    """Grows one random graph; each `add_<family>` adds a few nodes to the
    current block or returns False when it has nothing to work with."""

    def __init__(self, draw, options: GraphOptions):
        self.draw = draw
        self.options = options
        self.graph = Graph()
        self.scopes: list[list[Value]] = [[]]   # values visible, one list per open block
        self.list_lengths: dict[Value, int] = {}
        self.depth = 0

    # -- drawing helpers ----------------------------------------------------------------------------
    def pick(self, items):
        return self.draw(st.sampled_from(list(items)))

    def chance(self) -> bool:
        return self.draw(st.booleans())

    def visible(self, predicate=lambda value: True) -> list[Value]:
        return [v for scope in self.scopes for v in scope if predicate(v)]

    def dim(self):
        return self.pick((1, 2, 3) + self.options.symbols)

    def tensor_type(self, rank: int | None = None) -> TensorType:
        rank = self.draw(st.integers(0, self.options.max_rank)) if rank is None else rank
        return TensorType(self.pick(self.options.dtypes), tuple(self.dim() for _ in range(rank)))

    def source(self) -> SourceLocation | None:
        if not self.options.sources or self.chance():
            return None
        line = self.draw(st.integers(1, 500))
        end = self.draw(st.none() | st.tuples(st.integers(line, line + 3), st.integers(0, 80)))
        return SourceLocation(self.pick(_FILENAMES), line, self.draw(st.integers(0, 80)),
                              *(end or (None, None)))

    # -- values --------------------------------------------------------------------------------
    def add_param(self, type: Type) -> Value | None:
        if len(self.graph.params) >= self.options.max_params:
            return None
        value = self.graph.add_param(type, self.pick(_NAME_HINTS))
        self.scopes[0].append(value)
        return value

    def emit(self, kind: str, inputs=(), attributes=None, **options) -> list[Value]:
        node = create_op(self.graph, kind, list(inputs), attributes, self.source(), **options)
        for output in node.outputs:
            output.name = self.pick(_NAME_HINTS)
            self.scopes[-1].append(output)
        return node.outputs

    def constant(self, value) -> Value:
        return self.emit("prim::Constant", attributes={"value": value})[0]

    def numeric(self) -> Value | None:
        """Any visible tensor or Python scalar (with `foldable`, often a new
        constant, so that ops on constants only arise)."""
        if self.options.foldable and self.chance():
            return self.constant(self.draw(_scalar_values())) if self.chance() else self.tensor_constant()
        return self.pick_operand(self.visible(_is_numeric))

    def tensor(self, predicate=lambda type: True) -> Value | None:
        return self.pick_operand(self.visible(lambda v: _is_tensor(v) and predicate(v.type)))

    def pick_operand(self, values: list[Value]) -> Value | None:
        if not values:
            return None
        return values[-1] if self.options.chains and self.chance() else self.pick(values)

    def partner(self, *shapes) -> Value | None:
        """A numeric operand that broadcasts with `shapes`: an existing
        value, a new scalar constant or a new tensor param."""
        existing = self.visible(lambda v: _is_numeric(v) and broadcast_compatible(*shapes, shape_of(v.type)))
        choice = self.pick(["existing", "existing", "constant", "param"] if existing else ["constant", "param"])
        if choice == "existing":
            return self.pick(existing)
        if choice == "param":
            shape = self.compatible_shape(broadcast_result(*shapes))
            param = self.add_param(TensorType(self.pick(self.options.dtypes), shape))
            if param is not None:
                return param
        return self.constant(self.draw(_scalar_values()))

    def compatible_shape(self, shape) -> tuple:
        """A random shape that broadcasts with `shape` for every size."""
        kept = shape[len(shape) - self.draw(st.integers(0, len(shape))):]
        dims = tuple(1 if d == ANY_DIM or self.chance() else d for d in kept)
        if len(dims) < self.options.max_rank and len(dims) == len(shape) and self.chance():
            dims = (self.pick((2, 3, "N")),) + dims
        return dims

    def int_constants(self, values) -> list[Value]:
        return [self.constant(v) for v in values]

    # -- elementwise -------------------------------------------------------------------------------
    def add_elementwise(self, group: Group, operands: list[Value]) -> bool:
        types = [v.type for v in operands]
        candidates = [op for op in ops_in(group)
                      if _defined_for_all_values(op, types) and rule_accepts(op, operands)]
        if not candidates:
            return False
        self.emit(self.pick(candidates).name, operands)
        return True

    def add_unary(self) -> bool:
        x = self.numeric()
        return x is not None and self.add_elementwise(Group.UNARY, [x])

    def add_binary(self) -> bool:
        x = self.numeric()
        if x is None:
            return False
        operands = [x, self.partner(shape_of(x.type))]
        return self.add_elementwise(Group.BINARY, self.draw(st.permutations(operands)))

    def add_ternary(self) -> bool:
        x = self.numeric()
        if x is None:
            return False
        y = self.partner(shape_of(x.type))
        z = self.partner(shape_of(x.type), shape_of(y.type))
        return self.add_elementwise(Group.TERNARY, self.draw(st.permutations([x, y, z])))

    # -- reductions, shapes, indexing ----------------------------------------------------------------
    def add_reduction(self) -> bool:
        x = self.tensor()
        if x is None:
            return False
        rank = x.type.rank
        axis = self.draw(st.none() if rank == 0 else st.one_of(
            st.none(), st.integers(-rank, rank - 1),
            st.lists(st.integers(0, rank - 1), unique=True, max_size=rank).map(
                lambda axes: tuple(a - rank if a % 2 else a for a in axes)))) 
        attributes = {"axis": axis, "keepdims": self.chance()}
        candidates = []
        for op in ops_in(Group.REDUCTION):
            extra = {"ddof": self.draw(st.integers(0, 1))} if "ddof" in op.attributes else {}
            if rule_accepts(op, [x], {**attributes, **extra}):
                candidates.append((op, {**attributes, **extra}))
        if not candidates:
            return False
        op, attributes = self.pick(candidates)
        self.emit(op.name, [x], attributes)
        return True

    def add_row(self) -> bool:
        """A last-axis reduction kept as size 1, combined with its input: x - max(x), x / sum(x),
        (x - mean(x)) / std(x)..."""
        x = self.tensor()
        if x is None or not x.type.rank:
            return False
        attributes = {"axis": -1, "keepdims": True}
        candidates = [op for op in (get_op(f"np::{name}") for name in ("sum", "mean", "max", "min", "var", "std"))
                      if rule_accepts(op, [x], attributes)]
        if not candidates:
            return False
        reduced = self.emit(self.pick(candidates).name, [x], attributes)[0]
        return self.add_elementwise(Group.BINARY, self.draw(st.permutations([x, reduced])))

    def add_peephole(self) -> bool:
        """A pattern `canonicalize` rewrites, or one it must leave: x * 1,
        x + 0, x - 0, x ** 2, x / 2**k, -(-x), two transposes, two reshapes."""
        x = self.tensor()
        if x is None:
            return False
        pattern = self.pick(["multiply", "add", "subtract", "power", "divide", "negative", "transpose", "reshape"])
        if pattern in ("multiply", "add", "subtract", "power", "divide"):
            value = self.pick({"multiply": (1, 1.0, True), "add": (0, 0.0, -0.0, False),
                               "subtract": (0, 0.0, -0.0), "power": (2, 2.0),
                               "divide": (2, 0.5, -4.0, 3.0)}[pattern])
            operands = [x, self.constant(value)]
            if pattern in ("multiply", "add"):
                operands = self.draw(st.permutations(operands))
            return self.emit_if_defined(f"np::{pattern}", operands)
        if pattern == "negative":
            return self.emit_if_defined("np::negative", [x]) and self.emit_if_defined(
                "np::negative", [self.scopes[-1][-1]])
        for step in range(2):
            x = self.scopes[-1][-1] if step else x  # the second applies to the first's result
            if pattern == "transpose":
                axes = None if self.chance() else tuple(self.draw(st.permutations(range(x.type.rank))))
                self.emit("np::transpose", [x], {"axes": axes})
            else:
                self.emit("np::reshape", [x, *self.int_constants(self.reshape_target(x.type.shape))])
        return True

    def emit_if_defined(self, kind: str, operands) -> bool:
        op = get_op(kind)
        if not _defined_for_all_values(op, [v.type for v in operands]) or not rule_accepts(op, operands):
            return False
        self.emit(kind, operands)
        return True

    def add_shape(self) -> bool:
        x = self.tensor()
        if x is None:
            return False
        shape, rank = x.type.shape, x.type.rank
        action = self.pick(["transpose", "reshape", "expand_dims", "squeeze", "broadcast_to"])
        if action == "transpose":
            axes = None if self.chance() else tuple(a - rank * self.draw(st.integers(0, 1))
                                                   for a in self.draw(st.permutations(range(rank))))
            self.emit("np::transpose", [x], {"axes": axes})
        elif action == "reshape":
            self.emit("np::reshape", [x, *self.int_constants(self.reshape_target(shape))])
        elif action == "expand_dims" and rank < self.options.max_rank:
            self.emit("np::expand_dims", [x], {"axis": self.draw(st.integers(-rank - 1, rank))})
        elif action == "squeeze" and 1 in shape:
            ones = [i for i, d in enumerate(shape) if d == 1]
            axis = self.pick([None, self.pick(ones), tuple(ones)]) if all(isinstance(d, int) for d in shape) \
                else self.pick([self.pick(ones), tuple(ones)])
            self.emit("np::squeeze", [x], {"axis": axis})
        elif action == "broadcast_to" and rank < self.options.max_rank:
            sizes = [self.constant(self.pick((1, 2, 3)))]
            for axis, d in enumerate(shape):
                if isinstance(d, str):
                    sizes.append(self.emit("np::dim", [x], {"axis": axis})[0])
                else:
                    sizes.append(self.constant(self.pick((1, 2, 3)) if d == 1 else d))
            self.emit("np::broadcast_to", [x, *sizes])
        else:
            return False
        return True

    def reshape_target(self, shape) -> list[int]:
        """Sizes that hold as many elements as `shape` for every symbol size."""
        known = math.prod(d for d in shape if isinstance(d, int))
        if all(isinstance(d, int) for d in shape):
            factors = [f for f in range(1, known + 1) if known % f == 0]
            first = self.pick(factors)
            target = [first, known // first] if self.chance() else [known]
            if self.chance():
                target[self.draw(st.integers(0, len(target) - 1))] = -1
            return target
        return self.pick([[-1], [known, -1], [-1, known], [1, -1, known]])

    def add_index(self) -> bool:
        x = self.tensor(lambda type: type.rank >= 1)
        if x is None:
            return False
        axis = self.draw(st.integers(-x.type.rank, x.type.rank - 1))
        sizes = possible_sizes(x.type.shape[axis])
        if self.chance():
            index = self.draw(st.integers(-min(sizes), min(sizes) - 1))
            self.emit("np::select", [x, self.constant(index)], {"axis": axis})
            return True
        bound = st.none() | st.integers(-4, 4)
        start, stop, step = self.draw(st.tuples(bound, bound, st.none() | st.sampled_from([-2, -1, 1, 2])))
        lengths = [len(range(n)[start:stop:step]) for n in sizes]
        if min(lengths) == 0:
            return False  # an empty axis would make later reductions raise
        if min(lengths) == 1 and not isinstance(x.type.shape[axis], int):
            return False  # the result's dim is a symbol, which this generator takes to be 2 or more
        self.emit("np::slice", [x, *map(self.constant, (start, stop, step))], {"axis": axis})
        return True

    def add_matmul(self) -> bool:
        x = self.tensor(lambda type: type.rank >= 1 and type.shape[-1] != ANY_DIM)
        if x is None:
            return False
        inner, batch = x.type.shape[-1], x.type.shape[:-2]
        existing = self.visible(lambda v: _is_tensor(v) and _matmul_compatible(x.type.shape, v.type.shape))
        y = self.pick(existing) if existing and self.chance() else self.add_param(TensorType(
            self.pick(self.options.dtypes),
            self.pick([(inner,), (inner, self.dim()), (*batch, inner, self.dim())])))
        if y is None or not _matmul_compatible(x.type.shape, y.type.shape):
            return False
        self.emit("np::matmul", [x, y])
        return True

    # -- creation, casts, queries, scalars ----------------------------------------------------------------------------------------------------------------------
    def add_creation(self) -> bool:
        sizes = []
        for _ in range(self.draw(st.integers(0, self.options.max_rank))):
            # The size becomes a symbol (`*`), which must not be 1 at run time: no dims of size 1.
            x = self.tensor(lambda type: any(d != 1 for d in type.shape))
            if x is not None and self.chance():
                axes = [axis for axis, d in enumerate(x.type.shape) if d != 1]
                sizes.append(self.emit("np::dim", [x], {"axis": self.pick(axes)})[0])
            else:
                sizes.append(self.constant(self.draw(st.integers(1, 3))))
        dtype = self.pick(CAST_DTYPES)
        if self.chance():
            self.emit(self.pick(["np::zeros", "np::ones"]), sizes, {"dtype": dtype})
        else:
            fill = self.pick(self.visible(lambda v: v.type in (INT, FLOAT, BOOL)) or [self.constant(1.5)])
            self.emit("np::full", [fill, *sizes], {"dtype": self.pick([None, dtype])})
        return True

    def add_cast(self) -> bool:
        x = self.numeric()
        if x is None:
            return False
        targets = CAST_DTYPES
        if not _is_integral(x.type):  # float -> int of NaN or inf is undefined
            targets = (DType.FLOAT32, DType.FLOAT64, DType.BOOL)
        self.emit("np::astype", [x], {"dtype": self.pick(targets)})
        return True

    def add_query(self) -> bool:
        x = self.tensor()
        if x is None:
            return False
        kind = self.pick(["np::shape", "np::ndim", "np::size"] + (["np::dim"] if x.type.rank else []))
        attributes = {"axis": self.draw(st.integers(-x.type.rank, x.type.rank - 1))} if kind == "np::dim" else {}
        [output] = self.emit(kind, [x], attributes)
        if kind == "np::shape":
            self.list_lengths[output] = x.type.rank
        return True

    def add_scalar(self) -> bool:
        """Conversions between Python scalars and 0-d tensors."""
        scalars = self.visible(lambda v: v.type in (INT, FLOAT, BOOL))
        zero_d = self.visible(lambda v: _is_tensor(v) and v.type.rank == 0)
        choices = [("prim::NumToTensor", s) for s in scalars]
        for value in scalars + zero_d:
            choices += [("prim::Float", value), ("prim::Bool", value)]
            if _is_integral(value.type):  # int(nan) raises
                choices.append(("prim::Int", value))
        if not choices:
            return False
        kind, value = self.pick(choices)
        self.emit(kind, [value])
        return True

    def add_constant(self) -> bool:
        if self.chance():
            self.constant(self.draw(_attribute_values()))
        else:
            self.tensor_constant()
        return True

    def tensor_constant(self) -> Value:
        type = self.tensor_type(self.draw(st.integers(0, 2)))
        shape = tuple(d if isinstance(d, int) else 2 for d in type.shape)
        array = self.draw(hnp.arrays(type.dtype.numpy, shape, elements=_elements(type.dtype)))
        value = self.graph.tensor_constant(array, self.pick(["c", "weight", "fc1.bias", "w-1"]))
        self.scopes[-1].append(value)
        return value

    # -- lists and tuples ----------------------------------------------------------------------------
    def add_list(self) -> bool:
        lists = [v for v in self.visible(lambda v: isinstance(v.type, ListType)) if v in self.list_lengths]
        if not lists or self.chance():
            return self.construct_list()
        items = self.pick(lists)
        length, element = self.list_lengths[items], items.type.element
        same_type = self.visible(lambda v: v.type == element)
        actions = ["len"] + ["append"] * bool(same_type) + ["add"] * any(
            v.type == items.type for v in lists)
        if length:
            actions += ["index", "unpack"]
            if isinstance(element, TensorType) and element.is_specialised:
                actions += ["stack"] + ["concatenate"] * (element.rank > 0)
        action = self.pick(reversed(actions))  # hypothesis favours the first: len is the least interesting
        if action == "len":
            self.emit("prim::ListLen", [items])
        elif action == "append":
            [output] = self.emit("prim::ListAppend", [items, self.pick(same_type)])
            self.list_lengths[output] = length + 1
        elif action == "add":
            other = self.pick([v for v in lists if v.type == items.type])
            [output] = self.emit("prim::ListAdd", [items, other])
            self.list_lengths[output] = length + self.list_lengths[other]
        elif action == "index":
            index = self.constant(self.draw(st.integers(-length, length - 1)))
            self.emit("prim::ListIndex", [items, index])
        elif action == "unpack":
            self.emit("prim::ListUnpack", [items], num_outputs=length)
        else:
            rank = element.rank + (action == "stack")
            self.emit(f"np::{action}", [items], {"axis": self.draw(st.integers(-rank, rank - 1))})
        return True

    def construct_list(self) -> bool:
        first = self.numeric()
        if first is None or self.draw(st.integers(0, 9)) == 0:
            [output] = self.emit("prim::ListConstruct", output_types=[ListType(INT)])
            self.list_lengths[output] = 0
            return True
        same_type = self.visible(lambda v: v.type == first.type)
        elements = [first] + self.draw(st.lists(st.sampled_from(same_type), max_size=2))
        [output] = self.emit("prim::ListConstruct", elements)
        self.list_lengths[output] = len(elements)
        return True

    def add_tuple(self) -> bool:
        tuples = self.visible(lambda v: isinstance(v.type, TupleType) and v.type.elements)
        if tuples and self.chance():
            items = self.pick(tuples)
            size = len(items.type.elements)
            if self.chance():
                self.emit("prim::TupleUnpack", [items], num_outputs=size)
            else:
                self.emit("prim::TupleIndex", [items], {"index": self.draw(st.integers(-size, size - 1))})
            return True
        values = self.visible()
        self.emit("prim::TupleConstruct", self.draw(st.lists(st.sampled_from(values), max_size=3)) if values else [])
        return True

    # -- control flow -------------------------------------------------------------------------------
    def condition(self) -> Value:
        """A bool: an existing one, a comparison, a new param or a constant."""
        if self.options.foldable and self.chance():
            return self.constant(self.chance())
        existing = self.visible(lambda v: v.type == BOOL)
        if existing and self.chance():
            return self.pick(existing)
        scalars = self.visible(lambda v: v.type in (INT, FLOAT))
        if scalars and self.chance():
            return self.emit(self.pick(["np::less", "np::greater_equal"]),
                             [self.pick(scalars), self.constant(self.draw(st.integers(-1, 2)))])[0]
        param = self.add_param(BOOL) if self.options.scalar_params else None
        return param if param is not None else self.constant(self.chance())

    def add_if(self) -> bool:
        if self.depth >= self.options.max_depth:
            return False
        condition = self.condition()
        slots = self.draw(st.lists(st.sampled_from(self.visible()), max_size=2)) if self.visible() else []
        node = create_op(self.graph, "prim::If", [condition], source=self.source(),
                         output_types=[v.type for v in slots])
        for block in node.blocks:
            self.build_block(block, lambda: [self.pick(self.visible(lambda v, t=s.type: v.type == t))
                                             for s in slots])
        for output in node.outputs:
            self.scopes[-1].append(output)
        return True

    def add_loop(self, counted: bool = False) -> bool:
        """A loop; `counted`: one that surely runs a constant 1-3 times (constant
        trip count, start condition and continue condition), as unrolling wants."""
        if self.depth >= self.options.max_depth:
            return False
        int_params = [p for p in self.graph.params if p.type == INT]
        if counted:
            trips, start = self.constant(self.draw(st.integers(1, 3))), self.constant(True)
        else:
            trips = (self.pick(int_params) if int_params and self.chance()
                     else self.constant(self.draw(st.integers(0, 3))))
            start = self.condition()
        condition = (lambda: self.constant(True)) if counted else self.condition
        return self.loop(trips, start, condition)

    def add_counted_loop(self) -> bool:
        return self.add_loop(counted=True)

    def add_row_loop(self) -> bool:
        """`for t in range(x.shape[0]): ... x[t] @ w ...`, the loop batch-MM rewrites."""
        x = self.tensor(lambda type: type.rank >= 2 and type.shape[-1] != ANY_DIM)
        if x is None or self.depth >= self.options.max_depth:
            return False
        w = self.add_param(TensorType(x.type.dtype, (x.type.shape[-1], self.pick((1, 2, 3, "N")))))
        if w is None:
            return False
        trips = self.emit("np::dim", [x], {"axis": 0})[0]

        def prologue(body: Block) -> None:
            row = self.emit("np::select", [x, body.params[0]], {"axis": 0})[0]
            self.emit("np::matmul", [row, w])
        return self.loop(trips, self.condition(), self.condition, prologue)

    def loop(self, trips: Value, start: Value, condition, prologue=None) -> bool:
        carried = self.draw(st.lists(st.sampled_from(self.visible()), max_size=3)) if self.visible() else []
        node = create_op(self.graph, "prim::Loop", [trips, start, *carried], source=self.source())
        body = node.blocks[0]
        body.add_param(INT, "i")
        for value in carried:
            body.add_param(value.type, value.name)
        self.build_block(body, lambda: [condition()] + [
            self.pick(self.visible(lambda v, t=c.type: v.type == t)) for c in carried], prologue)
        for output in node.outputs:
            self.scopes[-1].append(output)
        return True

    def build_block(self, block: Block, returns, prologue=None) -> None:
        """Fill `block` with random nodes (after `prologue(block)`'s), then
        return what `returns()` picks."""
        self.depth += 1
        self.scopes.append(list(block.params))
        with self.graph.inserting_at_end(block):
            if prologue is not None:
                prologue(block)
            self.add_nodes(max(1, self.options.max_nodes // 2))
            block.set_returns(returns())
        self.scopes.pop()
        self.depth -= 1

    # -- the whole graph -------------------------------------------------------------------------
    def add_nodes(self, max_steps: int) -> None:
        families = sorted(self.options.families)
        for _ in range(self.draw(st.integers(1, max_steps))):
            getattr(self, f"add_{self.pick(families)}")()

    def build(self) -> Graph:
        for _ in range(self.draw(st.integers(1, max(1, self.options.max_params - 2)))):
            self.add_param(self.tensor_type())
        if self.options.scalar_params:
            for type in self.draw(st.lists(st.sampled_from([INT, FLOAT, BOOL]), max_size=2)):
                self.add_param(type)
        self.add_nodes(self.options.max_nodes)
        candidates = self.visible(_is_tensor if self.options.tensor_returns_only else lambda v: True)
        recent = candidates[-4:] if not self.options.foldable else candidates
        returns = self.draw(st.lists(st.sampled_from(recent), min_size=1, max_size=2 + 2 * self.options.foldable))
        self.graph.block.set_returns(returns + self.draw(st.lists(st.sampled_from(candidates), max_size=1)))
        return self.graph


def _matmul_compatible(a, b) -> bool:
    """x @ y is defined for every size of the symbols in shapes a and b."""
    if not a or not b:
        return False
    inner_b = b[0] if len(b) == 1 else b[-2]
    if a[-1] != inner_b or a[-1] == ANY_DIM:
        return False
    return broadcast_compatible(a[:-2], b[:-2])


# -- strategies ---------------------------------------------------------------------------------
def _scalar_values():
    return st.one_of(st.integers(-INT_RANGE, INT_RANGE), st.booleans(),
                     st.floats(-FLOAT_RANGE, FLOAT_RANGE, allow_nan=False))


def _attribute_values():
    """Constant values of every kind the text form can hold."""
    floats = st.one_of(st.floats(allow_nan=True), st.sampled_from([1e-20, -0.0, float("inf")]))
    scalar = st.one_of(st.integers(-1000, 1000), floats, st.booleans(), st.none(),
                       st.text(alphabet='ab "\\#\n\t\u00e9', max_size=6))
    return st.one_of(scalar, st.lists(scalar, max_size=3).map(tuple))


def _elements(dtype: DType):
    if dtype.is_float:
        return st.floats(-FLOAT_RANGE, FLOAT_RANGE, width=8 * min(dtype.itemsize, 8))
    if dtype == DType.BOOL:
        return st.booleans()
    return st.integers(-INT_RANGE, INT_RANGE)


@st.composite
def graphs(draw, options: GraphOptions = GraphOptions()) -> Graph:
    """A random graph that verifies (see the module docstring)."""
    return _GraphBuilder(draw, options).build()


@st.composite
def graph_inputs(draw, graph: Graph) -> tuple:
    """Arguments for `graph`'s params: one size per named symbol, one per
    anonymous dim; values in the ranges the module docstring gives."""
    sizes: dict[str, int] = {}

    def size(dim) -> int:
        if isinstance(dim, int):
            return dim
        if dim == ANY_DIM:
            return draw(st.sampled_from(SYMBOL_SIZES))
        return sizes.setdefault(dim, draw(st.sampled_from(SYMBOL_SIZES)))

    arguments = []
    for param in graph.params:
        type = param.type
        if isinstance(type, TensorType):
            shape = tuple(size(d) for d in type.shape)
            arguments.append(draw(hnp.arrays(type.dtype.numpy, shape, elements=_elements(type.dtype))))
        elif type == BOOL:
            arguments.append(draw(st.booleans()))
        elif type == INT:
            arguments.append(draw(st.integers(-INT_RANGE, INT_RANGE)))
        elif type == FLOAT:
            arguments.append(draw(st.floats(-FLOAT_RANGE, FLOAT_RANGE)))
        else:
            raise TypeError(f"no inputs for a param of type {type}")
    return tuple(arguments)


@st.composite
def graphs_with_inputs(draw, options: GraphOptions = GraphOptions()) -> tuple[Graph, tuple]:
    graph = draw(graphs(options))
    return graph, draw(graph_inputs(graph))


# -- structural equality ------------------------------------------------------------------------
def assert_graphs_equal(expected: Graph, actual: Graph) -> None:
    """Assert the graphs have the same params, nodes (kinds, attributes,
    output types, sources, blocks), topology and tensor constants; names are
    hints and are not compared."""
    _GraphComparison().blocks(expected.block, actual.block, "graph")
    assert expected.tensors.keys() == actual.tensors.keys(), "tensor constant names differ"
    for name, array in expected.tensors.items():
        other = actual.tensors[name]
        assert array.dtype == other.dtype and np.array_equal(array, other, equal_nan=array.dtype.kind == "f"), \
            f"tensor constant @{name} differs"


def graphs_equal(expected: Graph, actual: Graph) -> bool:
    try:
        assert_graphs_equal(expected, actual)
    except AssertionError:
        return False
    return True


def same_attribute(a, b) -> bool:
    """Equal attribute values of the same Python type (1, 1.0 and True differ;
    NaN equals NaN; 0.0 and -0.0 differ)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, tuple):
        return len(a) == len(b) and all(map(same_attribute, a, b))
    return repr(a) == repr(b) if isinstance(a, float) else a == b


class _GraphComparison:
    def __init__(self):
        self.mapping: dict[Value, Value] = {}

    def define(self, expected: list[Value], actual: list[Value], where: str) -> None:
        assert len(expected) == len(actual), f"{where}: {len(expected)} values != {len(actual)}"
        for index, (e, a) in enumerate(zip(expected, actual)):
            assert e.type == a.type, f"{where}, value {index}: type {e.type} != {a.type}"
            self.mapping[e] = a

    def uses(self, expected, actual, where: str) -> None:
        assert len(expected) == len(actual), f"{where}: {len(expected)} operands != {len(actual)}"
        for index, (e, a) in enumerate(zip(expected, actual)):
            assert self.mapping.get(e) is a, f"{where}, operand {index} refers to a different value"

    def blocks(self, expected: Block, actual: Block, where: str) -> None:
        self.define(expected.params, actual.params, f"{where} params")
        assert len(expected.nodes) == len(actual.nodes), \
            f"{where}: {len(expected.nodes)} nodes != {len(actual.nodes)}"
        for index, (e, a) in enumerate(zip(expected.nodes, actual.nodes)):
            here = f"{where}, node {index} ({e.kind})"
            assert e.kind == a.kind, f"{here}: kind {a.kind}"
            assert e.attributes.keys() == a.attributes.keys() and all(
                same_attribute(v, a.attributes[k]) for k, v in e.attributes.items()), \
                f"{here}: attributes {e.attributes} != {a.attributes}"
            assert e.source == a.source, f"{here}: source {e.source} != {a.source}"
            self.uses(e.inputs, a.inputs, here)
            assert len(e.blocks) == len(a.blocks), f"{here}: {len(e.blocks)} blocks != {len(a.blocks)}"
            for number, (eb, ab) in enumerate(zip(e.blocks, a.blocks)):
                self.blocks(eb, ab, f"{here} block{number}")
            self.define(e.outputs, a.outputs, f"{here} outputs")
        self.uses(expected.returns, actual.returns, f"{where} returns")


# -- loosened types ---------------------------------------------------------------------------
def _looser_tensor_types(type: TensorType):
    """Types that cover `type`: unknown dtype, unknown rank, symbolic dims."""
    shapes = [None, tuple(ANY_DIM for _ in type.shape)]
    return st.sampled_from([TensorType(dtype, shape) for dtype in (None, type.dtype) for shape in shapes]
                           + [TensorType(None, type.shape)])


@st.composite
def loosened_types(draw, graph: Graph) -> Graph:
    """A copy of `graph` in which some node outputs and block parameters of
    tensor type are declared less precisely (`Tensor`, `Float(*, *)`), as in
    a generic graph before `propagate_types`. The graph's own parameters and
    tensor constants (whose arrays fix their types) keep their types. The
    copy need not verify: some type rules refuse imprecise inputs (squeeze
    without an axis needs to know which dims are 1)."""
    loose = graph.copy()
    for node in loose.walk():
        values = [] if node.kind == "prim::Constant" else list(node.outputs)
        values += [param for block in node.blocks for param in block.params]
        for value in values:
            if isinstance(value.type, TensorType) and value.type.is_specialised and draw(st.booleans()):
                value.type = draw(_looser_tensor_types(value.type))
    return loose
