"""backends/llvm/elf_loader.py: objects LLVM emits load, relocate and run;
damaged objects raise ObjectLoadError and never crash the process."""
from __future__ import annotations

import ctypes
import re
import platform
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jitc.backends.llvm import elf_loader
from jitc.backends.llvm.engine import target_machine

pytestmark = pytest.mark.skipif(platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"),
                                reason="the loader reads x86-64 ELF objects")

# One of each thing the loader relocates: a call into the process (through its
# GOT slot or stub), a GOT load of an outside value, a vector constant read
# %rip-relative from .rodata, a mutable global (.data), zeroed memory (.bss),
# an absolute address in data (R_X86_64_64) and a call between the object's
# own functions.
SOURCE = """
declare double @outside(double)
@outside_value = external global i64
@counter = global i64 5
@zeroed = global [64 x i64] zeroinitializer
@table = global ptr @twice

define internal double @twice(double %x) noinline {
  %y = fmul double %x, 2.0
  ret double %y
}

define double @call_outside(double %x) {
  %y = call double @outside(double %x)
  %z = call double @twice(double %y)
  ret double %z
}

define i64 @read_outside_value() {
  %v = load i64, ptr @outside_value
  ret i64 %v
}

define i64 @bump() {
  %v = load i64, ptr @counter
  %w = add i64 %v, 1
  store i64 %w, ptr @counter
  %z = getelementptr [64 x i64], ptr @zeroed, i64 0, i64 7
  %old = load i64, ptr %z
  store i64 %w, ptr %z
  %r = add i64 %w, %old
  ret i64 %r
}

define double @call_through_table(double %x) {
  %f = load ptr, ptr @table
  %y = call double %f(double %x)
  ret double %y
}

define void @scale(ptr noalias %out, ptr noalias %in, i64 %n) {
entry:
  br label %loop
loop:
  %i = phi i64 [0, %entry], [%next, %loop]
  %p = getelementptr float, ptr %in, i64 %i
  %v = load <8 x float>, ptr %p, align 4
  %w = fmul <8 x float> %v, <float 1.0, float 2.0, float 3.0, float 4.0, float 5.0, float 6.0, float 7.0, float 8.0>
  %q = getelementptr float, ptr %out, i64 %i
  store <8 x float> %w, ptr %q, align 4
  %next = add i64 %i, 8
  %done = icmp sge i64 %next, %n
  br i1 %done, label %exit, label %loop
exit:
  ret void
}
"""

OUTSIDE = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_double)(lambda x: x + 0.5)
OUTSIDE_VALUE = ctypes.c_int64(1234)


def resolve(name: str) -> int | None:
    return {"outside": ctypes.cast(OUTSIDE, ctypes.c_void_p).value,
            "outside_value": ctypes.addressof(OUTSIDE_VALUE)}.get(name)


@pytest.fixture(scope="module")
def object_code() -> bytes:
    import llvmlite.binding as llvm
    machine = target_machine(codemodel="small", reloc="pic")
    module = llvm.parse_assembly(SOURCE)
    module.triple, module.data_layout = machine.triple, str(machine.target_data)
    return machine.emit_object(module)


def function(loaded, name, result, *arguments):
    return ctypes.CFUNCTYPE(result, *arguments)(loaded.symbols[name])


def check_runs(loaded) -> None:
    assert function(loaded, "call_outside", ctypes.c_double, ctypes.c_double)(1.25) == (1.25 + 0.5) * 2
    assert function(loaded, "read_outside_value", ctypes.c_int64)() == 1234
    bump = function(loaded, "bump", ctypes.c_int64)
    assert [bump(), bump()] == [6, 13]  # counter 5 -> 6 (zeroed slot was 0), then 7 + 6
    assert function(loaded, "call_through_table", ctypes.c_double, ctypes.c_double)(3.0) == 6.0
    source = (ctypes.c_float * 16)(*range(16))
    out = (ctypes.c_float * 16)()
    function(loaded, "scale", None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64)(out, source, 16)
    assert list(out) == [float(i * (i % 8 + 1)) for i in range(16)]


def test_an_object_loads_and_runs(object_code):
    loaded = elf_loader.load(object_code, resolve)
    assert "twice" not in loaded.symbols  # internal functions are not exported
    check_runs(loaded)


def test_each_load_has_its_own_data(object_code):
    first, second = elf_loader.load(object_code, resolve), elf_loader.load(object_code, resolve)
    check_runs(first)
    check_runs(second)  # the first object's bumps did not touch the second's globals


def test_calls_out_of_range_go_through_a_stub(object_code, monkeypatch):
    """Calls to functions beyond 2 GiB jump through the GOT slot's stub; here
    any distance over 64 KiB counts as too far, so the stub path is taken."""
    monkeypatch.setattr(elf_loader, "_near", lambda distance: abs(distance) < 1 << 16)
    check_runs(elf_loader.load(object_code, resolve))


def test_an_undefined_symbol_is_named(object_code):
    with pytest.raises(elf_loader.ObjectLoadError, match="'outside'"):
        elf_loader.load(object_code, lambda name: None)


@pytest.mark.parametrize("damage, message", [
    (lambda data: b"", "not an ELF object"),
    (lambda data: b"\x7fELF" + bytes(60), "not a little-endian 64-bit"),
    (lambda data: data[:40], "not an ELF object"),
    (lambda data: data[:18] + struct.pack("<H", 183) + data[20:], "not an x86-64 relocatable"),
    (lambda data: data[:len(data) // 2], "outside the object|damaged"),
])
def test_damaged_objects_are_named(object_code, damage, message):
    with pytest.raises(elf_loader.ObjectLoadError, match=message):
        elf_loader.load(damage(object_code), resolve)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_objects_never_crash_the_loader(object_code, data):
    """Loading (not running) a damaged object raises ObjectLoadError or loads:
    every write stays inside the mapping the loader made."""
    damaged = bytearray(object_code)
    for _ in range(data.draw(st.integers(1, 8))):
        damaged[data.draw(st.integers(0, len(damaged) - 1))] = data.draw(st.integers(0, 255))
    try:
        elf_loader.load(bytes(damaged), resolve)
    except (elf_loader.ObjectLoadError, MemoryError):
        pass


def tanh_affine(x):
    return np.tanh(x * np.float32(0.5) + np.float32(0.25))


def test_compiled_code_reads_constants_rip_relative():
    """Loaded by elf_loader, jitc's code uses the small code model: vector
    constants are read %rip-relative, never through a 64-bit absolute address."""
    import jitc
    from jitc.backends.llvm import engine
    assert engine.OWN_LOADER
    x = np.linspace(-3, 3, 64, dtype=np.float32)
    compiled = jitc.script(tanh_affine)
    np.testing.assert_allclose(compiled(x), tanh_affine(x), rtol=1e-6, atol=1e-7)
    assembly = compiled.asm(x)
    assert ".LCPI" in assembly and "(%rip)" in assembly
    assert not re.search(r"movabsq\s+\$\.?[A-Za-z_]", assembly)  # a symbol's absolute address
