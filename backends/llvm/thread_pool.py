"""A persistent pool of native threads for parallel loops (parallel.py).

Starting and joining POSIX threads on every call costs tens of µs; handing
a loop to threads that already run costs about one. The pool's state is
one process-global block of i64 slots, `jitc_pool`, allocated and zeroed
here and registered with symbols.define; the code that runs the pool is
emitted into every module as internal functions (object code from the
cache then works in any process), and workers run the code of the module
that started them (loaded code lives as long as the process).

How a loop is split (deadlock-free whatever the workers do):
- The caller takes the pool with a try-lock (BUSY 0 -> 1). A caller that
  finds it taken (another Python thread's call, a loop nested in a chunk)
  runs its loop serially on its own thread.
- It writes the job (chunk, closure, contexts, codes, count, piece size)
  and publishes WORD = generation << 24 | pieces << 12 | next piece, with
  next = 1: piece 0 is the caller's, so that with two threads each keeps
  its part of the data in its own cache from call to call.
- The caller and the workers claim pieces by cmpxchg WORD -> WORD + 1
  while next < pieces. A worker holding the word of a finished job fails
  its cmpxchg (the word has moved on), so it never runs a piece of a job
  that is over.
- Whoever runs a piece adds 1 to FINISHED. The caller, once nothing is left
  to claim, waits for FINISHED == pieces: only for pieces another thread
  has claimed and is running. Workers that sleep, lag or were never
  started (a forked child) leave every piece to the caller.
- Idle workers spin (`pause`, then yielding the core) for at most
  SPIN_NANOSECONDS, then sleep on a futex (WAKE), counted in SLEEPERS; a
  dispatcher that sees sleepers bumps WAKE and wakes them (both sides
  sequentially consistent, so either the worker sees the job or the
  dispatcher sees the sleeper).
- A small loop (`small`) runs serially after _MISSES_BEFORE_SERIAL splits
  in a row that no worker helped with (from another CPU than the caller's,
  and without the caller waiting for it half as long as it worked itself),
  split again every _PROBE_EVERY.

JITC_THREAD_POOL=0 turns the pool off (parallel.py then starts threads per
call, as exported libraries always do).
"""
from __future__ import annotations

import ctypes
import functools
import os
import platform
import sys
import threading

from llvmlite import ir

from . import symbols
from .layout import I1, I8P, I32, I64, I64P, VOID
from .runtime import CONTEXT_SLOTS, declare

POOL_SYMBOL = "jitc_pool"
POOL_SLOTS = 40
# Slots of the pool block; groups written by different threads lie on different cache lines.
_WORD, _FINISHED, _HELPED = 0, 8, 9
_CHUNK, _CLOSURE, _CONTEXTS, _CODES, _COUNT, _PER_PIECE, _CALLER_CPU = range(16, 23)
_SLEEPERS, _WAKE = 24, 25
_BUSY, _STARTED, _MISSES = 32, 33, 34
_PIECE_BITS = 12
MAX_PIECES = (1 << _PIECE_BITS) - 1
# An idle worker spins this long before it sleeps (a benchmark loop's calls come µs apart;
# longer spinning would take a core from other processes); the clock is read every _SPINS_PER_CLOCK.
# It spins with `pause` _PAUSE_SPINS times (~30 µs), then yields between checks: where the
# machine is busy the scheduler puts a worker on its caller's core, and a worker that only
# paused there held the caller to half the core (batch-1 MLP, load 5 on 2 cores: 29 µs a call).
SPIN_NANOSECONDS = 200_000
_SPINS_PER_CLOCK = 64
_PAUSE_SPINS = 1024
# A caller waiting for a worker's piece spins this many times, then yields its core between checks.
_WAIT_SPINS = 256
# After this many splits in a row where no worker ran a piece (every core busy elsewhere, or
# the worker on the caller's core), small loops run serially, split only every _PROBE_EVERY
# calls to see whether workers are back: on the batch-1 MLP with both cores taken by other
# processes, a split no worker helps with costs ~0.7 µs.
_MISSES_BEFORE_SERIAL = 4
_PROBE_EVERY = 16
# POSIX functions the pool calls as jitc_<name>
FUNCTIONS = ("pthread_create", "pthread_detach", "sched_yield", "clock_gettime", "syscall", "sched_getcpu")
_FUTEX_SYSCALL = {"x86_64": 202, "aarch64": 98, "arm64": 98, "riscv64": 98, "ppc64le": 221, "s390x": 238}
_FUTEX_WAIT_PRIVATE, _FUTEX_WAKE_PRIVATE = 128, 129
_CLOCK_MONOTONIC = 1
_X86 = platform.machine() in ("x86_64", "i686", "i386")

