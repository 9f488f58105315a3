"""Byte counts that depend on symbolic dims, as a memory plan states them
before the sizes are known: polynomials in the dim symbols with
non-negative integer coefficients (`4*x[0]*w[1] + 64`), and the maximum
of several of them (`max(4*x[0], 4*w[1])`).

Sizes are never negative, so a polynomial whose every coefficient is at
least another's is at least as large for every size: that is the only
comparison made (`covers`), and a maximum drops the options another covers.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

Monomial = tuple[str, ...]  # sorted symbols, repeated for powers; () is the constant term


def dim_factors(dim: int | str) -> tuple[int, list[str]]:
    """A dim (an int, a symbol, or a product written `4*%x[0]*%x[1]`) as its
    integer factor and its symbols."""
    if isinstance(dim, int):
        return dim, []
    factor, symbols = 1, []
    for part in dim.split("*"):
        if part.isdigit():
            factor *= int(part)
        else:
            symbols.append(part)
    return factor, symbols


def product_dim(factor: int, symbols: Iterable[str]) -> int | str:
    """The dim `factor · Π symbols`, written as dim_factors reads it."""
    symbols = sorted(symbols)
    if not symbols:
        return factor
    return "*".join(([str(factor)] if factor != 1 else []) + symbols)
MAX_OPTIONS = 8             # a maximum of more options is bounded above by one polynomial


@dataclass(frozen=True)
class Bytes:
    """Σ coefficient · Π symbols; `terms` sorted, every coefficient > 0."""

    terms: tuple[tuple[Monomial, int], ...] = ()

    @staticmethod
    def of(terms: Mapping[Monomial, int]) -> "Bytes":
        return Bytes(tuple(sorted((m, c) for m, c in terms.items() if c)))

    @staticmethod
    def constant(count: int) -> "Bytes":
        return Bytes.of({(): count})

    @staticmethod
    def of_shape(shape: Iterable[int | str], itemsize: int) -> "Bytes":
        """The bytes of a C-contiguous array of this shape (dims ints, symbols
        or products of them, `4*%x[0]*%x[1]`)."""
        coefficient, symbols = itemsize, []
        for dim in shape:
            factor, dim_symbols = dim_factors(dim)
            coefficient *= factor
            symbols += dim_symbols
        return Bytes.of({tuple(sorted(symbols)): coefficient})

    def __add__(self, other: "Bytes") -> "Bytes":
        terms = dict(self.terms)
        for monomial, coefficient in other.terms:
            terms[monomial] = terms.get(monomial, 0) + coefficient
        return Bytes.of(terms)

    def covers(self, other: "Bytes") -> bool:
        """self >= other for every size of the symbols."""
        mine = dict(self.terms)
        return all(mine.get(monomial, 0) >= coefficient for monomial, coefficient in other.terms)

    def upper_bound(self, other: "Bytes") -> "Bytes":
        """The coefficient-wise maximum: covers both."""
        terms = dict(self.terms)
        for monomial, coefficient in other.terms:
            terms[monomial] = max(terms.get(monomial, 0), coefficient)
        return Bytes.of(terms)

    @property
    def symbols(self) -> set[str]:
        return {symbol for monomial, _ in self.terms for symbol in monomial}

    def evaluate(self, sizes: Mapping[str, int]) -> int:
        total = 0
        for monomial, coefficient in self.terms:
            for symbol in monomial:
                coefficient *= sizes[symbol]
            total += coefficient
        return total

    def __str__(self) -> str:
        if not self.terms:
            return "0"
        return " + ".join("*".join([str(c)] * (c != 1 or not m) + list(m)) for m, c in reversed(self.terms))


@dataclass(frozen=True)
class MaxBytes:
    """The largest of `options`, none of which covers another. `exact` is
    False once too many options were replaced by one upper bound."""

    options: tuple[Bytes, ...]
    exact: bool = True

    @staticmethod
    def of(options: Iterable[Bytes], exact: bool = True) -> "MaxBytes":
        kept: list[Bytes] = []
        for option in options:
            if any(k.covers(option) for k in kept):
                continue
            kept = [k for k in kept if not option.covers(k)] + [option]
        if len(kept) > MAX_OPTIONS:
            bound = kept[0]
            for option in kept[1:]:
                bound = bound.upper_bound(option)
            kept, exact = [bound], False
        return MaxBytes(tuple(sorted(kept, key=lambda b: b.terms)) or (Bytes(),), exact)

    def __add__(self, other: "MaxBytes | Bytes") -> "MaxBytes":
        other = other if isinstance(other, MaxBytes) else MaxBytes((other,))
        return MaxBytes.of((a + b for a in self.options for b in other.options), self.exact and other.exact)

    def maximum(self, other: "MaxBytes | Bytes") -> "MaxBytes":
        other = other if isinstance(other, MaxBytes) else MaxBytes((other,))
        return MaxBytes.of(self.options + other.options, self.exact and other.exact)

    def covers(self, other: Bytes) -> bool:
        return any(option.covers(other) for option in self.options)

    @property
    def symbols(self) -> set[str]:
        return set().union(*(option.symbols for option in self.options))

    def evaluate(self, sizes: Mapping[str, int]) -> int:
        return max(option.evaluate(sizes) for option in self.options)

    def __str__(self) -> str:
        text = str(self.options[0]) if len(self.options) == 1 else f"max({', '.join(map(str, self.options))})"
        return text if self.exact else f"at most {text}"
