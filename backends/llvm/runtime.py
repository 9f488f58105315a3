"""The per-call arena, emitted into every module as internal functions.

Every buffer compiled code allocates is recorded in a context the caller
passes in (one per call, so concurrent calls share nothing). On the way out
the outputs are *stolen* from the arena (ownership passes to NumPy) and the
rest is freed, on success and on error alike. Values that the memory plan
(ir/passes/plan_memory.py) puts in one slot reuse one arena buffer.

Context layout, i64 slots: [count, capacity, entries, error args...], where
entries points at `capacity` pairs (pointer, bytes).
"""
from __future__ import annotations

from llvmlite import ir

from .layout import I1, I8P, I64, I64P, VOID

ERROR_ARGS = 16
CONTEXT_SLOTS = 3 + ERROR_ARGS
ERROR_ARG_OFFSET = 3


def declare(module: ir.Module, name: str, result, args) -> ir.Function:
    """The function `name` of `module`, declared with this signature on first use."""
    existing = module.globals.get(name)
    return existing if existing is not None else ir.Function(module, ir.FunctionType(result, args), name)


def libc(module: ir.Module, name: str) -> ir.Function:
    signatures = {"malloc": (I8P, [I64]), "realloc": (I8P, [I8P, I64]), "free": (VOID, [I8P]),
                  "memcpy": (I8P, [I8P, I8P, I64])}
    return declare(module, name, *signatures[name])


def _slot(builder: ir.IRBuilder, ctx, index: int):
    return builder.gep(ctx, [ir.Constant(I64, index)])


def emit_runtime(module: ir.Module) -> dict[str, ir.Function]:
    """jitc_alloc, jitc_steal and jitc_release, defined in `module` on first use."""
    if "jitc_alloc" in module.globals:
        return {name: module.globals[f"jitc_{name}"] for name in ("alloc", "steal", "release")}
    steal = _emit_steal(module)
    return {"alloc": _emit_alloc(module, _emit_arena_alloc(module), steal), "steal": steal,
            "release": _emit_release(module)}


def _function(module, name, result, args) -> tuple[ir.Function, ir.IRBuilder]:
    function = ir.Function(module, ir.FunctionType(result, args), name)
    function.linkage = "internal"
    return function, ir.IRBuilder(function.append_basic_block("entry"))


def _emit_alloc(module, arena_alloc, steal):
    """jitc_alloc(ctx, bytes, slot, exact) -> pointer, or null when out of memory.

    `slot` is null, or a slot of the memory plan: i64[3] holding a buffer
    of the arena, its capacity and the bytes of the value it holds now.
    The slot's buffer is reused when it has room; when `exact`, the value
    it holds is an input written in place, and only a buffer of exactly
    that many bytes is reused (anything else means the input was
    broadcast). Otherwise a new buffer takes the slot's place, freeing the
    old one unless `exact` (then the input is still being read)."""
    function, b = _function(module, "jitc_alloc", I8P, [I64P, I64, I64P, I1])
    function.attributes.add("noinline")  # called once per buffer: inlined, it would dominate the code to compile
    ctx, nbytes, slot, exact = function.args
    with b.if_then(b.icmp_unsigned("==", slot, ir.Constant(I64P, None))):
        b.ret(b.call(arena_alloc, [ctx, nbytes]))
    held, capacity, used = (b.load(_slot(b, slot, index)) for index in range(3))
    present = b.icmp_unsigned("!=", held, ir.Constant(I64, 0))
    room = b.select(exact, b.icmp_unsigned("==", used, nbytes), b.icmp_unsigned(">=", capacity, nbytes))
    with b.if_then(b.and_(present, room)):
        b.store(nbytes, _slot(b, slot, 2))
        b.ret(b.inttoptr(held, I8P))
    with b.if_then(b.and_(present, b.not_(exact))):
        old = b.inttoptr(held, I8P)
        with b.if_then(b.call(steal, [ctx, old, capacity])):
            b.call(libc(module, "free"), [old])
    pointer = b.call(arena_alloc, [ctx, nbytes])
    with b.if_then(b.icmp_unsigned("==", pointer, ir.Constant(I8P, None)), likely=False):
        b.ret(pointer)
    for index, value in enumerate((b.ptrtoint(pointer, I64), nbytes, nbytes)):
        b.store(value, _slot(b, slot, index))
    b.ret(pointer)
    return function


