"""Running a loop on several cores: the loop body is outlined into its own
function `i32 chunk(i64* ctx, i64* closure, i64 start, i64 end)`, and the
caller splits [0, count) into pieces run by the process's thread pool
(thread_pool.py) and by itself; where the pool is off (JITC_THREAD_POOL=0,
exported libraries) it starts and joins POSIX threads on every call, and
then splits only loops large enough to pay for that.

Values the body uses cross into the chunk through `closure`, flattened to
i64 slots as layout.py does at every boundary. Each piece has its own
context (arena and error slots); the first failing piece's error is raised.
"""
from __future__ import annotations

import contextlib
import functools
import os
import re
import threading
from typing import Callable, Sequence

from llvmlite import ir

from ...ir.types import Type
from . import symbols, thread_pool
from .emitter import FunctionEmitter, const
from .layout import I8P, I32, I64, I64P, flatten, slot_count, unflatten
from .runtime import CONTEXT_SLOTS, ERROR_ARG_OFFSET, ERROR_ARGS, declare

# Split a loop only when each thread gets at least this many elements of work: threads
# started per call cost tens of µs, a split on the pool ~1 µs (~0.7 µs measured where no
# worker could help; 1 << 14 float32 adds take ~2 µs on one core).
MIN_WORK_PER_THREAD = 1 << 16
POOL_MIN_WORK_PER_THREAD = 1 << 14
PIECES_PER_THREAD = 4  # at most, on the pool, for loops above MIN_WORK_PER_THREAD per thread
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
    return symbols.define_from_process(PTHREAD_FUNCTIONS)


_per_call = threading.local()


def uses_pool() -> bool:
    """Whether modules compiled now split loops on the thread pool (part of the cache key)."""
    return threads_available() and thread_count() > 1 and thread_pool.enabled()


def splits_on_pool() -> bool:
    """Whether loops emitted now split on the thread pool (not threads per call)."""
    return uses_pool() and not getattr(_per_call, "on", False)


@contextlib.contextmanager
def threads_per_call():
    """Modules generated on this thread inside the block start threads per
    call instead of using the pool (an exported library holds no pool)."""
    previous = getattr(_per_call, "on", False)
    _per_call.on = True
    try:
        yield
    finally:
        _per_call.on = previous


def parallel_for(em: FunctionEmitter, count: ir.Value, work_per_item: ir.Value,
                 captures: Sequence[tuple[object, Type]], body: Callable, prologue: Callable | None = None) -> None:
    """for i in range(count): body(chunk_emitter, captured_values, i), split
    across threads when count * work_per_item is large. `body` emits into
    the chunk emitter and may only use the captured values; `prologue(chunk
    emitter, captured values)`, if given, runs once per chunk before the loop
    and its result is appended to the values the body gets (scratch space)."""
    def ranges(inner, values, start, end):
        if prologue is not None:
            values = [*values, prologue(inner, values)]
        with inner.for_range(inner.builder.sub(end, start), "chunk") as offset:
            body(inner, values, inner.builder.add(start, offset))

    parallel_ranges(em, count, work_per_item, captures, ranges)


def parallel_ranges(em: FunctionEmitter, count: ir.Value, work_per_item: ir.Value,
                    captures: Sequence[tuple[object, Type]], body: Callable) -> None:
    """body(chunk_emitter, captured_values, start, end) for pieces [start, end)
    that together cover [0, count), split across threads as parallel_for
    does: for a body that walks its piece in its own order."""
    chunk = _outline(em, captures, body)
    b = em.builder
    closure = em.stack_slots(sum(slot_count(t) for _, t in captures), "closure")
    em.store_slots([slot for value, type in captures for slot in flatten(b, value, type)], closure)
    code = b.call(_runner(em), [em.ctx, b.bitcast(chunk, I8P), closure, count, work_per_item])
    with b.if_then(b.icmp_signed("!=", code, ir.Constant(I32, 0)), likely=False):
        em.fail_with(code)  # the runner left the error's arguments in ctx