_lock = threading.Lock()
_state: dict = {}  # "enabled": the answer of `enabled`; "buffer": the pool block's memory, kept alive


def enabled() -> bool:
    """Whether parallel loops use the pool: not switched off by
    JITC_THREAD_POOL=0, on Linux with a known futex system call number and
    the POSIX functions found. The first call allocates the one pool block
    of the process and defines the symbols compiled code refers to."""
    with _lock:
        if "enabled" not in _state:
            _state["enabled"] = _set_up()
        return _state["enabled"]


def _set_up() -> bool:
    if os.environ.get("JITC_THREAD_POOL", "1").strip() == "0":
        return False
    if not sys.platform.startswith("linux") or platform.machine() not in _FUTEX_SYSCALL:
        return False
    if not symbols.define_from_process(FUNCTIONS):
        return False
    symbols.define(POOL_SYMBOL, _allocate())
    return True


def _allocate() -> int:
    """A zeroed pool block aligned to 128 bytes, zeroed again in a forked child
    (which has none of the parent's workers: its first split starts its own)."""
    buffer = _state["buffer"] = (ctypes.c_int64 * (POOL_SLOTS + 16))()
    address = (ctypes.addressof(buffer) + 127) & ~127
    os.register_at_fork(after_in_child=functools.partial(ctypes.memset, address, 0, POOL_SLOTS * 8))
    return address


def emit_split(module: ir.Module, threads: int) -> ir.Function:
    """i1 jitc_pool_split(i8* chunk, i64* closure, i64 count, i64 pieces,
    i64* contexts, i64* codes, i1 small): runs chunk over `pieces` equal
    parts of [0, count) on the pool and this thread (piece p with context p,
    its code in codes[p]); false, having run nothing, when the pool is
    taken, or when the loop is `small` and workers have not helped lately.
    Emitted once per module; `threads` is how many the pool holds."""
    existing = module.globals.get("jitc_pool_split")
    if existing is not None:
        return existing
    function, b = _function(module, "jitc_pool_split", I1, [I8P, I64P, I64, I64, I64P, I64P, I1])
    chunk, closure, count, pieces, contexts, codes, small = function.args
    spins = b.alloca(I64, name="spins")
    pool = _pool(b, module)
    taken = b.extract_value(b.cmpxchg(_slot(b, pool, _BUSY), _i64(0), _i64(1), "acquire", "monotonic"), 1)
    with b.if_then(b.not_(taken), likely=False):
        b.ret(ir.Constant(I1, 0))
    misses = b.load(_slot(b, pool, _MISSES))  # only the pool's holder reads and writes it
    unhelped = b.icmp_unsigned(">=", misses, _i64(_MISSES_BEFORE_SERIAL))
    probe = b.icmp_unsigned("==", b.and_(misses, _i64(_PROBE_EVERY - 1)), _i64(0))
    with b.if_then(b.and_(small, b.and_(unhelped, b.not_(probe)))):
        b.store(b.add(misses, _i64(1)), _slot(b, pool, _MISSES))
        b.store_atomic(_i64(0), _slot(b, pool, _BUSY), "release", 8)
        b.ret(ir.Constant(I1, 0))
    started = b.load_atomic(_slot(b, pool, _STARTED), "monotonic", 8)
    with b.if_then(b.icmp_unsigned("==", started, _i64(0)), likely=False):
        b.call(_emit_start(module, threads), [pool])
    per_piece = b.udiv(b.add(count, b.sub(pieces, _i64(1))), pieces)
    for slot, value in ((_CHUNK, b.ptrtoint(chunk, I64)), (_CLOSURE, b.ptrtoint(closure, I64)),
                        (_CONTEXTS, b.ptrtoint(contexts, I64)), (_CODES, b.ptrtoint(codes, I64)),
                        (_COUNT, count), (_PER_PIECE, per_piece)):
        b.store(value, _slot(b, pool, slot))
    b.store(b.sext(b.call(_getcpu(module), []), I64), _slot(b, pool, _CALLER_CPU))
    b.store_atomic(_i64(0), _slot(b, pool, _FINISHED), "monotonic", 8)
    b.store_atomic(_i64(0), _slot(b, pool, _HELPED), "monotonic", 8)
    generation = b.add(b.lshr(b.load_atomic(_slot(b, pool, _WORD), "monotonic", 8), _i64(2 * _PIECE_BITS)), _i64(1))
    word = b.or_(b.shl(generation, _i64(2 * _PIECE_BITS)), b.or_(b.shl(pieces, _i64(_PIECE_BITS)), _i64(1)))
    b.store_atomic(word, _slot(b, pool, _WORD), "seq_cst", 8)
    sleepers = b.load_atomic(_slot(b, pool, _SLEEPERS), "seq_cst", 8)
    with b.if_then(b.icmp_unsigned("!=", sleepers, _i64(0)), likely=False):
        wake = _wake_word(b, pool)
        b.atomic_rmw("add", wake, ir.Constant(I32, 1), "seq_cst")
        b.call(_syscall(module), [_i64(_FUTEX_SYSCALL[platform.machine()]), b.ptrtoint(wake, I64),
                                  _i64(_FUTEX_WAKE_PRIVATE), _i64(0x7FFFFFFF)])
    run_piece = _emit_piece(module)
    timespec = b.alloca(I64, size=2, name="timespec")
    published = _now(module, b, timespec)
    b.call(run_piece, [pool, _i64(0)])
    b.call(_emit_work(module, run_piece, worker=False), [pool])
    worked = _now(module, b, timespec)
    _wait_for(module, b, pool, pieces, spins)
    waited = b.sub(_now(module, b, timespec), worked)
    # helped: a worker on another CPU ran a piece, and the caller waited for it less than half
    # as long as it worked itself (a worker whose core another process shares lags behind:
    # batch-1 MLP with a busy loop on the other core, 15.5 us a call instead of 12 serially)
    lagged = b.icmp_signed(">", b.mul(waited, _i64(2)), b.sub(worked, published))
    unhelped = b.icmp_unsigned("==", b.load_atomic(_slot(b, pool, _HELPED), "monotonic", 8), _i64(0))
    missed = b.or_(unhelped, lagged)
    b.store(b.select(missed, b.add(misses, _i64(1)), _i64(0)), _slot(b, pool, _MISSES))
    b.store_atomic(_i64(0), _slot(b, pool, _BUSY), "release", 8)
    b.ret(ir.Constant(I1, 1))
    return function


