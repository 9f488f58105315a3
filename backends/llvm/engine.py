"""One LLVM target per process: optimise a module for this CPU, emit its
object code and load it.

On x86-64 Linux objects load through elf_loader.py: each in one mapping, so
the code uses the small code model (constants read %rip-relative instead of
through 64-bit absolute addresses: gelu 4M float32 5.8 -> 5.2 ms CPU on one
thread), and loading cached code does not import LLVM. Elsewhere LLVM's
MCJIT loads them, with the large code model it needs.
"""
from __future__ import annotations

import platform
import sys
import threading
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import elf_loader, runtime_library, symbols

if TYPE_CHECKING:
    import llvmlite.binding as llvm
    from llvmlite import ir

OPTIMIZATION_LEVEL = 3
# LLVM's loop unrolling and interleaving are off: the hot loops codegen emits are vector loops
# already, and unrolling them again doubled the code LLVM then optimises and lowers. GPT-2
# example: O3 pipeline 0.47 -> 0.37 s, machine code 0.50 -> 0.29 s CPU; run times of the
# benchmark workloads unchanged within this machine's noise (attention 0.36 -> 0.39 ms at most).
LOOP_UNROLLING = False
OWN_LOADER = sys.platform.startswith("linux") and platform.machine() in ("x86_64", "AMD64")
_lock = threading.Lock()
_state: dict = {}


def target_machine(cpu: str | None = None, **options) -> llvm.TargetMachine:
    """A target machine at OPTIMIZATION_LEVEL for `cpu` (None: this CPU, with
    all its features); `options` are create_target_machine's (reloc, codemodel)."""
    import llvmlite.binding as llvm
    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    target = llvm.Target.from_default_triple()
    features = llvm.get_host_cpu_features().flatten() if cpu is None else ""
    return target.create_target_machine(cpu=cpu or llvm.get_host_cpu_name(), features=features,
                                        opt=OPTIMIZATION_LEVEL, **options)


def optimise(module: ir.Module | str, machine: llvm.TargetMachine, renames: dict[str, str] | None = None
             ) -> llvm.ModuleRef:
    """`module` parsed, verified and optimised (O3, without loop unrolling) for `machine`; functions
    it declares are first renamed by `renames` (a symbol linked ahead of
    time under its own name)."""
    import llvmlite.binding as llvm
    parsed = llvm.parse_assembly(str(module))
    parsed.triple = machine.triple
    parsed.data_layout = str(machine.target_data)
    for function in parsed.functions:
        if function.is_declaration and function.name in (renames or {}):
            function.name = renames[function.name]
    parsed.verify()
    options = llvm.create_pipeline_tuning_options(speed_level=OPTIMIZATION_LEVEL)
    options.loop_unrolling = options.loop_interleaving = LOOP_UNROLLING
    builder = llvm.create_pass_builder(machine, options)
    builder.getModulePassManager().run(parsed, builder)
    return parsed


def _machine() -> llvm.TargetMachine:
    """This process's target machine: the small code model where our loader
    keeps each object in one mapping, else the JIT's default (large)."""
    if "machine" not in _state:
        options = dict(codemodel="small", reloc="pic") if OWN_LOADER else dict(codemodel="jitdefault")
        _state["machine"] = target_machine(**options)
    return _state["machine"]


def _load(obj: bytes, entries: list[str]) -> dict[str, int]:
    """Load object code; the addresses of `entries` (0 for one it lacks)."""
    if OWN_LOADER:
        defined = elf_loader.load(obj, symbols.address).symbols
        return {name: defined.get(name, 0) for name in entries}
    import llvmlite.binding as llvm
    if "engine" not in _state:
        _state["engine"] = llvm.create_mcjit_compiler(llvm.parse_assembly(""), _machine())
    for name, address in symbols.defined().items():
        llvm.add_symbol(name, address)
    engine = _state["engine"]
    engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
    engine.finalize_object()
    return {name: engine.get_function_address(name) for name in entries}


@dataclass
class CompiledModule:
    addresses: dict[str, int]
    optimised_ir: str | bytes  # the IR after optimisation, or it zlib-compressed (from the cache)

    @property
    def llvm_ir(self) -> str:
        """The optimised IR; decompressed on first request (a cached entry's
        IR serves only this listing and `asm`, so loading skips it)."""
        if isinstance(self.optimised_ir, bytes):
            self.optimised_ir = zlib.decompress(self.optimised_ir).decode()
        return self.optimised_ir

    @property
    def asm(self) -> str:
        """Assembly for this CPU, generated on request (it costs as much as compiling)."""
        import llvmlite.binding as llvm
        with _lock:
            return _machine().emit_assembly(llvm.parse_assembly(self.llvm_ir))


def compile_module(module: ir.Module | str, entries: list[str], *, library_calls: bool = True
                   ) -> tuple[CompiledModule, bytes]:
    """Verify, optimise (O3, host CPU), load: the addresses of `entries`, and
    the object code (for the cache). The runtime library's functions that
    `module` declares are loaded first (`library_calls`)."""
    if library_calls and not isinstance(module, str):
        for function in module.functions:
            if function.is_declaration and function.name.startswith(runtime_library.PREFIX) \
                    and not runtime_library.ensure(function.name):
                raise RuntimeError(f"runtime library function {function.name} cannot be built")
    with _lock:
        machine = _machine()
        parsed = optimise(module, machine)
        obj = machine.emit_object(parsed)
        return CompiledModule(_load(obj, entries), str(parsed)), obj


def load_object(obj: bytes, entries: list[str], llvm_ir: str | bytes, *, library_calls: bool = True
                ) -> CompiledModule | None:
    """Object code from the cache, loaded; None if it is damaged, does not
    define `entries`, or calls a runtime library function this process
    cannot have (those it can are loaded first: `library_calls`)."""
    if library_calls and not all(map(runtime_library.ensure, runtime_library.referenced(obj))):
        return None
    with _lock:
        try:
            addresses = _load(obj, entries)
        except elf_loader.ObjectLoadError:
            return None
    return CompiledModule(addresses, llvm_ir) if all(addresses.values()) else None
