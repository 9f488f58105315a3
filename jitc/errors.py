"""Exceptions and warnings of the public API."""
from __future__ import annotations

import linecache

from .ir.errors import IRError
from .ir.graph import SourceLocation


class JitcError(Exception):
    """Base class of jitc's own errors."""


class FrontendError(JitcError):
    """Raised while building IR, before a source location is attached; the
    scripter turns it into a ScriptError and the tracer into a TraceError."""


class ScriptError(JitcError):
    """Source that `jitc.script` cannot compile. The message quotes the
    offending line with a caret under the construct."""

    def __init__(self, message: str, location: SourceLocation | None = None,
                 source_line: str | None = None):
        self.message = message
        self.location = location
        self.source_line = source_line
        super().__init__(format_with_source(message, location, source_line))


class TraceError(JitcError):
    """A traced program did something tracing cannot record. The message
    quotes the user's line that did it, with a caret under the call."""

    def __init__(self, message: str, location: SourceLocation | None = None):
        self.message = message
        self.location = location
        super().__init__(format_with_source(message, location))


class TracingCheckError(JitcError):
    """A trace diverged from the eager function on `check_inputs`:
    `input_index` names the argument tuple, `output_index` the first output
    that differs and `max_difference` by how much (inf for a shape or
    dtype mismatch)."""

    def __init__(self, message: str, input_index: int, output_index: int | None = None,
                 max_difference: float | None = None):
        self.input_index = input_index
        self.output_index = output_index
        self.max_difference = max_difference
        super().__init__(message)


class LoadError(JitcError):
    """A model file is damaged, from a newer format, or otherwise unreadable."""


class TracerWarning(UserWarning):
    """Tracing recorded a value as a constant that depends on the inputs."""


class CompileWarning(UserWarning):
    """A backend could not compile part of a program and fell back."""


def format_with_source(message: str, location: SourceLocation | None,
                       source_line: str | None = None) -> str:
    """`message`, then `File "f.py", line N`, the line and a caret range."""
    if location is None:
        return message
    if source_line is None:
        source_line = linecache.getline(location.filename, location.line).rstrip("\n")
    lines = [message, f'  File "{location.filename}", line {location.line}']
    if source_line:
        stripped = source_line.lstrip()
        indent = len(source_line) - len(stripped)
        start = max(location.column - indent, 0)
        if location.end_line == location.line and location.end_column is not None:
            width = max(location.end_column - location.column, 1)
        else:
            width = max(len(stripped) - start, 1)
        lines.append("    " + stripped)
        lines.append("    " + " " * start + "^" * width)
    return "\n".join(lines)


__all__ = ["JitcError", "FrontendError", "ScriptError", "TraceError", "TracingCheckError",
           "LoadError", "TracerWarning", "CompileWarning", "IRError", "format_with_source"]