def _wait_for(module, b: ir.IRBuilder, pool, pieces, spins) -> None:
    """Wait until FINISHED == pieces: spin _WAIT_SPINS times, then yield between checks."""
    b.store(_i64(0), spins)
    check, waiting, done = (b.append_basic_block(name) for name in ("check", "waiting", "done"))
    b.branch(check)
    b.position_at_end(check)
    finished = b.load_atomic(_slot(b, pool, _FINISHED), "acquire", 8)
    b.cbranch(b.icmp_unsigned("==", finished, pieces), done, waiting)
    b.position_at_end(waiting)
    _back_off(module, b, spins, _WAIT_SPINS)
    b.branch(check)
    b.position_at_end(done)


def _emit_piece(module: ir.Module) -> ir.Function:
    """void jitc_pool_piece(i64* pool, i64 piece): run a claimed piece of the
    published job with context `piece`, store its code, count it finished."""
    existing = module.globals.get("jitc_pool_piece")
    if existing is not None:
        return existing
    function, b = _function(module, "jitc_pool_piece", VOID, [I64P, I64])
    function.attributes.add("noinline")
    pool, piece = function.args
    count, per_piece = b.load(_slot(b, pool, _COUNT)), b.load(_slot(b, pool, _PER_PIECE))
    start = b.mul(piece, per_piece)
    start = b.select(b.icmp_unsigned(">", start, count), count, start)
    end = b.add(start, per_piece)
    end = b.select(b.icmp_unsigned(">", end, count), count, end)
    chunk_type = ir.FunctionType(I32, [I64P, I64P, I64, I64])
    chunk = b.inttoptr(b.load(_slot(b, pool, _CHUNK)), chunk_type.as_pointer())
    contexts = b.inttoptr(b.load(_slot(b, pool, _CONTEXTS)), I64P)
    context = b.gep(contexts, [b.mul(piece, _i64(CONTEXT_SLOTS))])
    for slot in range(CONTEXT_SLOTS):  # an empty arena, no error arguments
        b.store(_i64(0), b.gep(context, [_i64(slot)]))
    closure = b.inttoptr(b.load(_slot(b, pool, _CLOSURE)), I64P)
    code = b.call(chunk, [context, closure, start, end])
    codes = b.inttoptr(b.load(_slot(b, pool, _CODES)), I64P)
    b.store(b.sext(code, I64), b.gep(codes, [piece]))
    b.atomic_rmw("add", _slot(b, pool, _FINISHED), _i64(1), "release")
    b.ret_void()
    return function


