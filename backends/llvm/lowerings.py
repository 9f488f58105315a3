"""Imports every lowering module, filling NODE_LOWERINGS."""
from . import array_ops, indexing, linalg, prim_ops, reduction_ops, scan_ops  # noqa: F401  (registration)
from .registry import NODE_LOWERINGS

__all__ = ["NODE_LOWERINGS"]
