"""Ahead-of-time export: the specialised graphs of a model as a shared
library with a C header (`jitc export model.jitc --shared libmodel.so`).

Each graph is generated exactly as the JIT does it (codegen.py), compiled
to position-independent object code, and linked by the system C compiler
with the wrapper export_c.py writes. Nothing of Python is in the library:
calls the JIT binds by address in this process (BLAS, pthreads) are bound
by name instead, and the library finds the BLAS NumPy ships through its
run path. Tensor constants (weights) are one read-only blob inside it.
"""
from __future__ import annotations

import hashlib
import inspect
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from typing import Sequence

import llvmlite.binding as llvm
import numpy as np

from ...ir.graph import Graph
from ...ir.types import is_subtype
from .. import UnsupportedOpError
from . import export_c
from .blas import gemm_library
from .codegen import GraphCodegen
from .engine import optimise, target_machine
from ...ir.ops.prim import written_parameters
from .export_c import RESERVED_PREFIX, CFunction, ExportError, c_identifier, flatten_values
from .parallel import PTHREAD_FUNCTIONS, thread_count, threads_available, threads_per_call

ALIGNMENT = 64


@dataclass
class Specialisation:
    """One graph to export, and where it came from."""

    entry: str                   # the entry point's name
    index: int                   # which of its saved specialisations
    versions: int                # how many it has
    graph: Graph
    parameters: list[str]        # the entry point's parameter names, one per graph parameter
    signature: str               # the entry point's Python signature, "(x, n=3)"
    static: dict                 # parameter -> the int or bool value the graph was compiled for


def specialisations(entry_points: Sequence, module: str | None = None) -> list[Specialisation]:
    """Every saved specialisation of `entry_points` (serialization.EntryPoint),
    named `<module>.<method>` when they are the methods of `module`;
    ExportError for an entry point with none, or one whose specialisation
    was compiled for a value of an int parameter that cannot be told."""
    found = []
    for entry in entry_points:
        names = [p.name for p in entry.parameters]
        signature = str(inspect.Signature(entry.parameters))
        name = entry.name if module is None else f"{module}.{entry.name}"
        if not entry.specializations:
            raise ExportError(f"entry point {name!r} has no compiled version saved: call it on example "
                              "arguments before jitc.save, so that dtypes and ranks are known")
        recorded = entry.specialization_static or [None] * len(entry.specializations)
        for index, (graph, static) in enumerate(zip(entry.specializations, recorded)):
            found.append(Specialisation(name, index, len(entry.specializations), graph, names, signature,
                                        _static_values(entry, graph, names) if static is None else static))
    return found


def _static_values(entry, graph: Graph, names: list[str]) -> dict:
    """The values of parameters `graph` was compiled for, from the generic
    graphs that take its parameter types (all must agree): for files whose
    specialisations do not record their own."""
    candidates = [static for generic, static in zip(entry.graphs, entry.static_arguments)
                  if all(is_subtype(p.type, g.type) for p, g in zip(graph.params, generic.params))]
    static_names = {name for static in candidates for name in static}
    values = {}
    for name in static_names:
        seen = {repr(static.get(name)) for static in candidates}
        if len(seen) != 1:
            raise ExportError(f"entry point {entry.name!r}: a saved version was compiled for one value of "
                              f"parameter {name!r}, and the file does not say which ({', '.join(sorted(seen))})")
        values[name] = candidates[0][name]
    return values


def _c_function(specialisation: Specialisation, name: str, implementation: str, codegen: GraphCodegen
                ) -> CFunction:
    graph, where = specialisation.graph, f"entry point {specialisation.entry!r}, version {specialisation.index}"
    used = {name}
    params = flatten_values(specialisation.parameters, [p.type for p in graph.params], "parameter", where, used,
                            written_parameters(graph), specialisation.static)
    outputs = ["out"] if len(graph.returns) == 1 else [f"out_{i}" for i in range(len(graph.returns))]
    results = flatten_values(outputs, [v.type for v in graph.returns], "result", where, used)
    summary = f"{specialisation.entry}{specialisation.signature}"
    if specialisation.versions > 1:
        summary += f", version {specialisation.index} of the {specialisation.versions} saved"
    return CFunction(name, implementation, graph, summary, params, results, list(codegen.errors.entries))


def c_names(found: list[Specialisation], prefix: str = "") -> list[str]:
    """`<prefix><entry>`, or `<prefix><entry>_<n>` where an entry has several versions; a
    module's method `<module>.<method>` is `<prefix><module>_<method>`."""
    names = []
    for specialisation in found:
        name = c_identifier(prefix + specialisation.entry)
        if specialisation.versions > 1:
            name += f"_{specialisation.index}"
        if name.startswith(RESERVED_PREFIX) or name in names:
            raise ExportError(f"the C function name {name!r} is reserved or taken twice; choose a --prefix")
        names.append(name)
    return names


class _ConstantBlob:
    """Tensor constants laid end to end, each aligned and stored once."""

    def __init__(self):
        self.data = bytearray()
        self._offsets: dict[str, int] = {}

    def add(self, array: np.ndarray) -> int:
        data = np.ascontiguousarray(array).tobytes()
        key = hashlib.sha256(data).hexdigest()
        if key not in self._offsets:
            self.data += bytes(-len(self.data) % ALIGNMENT)
            self._offsets[key] = len(self.data)
            self.data += data
        return self._offsets[key]


