"""Graph → one LLVM function.

    i32 jitc_entry(i64* ctx, i64* args, i64* results, i64* constants)

`args` holds the flattened parameters (layout.py), `constants` the data
pointers of the graph's tensor constants. On success the results are
flattened into `results` (every array there owned by the caller, allocated
with malloc) and 0 is returned; otherwise the code of an `ErrorTable` entry,
with its arguments in the context. Either way the arena is empty on return.
Values that the memory plan puts in one slot share one arena buffer.
"""
from __future__ import annotations

import numpy as np
from llvmlite import ir

from ...ir.graph import Block, Graph, Node
from ...ir.ops import get_op
from ...ir.passes.buffer_liveness import materialises
from ...ir.passes.plan_memory import plan_memory
from ...ir.types import ListType, TensorType, TupleType, Type
from .. import UnsupportedOpError
from .elementwise import lower_elementwise, lower_fusion_group
from .emitter import ErrorTable, FunctionEmitter, const
from .layout import I1, I8P, I32, I64, I64P, NativeList, NativeTensor, constant_array, flatten, slot_count, unflatten
from .lowerings import NODE_LOWERINGS
from .prim_ops import list_element
from .rows import is_row_group, lower_row_group
from .runtime import libc
from .runtime_library import use_in as use_runtime_library

ENTRY = "jitc_entry"


LARGE_ENTRY = 2000  # instructions of the entry function above which it is compiled without optimisation