def _emit_work(module: ir.Module, run_piece: ir.Function, worker: bool) -> ir.Function:
    """void jitc_pool_work(i64* pool): claim and run pieces of the published
    job until none is left to claim. A worker running on another CPU than
    the caller counts each piece it runs in HELPED first (before the piece
    counts as finished): a worker the scheduler put on the caller's own
    core runs pieces but saves no time (batch-1 MLP: 15 µs a call instead
    of 11.5 µs serially), so the caller must not count that as help."""
    name = "jitc_pool_help" if worker else "jitc_pool_work"
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    function, b = _function(module, name, VOID, [I64P])
    pool = function.args[0]
    claim, run = function.append_basic_block("claim"), function.append_basic_block("run")
    b.branch(claim)
    b.position_at_end(claim)
    word = b.load_atomic(_slot(b, pool, _WORD), "monotonic", 8)
    with b.if_then(b.not_(_claimable(b, word))):
        b.ret_void()
    claimed = b.extract_value(b.cmpxchg(_slot(b, pool, _WORD), word, b.add(word, _i64(1)), "acq_rel", "monotonic"), 1)
    b.cbranch(claimed, run, claim)
    b.position_at_end(run)
    if worker:
        cpu = b.sext(b.call(_getcpu(module), []), I64)
        with b.if_then(b.icmp_signed("!=", cpu, b.load(_slot(b, pool, _CALLER_CPU)))):
            b.atomic_rmw("add", _slot(b, pool, _HELPED), _i64(1), "monotonic")
    b.call(run_piece, [pool, b.and_(word, _i64(MAX_PIECES))])
    b.branch(claim)
    return function


def _emit_start(module: ir.Module, threads: int) -> ir.Function:
    """void jitc_pool_start(i64* pool): the first caller to get here starts
    threads - 1 detached workers (one that fails to start leaves its work to callers)."""
    existing = module.globals.get("jitc_pool_start")
    if existing is not None:
        return existing
    function, b = _function(module, "jitc_pool_start", VOID, [I64P])
    function.attributes.add("noinline")
    function.attributes.add("cold")
    pool = function.args[0]
    first = b.extract_value(b.cmpxchg(_slot(b, pool, _STARTED), _i64(0), _i64(1), "seq_cst", "seq_cst"), 1)
    with b.if_then(b.not_(first)):
        b.ret_void()
    worker = _emit_worker(module)
    create = declare(module, "jitc_pthread_create", I32, [I64P, I8P, worker.type, I8P])
    detach = declare(module, "jitc_pthread_detach", I32, [I64])
    handle = b.alloca(I64, name="handle")
    for _ in range(threads - 1):
        failed = b.call(create, [handle, ir.Constant(I8P, None), worker, b.bitcast(pool, I8P)])
        with b.if_then(b.icmp_signed("==", failed, ir.Constant(I32, 0))):
            b.call(detach, [b.load(handle)])
    b.ret_void()
    return function