def _link_names() -> tuple[dict[str, str], str | None]:
    """Symbols the JIT binds by address, renamed to what the linker finds
    ({jitc symbol: symbol}), and the BLAS library to link (None without one)."""
    renames = {f"jitc_{name}": name for name in PTHREAD_FUNCTIONS}
    found = gemm_library()
    if found is None:
        return renames, None
    return {**renames, **found[1]}, found[0]


def export_library(found: list[Specialisation], library: str, header: str, *, prefix: str = "",
                   cpu: str | None = None, compiler: str = "cc", origin: str = "a jitc model") -> list[CFunction]:
    """Compile `found` into the shared library `library` and write its C
    header `header`; returns the functions exported. `cpu` None means this
    machine's CPU with all its features (the JIT's choice), else an LLVM CPU
    name (`x86-64` runs on any x86-64). ExportError says what failed."""
    if shutil.which(compiler) is None:
        raise ExportError(f"no C compiler {compiler!r} found: jitc export links the library with the system C "
                          "compiler; install one (cc) or name it with --cc")
    with tempfile.TemporaryDirectory(prefix="jitc-export-") as build:
        functions, objects, blas = _compile(found, c_names(found, prefix), cpu, build)
        header_name = os.path.basename(header)
        description = (f"{header_name}: the C API of {os.path.basename(library)}, exported by jitc "
                       f"{_jitc_version()} from {origin}.\n * Machine code for CPU {cpu or llvm.get_host_cpu_name()}"
                       f"{' (this machine; jitc export --cpu x86-64 runs on any x86-64)' if cpu is None else ''}"
                       f"; parallel loops use up to {thread_count() if threads_available() else 1} threads.")
        guard = c_identifier(header_name.upper()).replace(".", "_") + "_INCLUDED"
        _write(os.path.join(build, header_name), export_c.header(functions, guard, description))
        _write(os.path.join(build, "jitc_api.c"), export_c.source(functions, header_name, "jitc_constants.bin"))
        exports = " ".join(f"{f.name};" for f in functions) + " jitc_free; jitc_last_error; jitc_error_message;"
        _write(os.path.join(build, "jitc_exports.map"), f"{{ global: {exports} local: *; }};")
        output = os.path.join(build, "jitc_library.so")
        command = [compiler, "-shared", "-fPIC", "-O2", "-std=gnu11", "-o", output, "jitc_api.c", *objects,
                   "-Wl,--version-script=jitc_exports.map", "-Wl,--no-undefined"]
        if blas is not None:
            command += [blas, f"-Wl,-rpath,{os.path.dirname(blas)}"]
        result = subprocess.run(command + ["-lm", "-lpthread"], cwd=build, capture_output=True, text=True)
        if result.returncode != 0:
            raise ExportError(f"{compiler} failed (status {result.returncode}) linking the library:\n"
                              + (result.stderr or result.stdout)[-4000:])
        _install(output, library)
        _install(os.path.join(build, header_name), header)
    return functions


def _compile(found: list[Specialisation], names: list[str], cpu: str | None, build: str):
    """Object code of each graph in `build`, as the JIT generates it but
    position-independent and calling BLAS and pthreads by name: (the C
    functions, the object files, the BLAS library to link or None). The
    constants of every graph go into build/jitc_constants.bin."""
    machine = target_machine(cpu, reloc="pic", codemodel="default")
    renames, blas = _link_names()
    blas_symbols = set(renames.values()) - set(PTHREAD_FUNCTIONS)
    blob, functions, objects, uses_blas = _ConstantBlob(), [], [], False
    for index, (specialisation, name) in enumerate(zip(found, names)):
        implementation = f"jitc_version_{index}"
        codegen = GraphCodegen(specialisation.graph, implementation)
        try:
            with threads_per_call():  # a library holds no thread pool: it starts threads per call
                module = codegen.generate()
        except UnsupportedOpError as error:
            raise ExportError(f"entry point {specialisation.entry!r}, version {specialisation.index}: {error}; "
                              "the llvm backend cannot compile it, so it cannot be exported") from None
        function = _c_function(specialisation, name, implementation, codegen)
        function.constant_offsets = [blob.add(array) for array in codegen.constants]
        functions.append(function)
        optimised = optimise(module, machine, renames)
        uses_blas |= any(f.is_declaration and f.name in blas_symbols for f in optimised.functions)
        objects.append(os.path.join(build, f"jitc_version_{index}.o"))
        _write(objects[-1], machine.emit_object(optimised))
    _write(os.path.join(build, "jitc_constants.bin"), bytes(blob.data))
    return functions, objects, blas if uses_blas else None


def _jitc_version() -> str:
    from ... import __version__
    return __version__


def _write(path: str, data: bytes | str) -> None:
    with open(path, "wb") as file:
        file.write(data.encode() if isinstance(data, str) else data)


def _install(source: str, target: str) -> None:
    """Copy `source` to `target` through a temporary file renamed into place."""
    directory = os.path.dirname(os.path.abspath(target))
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".jitc-export-")
    os.close(handle)
    try:
        shutil.copyfile(source, temporary)
        os.chmod(temporary, os.stat(source).st_mode & 0o777 | 0o644)
        os.replace(temporary, target)
    except BaseException:
        os.unlink(temporary)
        raise
