"""Building blocks for emitting one native function: loops over index
spaces, arena allocation, runtime checks that raise Python exceptions,
element loads and stores, casts, and strided copies."""
from __future__ import annotations

import contextlib
from typing import Sequence

from llvmlite import ir

from ...ir.types import ANY_DIM, DType, TensorType
from .layout import (F16, F32, F64, I1, I8, I8P, I64, I64P, VOID, NativeTensor, flatten, register_type, slot_count,
                     storage_type, unflatten)
from .runtime import ERROR_ARG_OFFSET, ERROR_ARGS, declare, emit_runtime


def const(value: int) -> ir.Constant:
    return ir.Constant(I64, value)


class ErrorTable:
    """The Python exceptions a module can raise: code i + 1 is entry i."""

    def __init__(self):
        self.entries: list[tuple[str, str]] = []
        self.memory = self.code("MemoryError", "compiled code could not allocate {0} bytes")

    def code(self, exception: str, message: str) -> int:
        entry = (exception, message)
        if entry not in self.entries:
            self.entries.append(entry)
        return self.entries.index(entry) + 1


class Lowering:
    """What op lowerings use of the graph's code generator (`em`, `builder`,
    `module`), for code that lands in another function: a thread's chunk,
    a shared helper."""

    def __init__(self, em: "FunctionEmitter"):
        self.em, self.builder, self.module = em, em.builder, em.module


