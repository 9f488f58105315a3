"""Backends turn a specialised, optimised graph into something callable.

A backend has a `name` and `compile(graph) -> Executable`. The graph it gets
has every parameter specialised (tensors with a dtype and a rank; a dim is 1
only where the argument's size there is 1). The executable is called with the
arguments in graph-parameter order (NumPy arrays, Python scalars, lists) and
returns a tuple with one value per graph return; arrays it returns own their
memory. A backend that cannot compile a node raises `UnsupportedOpError`
naming it; the caller then falls back to the interpreter.
"""
from __future__ import annotations

import importlib
from typing import Any, Protocol

from ..ir.graph import Graph


class UnsupportedOpError(Exception):
    """The backend has no lowering for an op (or for these types)."""

    def __init__(self, kind: str, reason: str = ""):
        self.kind = kind
        self.reason = reason
        super().__init__(f"{kind}: {reason}" if reason else kind)


class NativeCallError(Exception):
    """Raised by a backend's native entry with (error code, error args...);
    the executable's `error(code, *args)` builds the Python exception it means."""


class Executable(Protocol):
    def __call__(self, *args: Any) -> tuple: ...


class Backend(Protocol):
    name: str

    def compile(self, graph: Graph) -> Executable: ...


_BACKENDS: dict[str, str] = {
    "interpreter": "jitc.backends.interpreter",
    "llvm": "jitc.backends.llvm",
    "cuda": "jitc.backends.cuda",
}
DEFAULT_BACKEND = "llvm"


def backend_name(name: str | None = None) -> str:
    """`name` checked against the known backends (default: llvm), without
    importing the backend."""
    name = name or DEFAULT_BACKEND
    if name not in _BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(sorted(_BACKENDS))}")
    return name


def get_backend(name: str | None = None) -> Backend:
    """The backend called `name` (default: llvm)."""
    return importlib.import_module(_BACKENDS[backend_name(name)]).BACKEND


__all__ = ["NativeCallError", "UnsupportedOpError", "Executable", "Backend", "backend_name", "get_backend", "DEFAULT_BACKEND"]
