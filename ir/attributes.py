"""Attribute values that are not plain Python constants."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TensorRef:
    """Names an entry of `Graph.tensors`; printed as `@name`."""

    name: str

    def __str__(self) -> str:
        return f"@{self.name}"