class GraphCodegen:
    """Lowers one specialised graph; `NODE_LOWERINGS` (lowerings.py) and the
    elementwise table do the ops, this class the blocks and the boundary."""

    def __init__(self, graph: Graph, entry: str = ENTRY, plan: bool = True, runtime_library: bool = False):
        self.graph = graph
        self.entry = entry
        self.plan = plan_memory(graph) if plan else None  # where materialised values live; None: each its own
        self._slots: dict[int, ir.Value] = {}
        self.module = ir.Module(name=graph.name)
        if runtime_library:  # call the library's helpers (the JIT); an exported library keeps its own
            use_runtime_library(self.module)
        self.errors = ErrorTable()
        function = ir.Function(self.module, ir.FunctionType(I32, [I64P, I64P, I64P, I64P]), entry)
        # The entry runs once per call: checks, allocation and calls into the loops, which live in
        # functions of their own (parallel.py, the copy and matmul helpers). Optimised for size, it
        # compiles several times faster (O3 would unroll and vectorise its few loops of known sizes).
        function.attributes.add("optsize")
        self.em = FunctionEmitter(self.module, function, self.errors)
        self.constants: list[np.ndarray] = []
        self._constant_index: dict[str, int] = {}

    @property
    def builder(self) -> ir.IRBuilder:
        return self.em.builder

    def generate(self) -> ir.Module:
        ctx, args, results, self._constants_arg = self.em.function.args
        env, offset = {}, 0
        for param in self.graph.params:
            count = slot_count(param.type)
            slots = self.em.load_slots(self.builder.gep(args, [const(offset)]), count)
            self._check_sizes(param.name, param.type, slots)
            env[param] = unflatten(self.builder, slots, param.type)
            offset += count
        self.lower_block(self.graph.block, env)
        outputs = []
        for value in self.graph.returns:
            outputs.extend(flatten(self.builder, self.take(env[value], value.type), value.type))
        self.em.store_slots(outputs, results)
        self.builder.call(self.em.runtime["release"], [ctx])
        self.builder.ret(ir.Constant(I32, 0))
        self._skip_optimising_if_large(self.em.function)
        return self.module

    @staticmethod
    def _skip_optimising_if_large(entry: ir.Function) -> None:
        """A large entry (a model's: every layer's checks, allocations and
        calls) is compiled without optimisation (`optnone`: fast instruction
        selection, no IR passes). It runs once per call and its loops live in
        chunks, so its speed hardly counts, but optimising it took about a
        fifth of the GPT-2 example's cold compile (1.39-1.42 -> 1.12-1.13 s;
        run time 94-98 us either way). A small entry, as a 4-element call's,
        stays optimised: there it is most of the call (+25 ns at optnone)."""
        if sum(len(block.instructions) for block in entry.blocks) > LARGE_ENTRY:
            entry.attributes.discard("optsize")
            entry.attributes.add("optnone")
            entry.attributes.add("noinline")

    def _check_sizes(self, name: str, type: Type, slots: list) -> None:
        """Native code checks, at entry, the sizes it was specialised for."""
        if not isinstance(type, TensorType):
            return
        for axis, dim in enumerate(type.shape):
            if isinstance(dim, int):
                self.em.raise_if(self.builder.icmp_signed("!=", slots[1 + axis], const(dim)), "ValueError",
                                 f"argument '{name}': this version was compiled for size {dim} "
                                 f"at axis {axis}, got {{0}}", [slots[1 + axis]])

    # -- blocks and nodes -------------------------------------------------------------------
    def lower_block(self, block: Block, env: dict) -> list:
        for node in block.nodes:
            self.em.source = str(node.source) if node.source else None
            self.em.allocations.clear()  # a node's output may take a slot only if the node allocated it
            outputs = self.lower_node(node, env)
            self.follow_plan(node, outputs)
            for value, result in zip(node.outputs, outputs):
                env[value] = result
        return [env[v] for v in block.returns]

    def follow_plan(self, node: Node, outputs: list) -> None:
        """Put the buffer `node` made into the slot the memory plan gives it.
        A lowering that made no buffer of its own (its output views an input)
        breaks the plan's premise: the rest of the graph is then not planned."""
        slot = None if self.plan is None or not materialises(node) else self.plan.slot_of(node.output)
        if slot is None:
            return
        if slot not in self._slots:
            self._slots[slot] = self.em.arena_slot()
        in_place = self.plan.in_place_of(node.output) is not None
        if not self.em.place_in_slot(outputs[0].data, self._slots[slot], in_place):
            self.plan = None

    def lower_node(self, node: Node, env: dict) -> list:
        inputs = [env[v] for v in node.inputs]
        if node.kind == "prim::If":
            return self.lower_if(node, inputs, env)
        if node.kind == "prim::Loop":
            return self.lower_loop(node, inputs, env)
        if node.kind == "prim::CallFunction":  # inline_calls removes these; a graph that kept one runs its body here
            body = node.blocks[0]
            return self.lower_block(body, {**env, **dict(zip(body.params, inputs))})
        if node.kind == "prim::FusionGroup":
            if is_row_group(node):
                return lower_row_group(self, node, inputs)
            return lower_fusion_group(self, node, inputs)
        lowering = NODE_LOWERINGS.get(node.kind)
        if lowering is not None:
            return lowering(self, node, inputs)
        if get_op(node.kind).is_elementwise:
            return [lower_elementwise(self.em, node.kind, inputs, [v.type for v in node.inputs],
                                      node.output.type)]
        raise UnsupportedOpError(node.kind)

    def _store_block_results(self, values, types, slots) -> None:
        """Flatten `values` into `slots` as the node's output `types` lay
        them out (a block may return a narrower type: Never for
        prim::Uninitialized, a known size for a symbolic one)."""
        flat = []
        for value, type in zip(values, types):
            flat.extend(flatten(self.builder, value, type))
        self.em.store_slots(flat, slots)

    def _load_results(self, types, slots) -> list:
        flat = self.em.load_slots(slots, sum(slot_count(t) for t in types))
        values, start = [], 0
        for type in types:
            count = slot_count(type)
            values.append(unflatten(self.builder, flat[start:start + count], type))
            start += count
        return values

    def lower_if(self, node: Node, inputs: list, env: dict) -> list:
        b = self.builder
        types = [v.type for v in node.outputs]
        slots = self.em.stack_slots(sum(slot_count(t) for t in types), "if")
        with b.if_else(inputs[0]) as (then, otherwise):
            for arm, block in ((then, node.blocks[0]), (otherwise, node.blocks[1])):
                with arm:
                    values = self.lower_block(block, dict(env))
                    self._store_block_results(values, types, slots)
        return self._load_results(types, slots)

    def lower_loop(self, node: Node, inputs: list, env: dict) -> list:
        b = self.builder
        max_trips, condition, *carried = inputs
        body_block = node.blocks[0]
        types = [v.type for v in node.outputs]
        slots = self.em.stack_slots(sum(slot_count(t) for t in types), "loop")
        state = self.em.alloca_builder.alloca(I64, name="trip")
        keep_going = self.em.alloca_builder.alloca(I1, name="cond")
        self._store_block_results(carried, types, slots)
        b.store(const(0), state)
        b.store(condition, keep_going)
        with self.em.while_loop(lambda: b.and_(b.icmp_signed("<", b.load(state), max_trips), b.load(keep_going)),
                                "loop"):
            trip = b.load(state)
            local = dict(env)
            local[body_block.params[0]] = trip
            for param, value in zip(body_block.params[1:], self._load_results(types, slots)):
                local[param] = value
            next_condition, *values = self.lower_block(body_block, local)
            self._store_block_results(values, types, slots)
            b.store(next_condition, keep_going)
            b.store(b.add(trip, const(1)), state)
        return self._load_results(types, slots)

    # -- constants ------------------------------------------------------------------------------
    def tensor_constant(self, key: str, array, type: TensorType) -> NativeTensor:
        """A read-only array the executable keeps alive and passes in by pointer."""
        if key not in self._constant_index:
            array = constant_array(array, type)
            self._constant_index[key] = len(self.constants)
            self.constants.append(array)
        index = self._constant_index[key]
        pointer = self.builder.load(self.builder.gep(self._constants_arg, [const(index)]))
        array = self.constants[index]
        slots = [pointer, *map(const, array.shape), *(const(s // array.itemsize) for s in array.strides)]
        return unflatten(self.builder, slots, TensorType(type.dtype, array.shape))

    @property
    def constant_keys(self) -> list[str]:
        """The names of the tensor constants, in the order the code reads them."""
        return list(self._constant_index)

    # -- ownership of results -----------------------------------------------------------------------
    def take(self, value, type: Type):
        """`value` with every array in it owned by the caller: an arena buffer
        holding exactly the array is handed over, anything else is copied."""
        if isinstance(type, TensorType):
            return self._take_tensor(value)
        if isinstance(type, TupleType):
            return tuple(self.take(v, t) for v, t in zip(value, type.elements))
        if isinstance(type, ListType):
            return self._take_list(value)
        return value

    def _take_tensor(self, tensor: NativeTensor) -> NativeTensor:
        em, b = self.em, self.builder
        nbytes = b.mul(em.product(tensor.shape), const(tensor.dtype.itemsize))
        data = em.alloca_builder.alloca(tensor.data.type)
        b.store(tensor.data, data)
        stolen = em.alloca_builder.alloca(I1)
        b.store(ir.Constant(I1, 0), stolen)
        with b.if_then(em.is_contiguous(tensor)):
            b.store(b.call(em.runtime["steal"], [em.ctx, b.bitcast(tensor.data, I8P), nbytes]), stolen)
        with b.if_then(b.not_(b.load(stolen))):
            copy = self._malloc(b.select(b.icmp_unsigned("==", nbytes, const(0)), const(1), nbytes))
            target = NativeTensor(tensor.dtype, b.bitcast(copy, tensor.data.type), tensor.shape,
                                  em.contiguous_strides(tensor.shape))
            em.copy_into(tensor, target)
            b.store(target.data, data)
        return NativeTensor(tensor.dtype, b.load(data), tensor.shape, em.contiguous_strides(tensor.shape))

    def _malloc(self, nbytes) -> ir.Value:
        pointer = self.builder.call(libc(self.module, "malloc"), [nbytes])
        with self.builder.if_then(self.builder.icmp_unsigned("==", pointer, ir.Constant(I8P, None)), likely=False):
            self.em.fail(self.errors.memory, [nbytes])
        return pointer

    def _take_list(self, value: NativeList) -> NativeList:
        em, b = self.em, self.builder
        per_element = value.element_slots
        length = b.load(value.pointer)
        record = b.bitcast(self._malloc(b.mul(b.add(b.mul(length, const(per_element)), const(1)), const(8))), I64P)
        b.store(length, record)
        with em.for_range(length, "take") as index:
            element = list_element(em, value, index)
            owned = self.take(element, value.type.element)
            start = b.add(b.mul(index, const(per_element)), const(1))
            em.store_slots(flatten(b, owned, value.type.element), b.gep(record, [start]))
        return NativeList(value.type, record)