def _emit_arena_alloc(module):
    """jitc_arena_alloc(ctx, bytes) -> a new buffer owned by the arena, or null when out of memory."""
    function, b = _function(module, "jitc_arena_alloc", I8P, [I64P, I64])
    ctx, nbytes = function.args
    size = b.select(b.icmp_unsigned("==", nbytes, ir.Constant(I64, 0)), ir.Constant(I64, 1), nbytes)
    pointer = b.call(libc(module, "malloc"), [size])
    failed = b.icmp_unsigned("==", pointer, ir.Constant(I8P, None))
    with b.if_then(failed, likely=False):
        b.ret(pointer)
    count, capacity = b.load(_slot(b, ctx, 0)), b.load(_slot(b, ctx, 1))
    with b.if_then(b.icmp_unsigned("==", count, capacity), likely=False):
        grown = b.add(b.mul(capacity, ir.Constant(I64, 2)), ir.Constant(I64, 16))
        old = b.inttoptr(b.load(_slot(b, ctx, 2)), I8P)
        entries = b.call(libc(module, "realloc"), [old, b.mul(grown, ir.Constant(I64, 16))])
        with b.if_then(b.icmp_unsigned("==", entries, ir.Constant(I8P, None)), likely=False):
            b.call(libc(module, "free"), [pointer])
            b.ret(ir.Constant(I8P, None))
        b.store(b.ptrtoint(entries, I64), _slot(b, ctx, 2))
        b.store(grown, _slot(b, ctx, 1))
    entries = b.inttoptr(b.load(_slot(b, ctx, 2)), I64P)
    b.store(b.ptrtoint(pointer, I64), b.gep(entries, [b.mul(count, ir.Constant(I64, 2))]))
    b.store(nbytes, b.gep(entries, [b.add(b.mul(count, ir.Constant(I64, 2)), ir.Constant(I64, 1))]))
    b.store(b.add(count, ir.Constant(I64, 1)), _slot(b, ctx, 0))
    b.ret(pointer)
    return function


def _emit_steal(module):
    """jitc_steal(ctx, pointer, bytes) -> 1 if `pointer` is a whole arena
    buffer of `bytes` bytes, now removed from the arena (the caller owns it)."""
    function, b = _function(module, "jitc_steal", I1, [I64P, I8P, I64])
    ctx, pointer, nbytes = function.args
    entries = b.inttoptr(b.load(_slot(b, ctx, 2)), I64P)
    address = b.ptrtoint(pointer, I64)
    count = b.load(_slot(b, ctx, 0))
    loop, found, done = (function.append_basic_block(n) for n in ("loop", "found", "done"))
    entry_block = b.block
    b.branch(loop)
    b.position_at_end(loop)
    index = b.phi(I64)
    index.add_incoming(count, entry_block)
    with b.if_then(b.icmp_signed("<=", index, ir.Constant(I64, 0))):
        b.ret(ir.Constant(I1, 0))
    previous = b.sub(index, ir.Constant(I64, 1))
    index.add_incoming(previous, b.block)
    entry_pointer = b.gep(entries, [b.mul(previous, ir.Constant(I64, 2))])
    entry_bytes = b.load(b.gep(entries, [b.add(b.mul(previous, ir.Constant(I64, 2)), ir.Constant(I64, 1))]))
    match = b.and_(b.icmp_unsigned("==", b.load(entry_pointer), address),
                   b.icmp_unsigned("==", entry_bytes, nbytes))
    b.cbranch(match, found, loop)
    b.position_at_end(found)
    b.store(ir.Constant(I64, 0), entry_pointer)
    b.branch(done)
    b.position_at_end(done)
    b.ret(ir.Constant(I1, 1))
    return function


def _emit_release(module):
    """jitc_release(ctx): free every buffer still in the arena, and the arena."""
    function, b = _function(module, "jitc_release", VOID, [I64P])
    ctx = function.args[0]
    free = libc(module, "free")
    entries = b.inttoptr(b.load(_slot(b, ctx, 2)), I64P)
    count = b.load(_slot(b, ctx, 0))
    header, body, done = (function.append_basic_block(n) for n in ("header", "body", "done"))
    entry_block = b.block
    b.branch(header)
    b.position_at_end(header)
    index = b.phi(I64)
    index.add_incoming(ir.Constant(I64, 0), entry_block)
    b.cbranch(b.icmp_signed("<", index, count), body, done)
    b.position_at_end(body)
    b.call(free, [b.inttoptr(b.load(b.gep(entries, [b.mul(index, ir.Constant(I64, 2))])), I8P)])
    index.add_incoming(b.add(index, ir.Constant(I64, 1)), body)
    b.branch(header)
    b.position_at_end(done)
    b.call(free, [b.bitcast(entries, I8P)])
    for slot in range(3):
        b.store(ir.Constant(I64, 0), _slot(b, ctx, slot))
    b.ret_void()
    return function
