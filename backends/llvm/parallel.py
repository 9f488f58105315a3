"""Running a loop on several cores: the loop body is outlined into its own
function `i32 chunk(i64* ctx, i64* closure, i64 start, i64 end)`, and the
caller splits [0, count) across POSIX threads it starts and joins itself
(no pool, so concurrent calls share nothing; a region is only split when
it is large enough to pay for starting threads).

Values the body uses cross into the chunk through `closure`, flattened to
i64 slots as layout.py does at every boundary. Each chunk has its own
context (arena and error slots); the first failing chunk's error is raised.
"""
from __future__ import annotations

import ctypes
import functools
import os
import re
from typing import Callable, Sequence

from llvmlite import ir

from ...ir.types import Type
from . import symbols
from .emitter import FunctionEmitter, const
from .layout import I8P, I32, I64, I64P, flatten, slot_count, unflatten
from .runtime import CONTEXT_SLOTS, ERROR_ARG_OFFSET, ERROR_ARGS, declare

# Split a loop only when each thread gets at least this many elements of work.
MIN_WORK_PER_THREAD = 1 << 16
# POSIX functions the code calls as jitc_<name> (the JIT binds them by address, an export by name)
PTHREAD_FUNCTIONS = ("pthread_create", "pthread_join")
_ARGUMENT_SLOTS = 6   # chunk, ctx, closure, start, end, code


@functools.cache
def thread_count() -> int:
    """JITC_NUM_THREADS, else the cores this process may run on."""
    configured = os.environ.get("JITC_NUM_THREADS")
    if configured:
        return max(1, int(configured))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@functools.cache
def threads_available() -> bool:
    libc = ctypes.CDLL(None)
    try:
        for name in PTHREAD_FUNCTIONS:
            symbols.define(f"jitc_{name}", ctypes.cast(getattr(libc, name), ctypes.c_void_p).value)
    except AttributeError:
        return False
    return True


def parallel_for(em: FunctionEmitter, count: ir.Value, work_per_item: ir.Value,
                 captures: Sequence[tuple[object, Type]], body: Callable, prologue: Callable | None = None) -> None:
    """for i in range(count): body(chunk_emitter, captured_values, i), split
    across threads when count * work_per_item is large. `body` emits into
    the chunk emitter and may only use the captured values; `prologue(chunk
    emitter, captured values)`, if given, runs once per chunk before the loop
    and its result is appended to the values the body gets (scratch space)."""
    chunk = _outline(em, captures, body, prologue)
    b = em.builder
    closure = em.stack_slots(sum(slot_count(t) for _, t in captures), "closure")
    em.store_slots([slot for value, type in captures for slot in flatten(b, value, type)], closure)
    code = b.call(_runner(em), [em.ctx, b.bitcast(chunk, I8P), closure, count, work_per_item])
    with b.if_then(b.icmp_signed("!=", code, ir.Constant(I32, 0)), likely=False):
        em.fail_with(code)  # the runner left the error's arguments in ctx


def _runner(em: FunctionEmitter) -> ir.Function:
    """i32 jitc_parallel(ctx, chunk, closure, count, work): runs chunk over
    [0, count) on as many threads as the work pays for (one per
    MIN_WORK_PER_THREAD elements, at most thread_count()); returns the first
    failing chunk's code with its error arguments copied into ctx. Emitted
    once per module."""
    module = em.module
    existing = module.globals.get("jitc_parallel")
    if existing is not None:
        return existing
    function = ir.Function(module, ir.FunctionType(I32, [I64P, I8P, I64P, I64, I64]), "jitc_parallel")
    function.linkage = "internal"
    runner = FunctionEmitter(module, function, em.errors)
    b = runner.builder
    ctx, chunk, closure, count, work_per_item = function.args
    threads = thread_count() if threads_available() else 1
    contexts = runner.alloca_builder.alloca(I64, size=threads * CONTEXT_SLOTS, name="chunk_contexts")
    for slot in range(threads * CONTEXT_SLOTS):
        b.store(const(0), b.gep(contexts, [const(slot)]))
    wanted = b.sdiv(b.mul(count, work_per_item), const(MIN_WORK_PER_THREAD))
    used = b.select(b.icmp_signed("<", wanted, const(threads)), wanted, const(threads))
    used = b.select(b.icmp_signed(">", used, count), count, used)
    used = b.select(b.icmp_signed("<", used, const(1)), const(1), used)
    arguments = runner.alloca_builder.alloca(I64, size=threads * _ARGUMENT_SLOTS, name="chunk_arguments")
    handles = runner.alloca_builder.alloca(I64, size=threads, name="threads")
    started = runner.alloca_builder.alloca(I64, size=threads, name="started")
    trampoline = _trampoline(module)
    create = declare(module, "jitc_pthread_create", I32, [I64P, I8P, trampoline.type, I8P])
    join = declare(module, "jitc_pthread_join", I32, [I64, I8P])
    per_thread = b.sdiv(b.add(count, b.sub(used, const(1))), used)
    for t in range(threads):  # thread t takes [t * per_thread, min(count, (t + 1) * per_thread))
        start = b.mul(const(t), per_thread)
        start = b.select(b.icmp_signed(">", start, count), count, start)
        end = b.add(start, per_thread)
        end = b.select(b.icmp_signed(">", end, count), count, end)
        slot = b.gep(arguments, [const(t * _ARGUMENT_SLOTS)])
        for index, value in enumerate((b.ptrtoint(chunk, I64), b.ptrtoint(b.gep(contexts, [const(t * CONTEXT_SLOTS)]), I64),
                                       b.ptrtoint(closure, I64), start, end, const(0))):
            b.store(value, b.gep(slot, [const(index)]))
        b.store(const(0), b.gep(started, [const(t)]))
        if t == 0:
            continue
        with b.if_then(b.icmp_signed("<", const(t), used)):
            failed = b.call(create, [b.gep(handles, [const(t)]), ir.Constant(I8P, None), trampoline,
                                     b.bitcast(slot, I8P)])
            with b.if_else(b.icmp_signed("==", failed, ir.Constant(I32, 0))) as (ok, no_thread):
                with ok:
                    b.store(const(1), b.gep(started, [const(t)]))
                with no_thread:  # could not start a thread: run its share here
                    b.call(trampoline, [b.bitcast(slot, I8P)])
    b.call(trampoline, [b.bitcast(arguments, I8P)])
    for t in range(1, threads):
        with b.if_then(b.icmp_signed("!=", b.load(b.gep(started, [const(t)])), const(0))):
            b.call(join, [b.load(b.gep(handles, [const(t)])), ir.Constant(I8P, None)])
    for t in range(threads):
        code = b.load(b.gep(arguments, [const(t * _ARGUMENT_SLOTS + 5)]))
        with b.if_then(b.icmp_signed("!=", code, const(0)), likely=False):
            source = b.gep(contexts, [const(t * CONTEXT_SLOTS + ERROR_ARG_OFFSET)])
            for index, value in enumerate(runner.load_slots(source, ERROR_ARGS)):
                b.store(value, b.gep(ctx, [const(ERROR_ARG_OFFSET + index)]))
            b.ret(b.trunc(code, I32))
    b.ret(ir.Constant(I32, 0))
    return function


