"""Exceptions raised by the IR layer. Frontends and the public API wrap or
re-export them; `ir/` raises nothing defined elsewhere."""


class IRError(Exception):
    """Base class of every IR-level error."""


class UnknownOpError(IRError, KeyError):
    """A node names an op that is not in the op table."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class IRTypeError(IRError, TypeError):
    """An op's type rule rejected its input types or attributes."""


class VerificationError(IRError):
    """A graph breaks an IR invariant (SSA, dominance, types, arities)."""


class ParseError(IRError):
    """IR text that does not parse; the message names line and column."""


class InterpreterError(IRError):
    """The reference interpreter could not run a node."""