class FunctionEmitter:
    """Emits into `function`, whose first argument is the call context."""

    def __init__(self, module: ir.Module, function: ir.Function, errors: ErrorTable):
        self.module = module
        self.function = function
        self.ctx = function.args[0]
        self.errors = errors
        self.source: str | None = None  # of the node being lowered, for error messages
        self.allocations: dict = {}  # tensor data from `allocate` -> its jitc_alloc call, for place_in_slot
        self.runtime = emit_runtime(module)
        entry = function.append_basic_block("entry")
        self.alloca_builder = ir.IRBuilder(entry)
        body = function.append_basic_block("body")
        self.alloca_builder.branch(body)
        self.alloca_builder.position_at_start(entry)
        self.builder = ir.IRBuilder(body)

    # -- stack slots (promoted to registers by LLVM) -----------------------------
    def stack_slots(self, count: int, name: str = "slots") -> ir.Value:
        """`count` i64 stack slots, allocated in the entry block."""
        return self.alloca_builder.alloca(I64, size=max(count, 1), name=name)

    def store_slots(self, slots: Sequence[ir.Value], where: ir.Value) -> None:
        for index, slot in enumerate(slots):
            self.builder.store(slot, self.builder.gep(where, [const(index)]))

    def load_slots(self, where: ir.Value, count: int) -> list:
        return [self.builder.load(self.builder.gep(where, [const(i)])) for i in range(count)]

    # -- control flow -------------------------------------------------------------
    @contextlib.contextmanager
    def for_range(self, count: ir.Value, name: str = "i"):
        """A counted loop 0 <= i < count; yields i."""
        b = self.builder
        before = b.block
        header = b.append_basic_block(f"{name}.header")
        body = b.append_basic_block(f"{name}.body")
        after = b.append_basic_block(f"{name}.end")
        b.branch(header)
        b.position_at_end(header)
        index = b.phi(I64, name=name)
        index.add_incoming(const(0), before)
        b.cbranch(b.icmp_signed("<", index, count), body, after)
        b.position_at_end(body)
        yield index
        index.add_incoming(b.add(index, const(1)), b.block)
        b.branch(header)
        b.position_at_end(after)

    @contextlib.contextmanager
    def while_loop(self, condition, name: str = "while"):
        """Runs the body emitted inside while `condition()` (emitted at the
        top of every iteration) holds."""
        b = self.builder
        header = b.append_basic_block(f"{name}.header")
        body = b.append_basic_block(f"{name}.body")
        after = b.append_basic_block(f"{name}.end")
        b.branch(header)
        b.position_at_end(header)
        b.cbranch(condition(), body, after)
        b.position_at_end(body)
        yield
        b.branch(header)
        b.position_at_end(after)

    @contextlib.contextmanager
    def loop_nest(self, shape: Sequence[ir.Value], name: str = "i"):
        """Loops over every index of `shape`, the last axis innermost; yields the indices."""
        with contextlib.ExitStack() as stack:
            yield [stack.enter_context(self.for_range(size, f"{name}{axis}")) for axis, size in enumerate(shape)]

    def raise_if(self, condition: ir.Value, exception: str, message: str, args: Sequence[ir.Value] = ()) -> None:
        """Raise `exception(message.format(*args))` in the caller when `condition`
        holds, naming the source line of the node being lowered."""
        if self.source:
            message += " (at " + self.source.replace("{", "{{").replace("}", "}}") + ")"
        code = self.errors.code(exception, message)
        with self.builder.if_then(condition, likely=False):
            self.fail(code, args)

    def fail(self, code: int, args: Sequence[ir.Value] = ()) -> None:
        self.fail_with(ir.Constant(ir.IntType(32), code), args)

    def fail_with(self, code: ir.Value, args: Sequence[ir.Value] = ()) -> None:
        """Store the error's arguments, free the arena and return `code`."""
        b = self.builder
        for index, arg in enumerate(list(args)[:ERROR_ARGS]):
            b.store(self.to_i64(arg), b.gep(self.ctx, [const(ERROR_ARG_OFFSET + index)]))
        b.call(self.runtime["release"], [self.ctx])
        b.ret(code)

    def to_i64(self, value: ir.Value) -> ir.Value:
        if value.type == I64:
            return value
        if isinstance(value.type, ir.IntType):
            return self.builder.sext(value, I64) if value.type.width > 1 else self.builder.zext(value, I64)
        return self.builder.bitcast(self.builder.fpext(value, F64) if value.type == F32 else value, I64)

    # -- memory -----------------------------------------------------------------------
    def allocate_bytes(self, nbytes: ir.Value) -> ir.Value:
        return self._allocate_bytes(nbytes)[0]

    def _allocate_bytes(self, nbytes: ir.Value) -> tuple:
        """A new arena buffer, and its jitc_alloc call with the operands `place_in_slot` replaces."""
        no_slot, not_exact = ir.Constant(I64P, None), ir.Constant(I1, 0)  # this call's own objects
        pointer = self.builder.call(self.runtime["alloc"], [self.ctx, nbytes, no_slot, not_exact])
        with self.builder.if_then(self.builder.icmp_unsigned("==", pointer, ir.Constant(I8P, None)), likely=False):
            self.fail(self.errors.memory, [nbytes])
        return pointer, (pointer, no_slot, not_exact)

    def arena_slot(self) -> ir.Value:
        """An empty slot of the memory plan (buffer, capacity, bytes in use), for jitc_alloc."""
        slot = self.alloca_builder.alloca(I64, size=3, name="arena.slot")
        for index in range(3):
            self.alloca_builder.store(const(0), self.alloca_builder.gep(slot, [const(index)]))
        return slot

    def place_in_slot(self, data: ir.Value, slot: ir.Value, exact: bool) -> bool:
        """Make the allocation that gave tensor data `data` take `slot`'s
        buffer (jitc_alloc in runtime.py says when it can); False if `data`
        does not come straight from `allocate`."""
        allocation = self.allocations.get(data)
        if allocation is None:
            return False
        call, no_slot, not_exact = allocation
        call.replace_usage(no_slot, slot)
        if exact:
            call.replace_usage(not_exact, ir.Constant(I1, 1))
        return True

    def with_overflow(self, operation: str, x: ir.Value, y: ir.Value) -> tuple[ir.Value, ir.Value]:
        """(x op y, whether it overflowed) on i64, for op sadd, ssub or smul."""
        name = f"llvm.{operation}.with.overflow.i64"
        pair = self.builder.call(declare(self.module, name, ir.LiteralStructType([I64, I1]), [I64, I64]), [x, y])
        return self.builder.extract_value(pair, 0), self.builder.extract_value(pair, 1)

    def checked_size(self, factors: Sequence[ir.Value]) -> ir.Value:
        """The product of non-negative sizes, raising NumPy's ValueError where it overflows."""
        result, overflow = const(1), ir.Constant(I1, 0)
        for factor in factors:
            result, overflowed = self.with_overflow("smul", result, factor)
            overflow = self.builder.or_(overflow, overflowed)
        self.raise_if(overflow, "ValueError", "array is too big; `arr.size * arr.dtype.itemsize` is larger than "
                                              "the maximum possible size.")
        return result

    def product(self, values: Sequence[ir.Value]) -> ir.Value:
        result = const(1)
        for value in values:
            result = self.builder.mul(result, value)
        return result

    def allocate(self, dtype: DType, shape: Sequence[ir.Value]) -> NativeTensor:
        """A fresh C-contiguous tensor in the arena."""
        shape = list(shape)
        nbytes = self.checked_size([*shape, const(dtype.itemsize)])
        pointer, allocation = self._allocate_bytes(nbytes)
        data = self.builder.bitcast(pointer, storage_type(dtype).as_pointer())
        self.allocations[data] = allocation
        return NativeTensor(dtype, data, shape, self.contiguous_strides(shape))

    def contiguous_strides(self, shape: Sequence[ir.Value]) -> list:
        strides, stride = [], const(1)
        for size in reversed(shape):
            strides.append(stride)
            stride = self.builder.mul(stride, size)
        return strides[::-1]

    def element_pointer(self, tensor: NativeTensor, index: Sequence[ir.Value]) -> ir.Value:
        offset = const(0)
        for i, stride in zip(index, tensor.strides):
            offset = self.builder.add(offset, self.builder.mul(i, stride))
        return self.builder.gep(tensor.data, [offset])

    def separate_scopes(self) -> tuple:
        """Alias-scope metadata saying that accesses tagged with the first do
        not touch memory accessed through the second: an op's inputs and the
        fresh buffer it writes. With it LLVM vectorises loops whose output
        it could not otherwise tell apart from their inputs."""
        name = f"jitc.scope{len(self.module.metadata)}"
        domain = self.module.add_metadata([ir.MetaDataString(self.module, name)])
        reads, writes = (self.module.add_metadata([self.module.add_metadata(
            [ir.MetaDataString(self.module, f"{name}.{part}"), domain])]) for part in ("in", "out"))
        return (reads, writes), (writes, reads)

    def load(self, dtype: DType, pointer: ir.Value, scope=None) -> ir.Value:
        value = self.builder.load(pointer)
        _tag(value, scope)
        if dtype == DType.BOOL:
            return self.builder.icmp_unsigned("!=", value, ir.Constant(I8, 0))
        return self.builder.fpext(value, F32) if dtype == DType.FLOAT16 else value

    def store(self, dtype: DType, value: ir.Value, pointer: ir.Value, scope=None) -> None:
        if dtype == DType.BOOL:
            value = self.builder.zext(value, I8)
        elif dtype == DType.FLOAT16:
            value = self.builder.fptrunc(value, F16)
        _tag(self.builder.store(value, pointer), scope)

    def round_half(self, value: ir.Value) -> ir.Value:
        """A float32 register rounded to the nearest float16 (kept in float32)."""
        return self.builder.fpext(self.builder.fptrunc(value, F16), F32)

    def is_contiguous(self, tensor: NativeTensor) -> ir.Value:
        """True when `tensor` is laid out C-contiguously (size-1 dims may have any stride)."""
        b = self.builder
        result, expected = ir.Constant(I1, 1), const(1)
        for size, stride in zip(reversed(tensor.shape), reversed(tensor.strides)):
            ok = b.or_(b.icmp_signed("==", stride, expected), b.icmp_signed("<=", size, const(1)))
            result = b.and_(result, ok)
            expected = b.mul(expected, size)
        return result

    # -- values ---------------------------------------------------------------------------
    def cast(self, value: ir.Value, source: DType, target: DType) -> ir.Value:
        """Convert a register value between dtypes as NumPy's casts do."""
        b = self.builder
        if source == target:
            return value
        to = register_type(target)
        if isinstance(value, ir.Constant) and isinstance(value.constant, (int, float)):
            return _cast_constant(value.constant, target, to)
        if target == DType.FLOAT16 and source != DType.BOOL:  # one rounding, straight to float16
            if source == DType.FLOAT64:
                half = b.fptrunc(_to_float32_rounding_to_odd(b, value), F16)
            elif source.is_float:
                half = b.fptrunc(value, F16)
            else:
                half = (b.uitofp if source.is_unsigned else b.sitofp)(value, F16)
            return b.fpext(half, F32)
        if source == DType.FLOAT16:
            source = DType.FLOAT32  # its register is a float32
            if target == source:
                return value
        if target == DType.BOOL:
            if source.is_float:
                return b.fcmp_unordered("!=", value, ir.Constant(value.type, 0.0))
            return b.icmp_unsigned("!=", value, ir.Constant(value.type, 0))
        if source == DType.BOOL:
            return b.uitofp(value, to) if target.is_float else b.zext(value, to)
        if source.is_float and target.is_float:
            return b.fpext(value, to) if target.itemsize > source.itemsize else b.fptrunc(value, to)
        if source.is_float:
            return _float_to_integer(b, value, target, to)
        if target.is_float:
            return (b.uitofp if source.is_unsigned else b.sitofp)(value, to)
        if target.itemsize > source.itemsize:
            return (b.zext if source.is_unsigned else b.sext)(value, to)
        if target.itemsize == source.itemsize:
            return value  # int32 <-> uint32: the same bits
        return b.trunc(value, to)

    def copy_into(self, source: NativeTensor, target: NativeTensor) -> None:
        """target[...] = source, shapes equal, casting the elements, through
        one helper function per module, dtypes and rank: inlined, a copy of
        known small sizes unrolls fully, and models make many copies."""
        types = [TensorType(t.dtype, (ANY_DIM,) * t.rank) for t in (source, target)]
        name = f"jitc_copy.{source.dtype.value}.{target.dtype.value}.{target.rank}"
        helper = self.module.globals.get(name)
        if helper is None:
            count = slot_count(types[0])
            helper = ir.Function(self.module, ir.FunctionType(VOID, [I64P] + [I64] * (2 * count)), name)
            helper.linkage = "internal"
            helper.attributes.add("noinline")
            inner = FunctionEmitter(self.module, helper, self.errors)
            source_in, target_in = (unflatten(inner.builder, list(helper.args[1 + i * count:1 + (i + 1) * count]), t)
                                    for i, t in enumerate(types))
            with inner.loop_nest(target_in.shape, "copy") as index:
                value = inner.load(source.dtype, inner.element_pointer(source_in, index))
                inner.store(target.dtype, inner.cast(value, source.dtype, target.dtype),
                            inner.element_pointer(target_in, index))
            inner.builder.ret_void()
        flat = [slot for value, type in zip((source, target), types) for slot in flatten(self.builder, value, type)]
        self.builder.call(helper, [self.ctx, *flat])

    def contiguous(self, tensor: NativeTensor) -> NativeTensor:
        """`tensor` itself when C-contiguous at run time, else a contiguous copy."""
        b = self.builder
        data = self.alloca_builder.alloca(tensor.data.type)
        b.store(tensor.data, data)
        with b.if_then(b.not_(self.is_contiguous(tensor)), likely=False):
            copy = self.allocate(tensor.dtype, tensor.shape)
            self.copy_into(tensor, copy)
            b.store(copy.data, data)
        return NativeTensor(tensor.dtype, b.load(data), list(tensor.shape), self.contiguous_strides(tensor.shape))