def _trampoline(module: ir.Module) -> ir.Function:
    """void *jitc_trampoline(i64 *arguments): arguments[5] = chunk(ctx, closure, start, end)."""
    existing = module.globals.get("jitc_trampoline")
    if existing is not None:
        return existing
    function = ir.Function(module, ir.FunctionType(I8P, [I8P]), "jitc_trampoline")
    function.linkage = "internal"
    b = ir.IRBuilder(function.append_basic_block("entry"))
    slots = b.bitcast(function.args[0], I64P)
    values = [b.load(b.gep(slots, [const(i)])) for i in range(5)]
    chunk_type = ir.FunctionType(I32, [I64P, I64P, I64, I64])
    chunk = b.inttoptr(values[0], chunk_type.as_pointer())
    code = b.call(chunk, [b.inttoptr(values[1], I64P), b.inttoptr(values[2], I64P), values[3], values[4]])
    b.store(b.sext(code, I64), b.gep(slots, [const(5)]))
    b.ret(ir.Constant(I8P, None))
    return function


def _outline(em: FunctionEmitter, captures, body, prologue) -> ir.Function:
    name = em.module.get_unique_name(f"{em.function.name}.chunk")
    function = ir.Function(em.module, ir.FunctionType(I32, [I64P, I64P, I64, I64]), name)
    function.linkage = "internal"
    function.attributes.add("noinline")  # optimised once, wherever it runs from (see _shared)
    inner = FunctionEmitter(em.module, function, em.errors)
    inner.source = em.source
    _, closure, start, end = function.args
    flat = inner.load_slots(closure, sum(slot_count(t) for _, t in captures))
    values, position = [], 0
    for _, type in captures:
        count = slot_count(type)
        values.append(unflatten(inner.builder, flat[position:position + count], type))
        position += count
    if prologue is not None:
        values.append(prologue(inner, values))
    with inner.for_range(inner.builder.sub(end, start), "chunk") as offset:
        body(inner, values, inner.builder.add(start, offset))
    inner.builder.call(inner.runtime["release"], [inner.ctx])
    inner.builder.ret(ir.Constant(I32, 0))
    return _shared(em.module, function)


_METADATA = re.compile(r"!(\d+)")


def _shared(module: ir.Module, function: ir.Function) -> ir.Function:
    """An identical chunk already in `module` in place of `function` (then
    dropped), else `function`: unrolled heads and layers repeat the same
    loops, and LLVM then optimises and compiles each only once. Identical
    means the same text up to the function's name and the numbering of
    the metadata it refers to (alias scopes of its own)."""
    text = str(function).replace(f'"{function.name}"', "").replace(function.name, "", 1)
    numbers: dict[str, str] = {}
    text = _METADATA.sub(lambda match: "!m" + numbers.setdefault(match.group(1), str(len(numbers))), text)
    chunks = module.__dict__.setdefault("_jitc_chunks", {})
    existing = chunks.get(text)
    if existing is None:
        chunks[text] = function
        return function
    del module.globals[function.name]
    return existing


def interleave(module: ir.Module, index, count: int) -> None:
    """Ask LLVM to interleave the loop of `index` (a for_range phi) `count`
    times: that many vector accumulators, so that a reduction is not one
    chain of dependent adds. The pipeline interleaves only loops that ask
    (engine.py). Measured on layernorm_softmax 4096x1024 (rows.py), one
    thread: no interleaving 6.3 ms, 2 (fills) / 4 (reductions only) 4.8 ms,
    4 / 4 4.5 ms but +70 ms to compile the GPT-2 example (2 / 4: +30 ms)."""
    option = module.add_metadata([ir.MetaDataString(module, "llvm.loop.interleave.count"), ir.IntType(32)(count)])
    serial = module.__dict__["_jitc_loop_ids"] = module.__dict__.get("_jitc_loop_ids", 0) + 1
    loop_id = module.add_metadata([option, ir.MetaDataString(module, f"jitc.loop.{serial}")])
    loop_id.operands = (loop_id, *loop_id.operands)  # a loop ID refers to itself first
    index.incomings[-1][1].terminator.set_metadata("llvm.loop", loop_id)