def _emit_worker(module: ir.Module) -> ir.Function:
    """i8* jitc_pool_worker(i8* pool): a worker's loop: run what it can
    claim; when idle, spin up to SPIN_NANOSECONDS, then sleep on the futex."""
    function, b = _function(module, "jitc_pool_worker", I8P, [I8P])
    pool = b.bitcast(function.args[0], I64P)
    spins, started = b.alloca(I64, name="spins"), b.alloca(I64, name="idle_since")
    timespec = b.alloca(I64, size=2, name="timespec")
    work, spin, clock, sleep = (function.append_basic_block(name) for name in ("work", "spin", "clock", "sleep"))
    b.branch(work)

    b.position_at_end(work)
    b.call(_emit_work(module, _emit_piece(module), worker=True), [pool])
    b.store(_i64(0), spins)
    b.store(_now(module, b, timespec), started)
    b.branch(spin)

    b.position_at_end(spin)
    word = b.load_atomic(_slot(b, pool, _WORD), "monotonic", 8)
    with b.if_then(_claimable(b, word)):
        b.branch(work)
    count = _back_off(module, b, spins, _PAUSE_SPINS)
    b.cbranch(b.icmp_unsigned("==", b.and_(count, _i64(_SPINS_PER_CLOCK - 1)), _i64(0)), clock, spin)

    b.position_at_end(clock)
    idle = b.sub(_now(module, b, timespec), b.load(started))
    b.cbranch(b.icmp_signed("<", idle, _i64(SPIN_NANOSECONDS)), spin, sleep)

    b.position_at_end(sleep)
    wake = _wake_word(b, pool)
    seen = b.load_atomic(wake, "acquire", 4)
    b.atomic_rmw("add", _slot(b, pool, _SLEEPERS), _i64(1), "seq_cst")
    word = b.load_atomic(_slot(b, pool, _WORD), "seq_cst", 8)
    with b.if_then(b.not_(_claimable(b, word))):
        b.call(_syscall(module), [_i64(_FUTEX_SYSCALL[platform.machine()]), b.ptrtoint(wake, I64),
                                  _i64(_FUTEX_WAIT_PRIVATE), b.zext(seen, I64), _i64(0)])
    b.atomic_rmw("sub", _slot(b, pool, _SLEEPERS), _i64(1), "seq_cst")
    b.branch(work)
    return function


def _claimable(b: ir.IRBuilder, word) -> ir.Value:
    """Whether a published word still has a piece to claim (next < pieces)."""
    pieces = b.and_(b.lshr(word, _i64(_PIECE_BITS)), _i64(MAX_PIECES))
    return b.icmp_unsigned("<", b.and_(word, _i64(MAX_PIECES)), pieces)


def _now(module, b: ir.IRBuilder, timespec) -> ir.Value:
    """CLOCK_MONOTONIC in nanoseconds."""
    clock = declare(module, "jitc_clock_gettime", I32, [I32, I64P])
    b.call(clock, [ir.Constant(I32, _CLOCK_MONOTONIC), timespec])
    seconds, nanoseconds = b.load(timespec), b.load(b.gep(timespec, [_i64(1)]))
    return b.add(b.mul(seconds, _i64(1_000_000_000)), nanoseconds)


def _back_off(module, b: ir.IRBuilder, spins, pauses: int) -> ir.Value:
    """One round of waiting: count it in `spins`; `pause` for the first
    `pauses` rounds, then yield the core (a thread that shares it, such as
    the caller a worker waits with, then runs). The new count."""
    count = b.add(b.load(spins), _i64(1))
    b.store(count, spins)
    with b.if_else(b.icmp_unsigned("<", count, _i64(pauses))) as (pause, yield_):
        with pause:
            _pause(module, b)
        with yield_:
            b.call(declare(module, "jitc_sched_yield", I32, []), [])
    return count


def _pause(module, b: ir.IRBuilder) -> None:
    """The x86 spin-wait hint (frees the core's resources while spinning); nothing elsewhere."""
    if _X86:
        b.call(declare(module, "llvm.x86.sse2.pause", VOID, []), [])


def _getcpu(module) -> ir.Function:
    """int sched_getcpu(void): the CPU this thread runs on now."""
    return declare(module, "jitc_sched_getcpu", I32, [])


def _syscall(module) -> ir.Function:
    """long syscall(long number, ...), every argument passed as a long."""
    existing = module.globals.get("jitc_syscall")
    if existing is not None:
        return existing
    return ir.Function(module, ir.FunctionType(I64, [I64], var_arg=True), "jitc_syscall")


def _wake_word(b: ir.IRBuilder, pool) -> ir.Value:
    return b.bitcast(_slot(b, pool, _WAKE), I32.as_pointer())


def _pool(b: ir.IRBuilder, module: ir.Module) -> ir.Value:
    """The pool block, declared as the external symbol `jitc_pool`."""
    block = module.globals.get(POOL_SYMBOL)
    if block is None:
        block = ir.GlobalVariable(module, ir.ArrayType(I64, POOL_SLOTS), POOL_SYMBOL)
    return b.bitcast(block, I64P)


def _slot(b: ir.IRBuilder, pool, index: int) -> ir.Value:
    return b.gep(pool, [_i64(index)])


def _i64(value: int) -> ir.Constant:
    return ir.Constant(I64, value)


def _function(module, name, result, args) -> tuple[ir.Function, ir.IRBuilder]:
    function = ir.Function(module, ir.FunctionType(result, args), name)
    function.linkage = "internal"
    return function, ir.IRBuilder(function.append_basic_block("entry"))