def _to_float32_rounding_to_odd(b: ir.IRBuilder, value: ir.Value) -> ir.Value:
    """A double as a float32 whose rounding to float16 is the double's own
    (one rounding, as NumPy's): inexact results are truncated and made odd.
    LLVM would call __truncdfhf2 for a direct fptrunc, which the JIT cannot find."""
    i32 = ir.IntType(32)
    single = b.fptrunc(value, F32)
    back = b.fpext(single, F64)
    bits = b.bitcast(single, i32)
    away = b.fcmp_ordered(">", b.call(_fabs(b), [back]), b.call(_fabs(b), [value]))
    truncated = b.select(away, b.sub(bits, ir.Constant(i32, 1)), bits)
    odd = b.or_(truncated, ir.Constant(i32, 1))
    return b.bitcast(b.select(b.fcmp_ordered("!=", back, value), odd, bits), F32)


def _fabs(b: ir.IRBuilder) -> ir.Function:
    return declare(b.module, "llvm.fabs.f64", F64, [F64])


def _float_to_integer(b: ir.IRBuilder, value: ir.Value, target: DType, to: ir.Type) -> ir.Value:
    """Float to int as NumPy's C casts do on x86-64: unsigned targets go
    through int64, so -1.0 becomes 255 as a uint8 (fptoui would make it poison);
    uint64 converts as unsigned from 2**63 up."""
    if not target.is_unsigned:
        return b.fptosi(value, to)
    signed = b.fptosi(value, I64)
    if target != DType.UINT64:
        return b.trunc(signed, to)
    large = b.fcmp_ordered(">=", value, ir.Constant(value.type, 2.0 ** 63))
    return b.select(large, b.fptoui(value, I64), signed)


def _cast_constant(value, target: DType, to: ir.Type) -> ir.Constant:
    """A cast folded at compile time, so later lowerings see constants."""
    import numpy as np
    with np.errstate(all="ignore"):
        converted = np.array(value).astype(target.numpy)[()]
    return ir.Constant(to, float(converted) if target.is_float else int(converted))  # float16: exact in float32


def _tag(instruction, scope) -> None:
    if scope is not None:
        instruction.set_metadata("alias.scope", scope[0])
        instruction.set_metadata("noalias", scope[1])
