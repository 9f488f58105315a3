"""The addresses generated code calls by name.

jitc's runtime symbols (BLAS entry points, NumPy's C API table, pthreads
under jitc_ names) are defined here by the modules that find them; any
other name is looked up in the process, as a linker would (malloc, memset,
the Python C API). Kept apart from LLVM so that loading cached object code
does not import it.
"""
from __future__ import annotations

import ctypes

_defined: dict[str, int] = {}
_process = ctypes.CDLL(None)


def define(name: str, address: int) -> None:
    """Make `name` resolve to `address` in code loaded from now on."""
    _defined[name] = address


def defined() -> dict[str, int]:
    """Every symbol defined so far (for a JIT that keeps its own table)."""
    return dict(_defined)


def define_from_process(names, prefix: str = "jitc_") -> bool:
    """Define `prefix + name` as the process's own `name` (libc's pthread
    functions as jitc_pthread_create, ...), for each of `names`; False,
    defining none, if the process lacks one."""
    found = {name: _in_process(name) for name in names}
    if None in found.values():
        return False
    for name, where in found.items():
        define(prefix + name, where)
    return True


def address(name: str) -> int | None:
    """Where `name` lies: a defined symbol, else the process's own; None if neither."""
    found = _defined.get(name)
    return found if found is not None else _in_process(name)


def _in_process(name: str) -> int | None:
    try:
        return ctypes.cast(getattr(_process, name), ctypes.c_void_p).value
    except AttributeError:
        return None