def _runner(em: FunctionEmitter) -> ir.Function:
    """i32 jitc_parallel(ctx, chunk, closure, count, work): runs chunk over
    [0, count) in as many pieces as the work pays for (see _split_on_pool
    and _split_per_call); returns the first failing piece's code with its
    error arguments copied into ctx. Emitted once per module."""
    module = em.module
    existing = module.globals.get("jitc_parallel")
    if existing is not None:
        return existing
    function = ir.Function(module, ir.FunctionType(I32, [I64P, I8P, I64P, I64, I64]), "jitc_parallel")
    function.linkage = "internal"
    runner = FunctionEmitter(module, function, em.errors)
    threads = thread_count() if threads_available() else 1
    if threads > 1 and splits_on_pool():
        _split_on_pool(runner, *function.args, min(threads, thread_pool.MAX_PIECES // PIECES_PER_THREAD))
    else:
        _split_per_call(runner, *function.args, threads)
    return function


def _split_on_pool(runner: FunctionEmitter, ctx, chunk, closure, count, work_per_item, threads: int) -> None:
    """Emit the runner's body on the pool. A loop with at least
    POOL_MIN_WORK_PER_THREAD elements per thread is split. One with less than
    MIN_WORK_PER_THREAD per thread (which threads per call would not split)
    goes in one piece per thread, so that each thread finds its part of the
    data in its cache on the next call; a larger one in up to
    PIECES_PER_THREAD per thread, so that a thread that lags (its core
    busy with another process) holds up the others for less. One piece, a
    taken pool, or workers that have not helped lately (thread_pool.py):
    all of [0, count) runs here."""
    b = runner.builder
    most = threads * PIECES_PER_THREAD
    contexts = runner.alloca_builder.alloca(I64, size=most * CONTEXT_SLOTS, name="chunk_contexts")
    codes = runner.alloca_builder.alloca(I64, size=most, name="codes")
    work = b.mul(count, work_per_item)
    small = b.icmp_signed("<", work, const(threads * MIN_WORK_PER_THREAD))
    wanted = b.sdiv(work, const(POOL_MIN_WORK_PER_THREAD))
    pieces = b.select(small, b.select(b.icmp_signed("<", wanted, const(threads)), wanted, const(threads)),
                      b.select(b.icmp_signed("<", wanted, const(most)), wanted, const(most)))
    pieces = b.select(b.icmp_signed(">", pieces, count), count, pieces)
    pieces = b.select(b.icmp_signed("<", pieces, const(1)), const(1), pieces)
    done = runner.alloca_builder.alloca(ir.IntType(1), name="split")
    b.store(ir.Constant(ir.IntType(1), 0), done)
    with b.if_then(b.icmp_signed(">", pieces, const(1))):
        split = thread_pool.emit_split(runner.module, threads)
        b.store(b.call(split, [chunk, closure, count, pieces, contexts, codes, small]), done)
    with b.if_then(b.not_(b.load(done))):
        for slot in range(CONTEXT_SLOTS):
            b.store(const(0), b.gep(contexts, [const(slot)]))
        chunk_type = ir.FunctionType(I32, [I64P, I64P, I64, I64])
        code = b.call(b.bitcast(chunk, chunk_type.as_pointer()), [contexts, closure, const(0), count])
        with b.if_then(b.icmp_signed("!=", code, ir.Constant(I32, 0)), likely=False):
            _copy_error(runner, ctx, contexts)
            b.ret(code)
        b.ret(ir.Constant(I32, 0))
    with runner.for_range(pieces, "piece") as piece:  # the first failing piece's error
        code = b.load(b.gep(codes, [piece]))
        with b.if_then(b.icmp_signed("!=", code, const(0)), likely=False):
            _copy_error(runner, ctx, b.gep(contexts, [b.mul(piece, const(CONTEXT_SLOTS))]))
            b.ret(b.trunc(code, I32))
    b.ret(ir.Constant(I32, 0))


def _copy_error(runner: FunctionEmitter, ctx, context) -> None:
    """Copy the error arguments a piece left in its `context` into the caller's `ctx`."""
    b = runner.builder
    source = b.gep(context, [const(ERROR_ARG_OFFSET)])
    for index, value in enumerate(runner.load_slots(source, ERROR_ARGS)):
        b.store(value, b.gep(ctx, [const(ERROR_ARG_OFFSET + index)]))


def _split_per_call(runner: FunctionEmitter, ctx, chunk, closure, count, work_per_item, threads: int) -> None:
    """Emit the runner's body with threads per call: one piece per
    MIN_WORK_PER_THREAD elements, at most `threads`, all but the first on
    POSIX threads started and joined here (a thread that cannot start has
    its piece run here)."""
    b, module = runner.builder, runner.module
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
            _copy_error(runner, ctx, b.gep(contexts, [const(t * CONTEXT_SLOTS)]))
            b.ret(b.trunc(code, I32))
    b.ret(ir.Constant(I32, 0))


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


def _outline(em: FunctionEmitter, captures, body) -> ir.Function:
    """The chunk function: rebuilds the captured values from the closure, then body(inner, values, start, end)."""
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
    body(inner, values, start, end)
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
