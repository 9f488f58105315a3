"""Reads the text form written by `ir.printer` back into a `Graph`.

The grammar does not depend on indentation: a node's blocks follow it as
`blockN(params):` ... `-> (returns)`, and the graph ends with `return`.
Output types are read from the text, not re-inferred, so a parsed graph is
exactly the printed one; `ir.verifier` checks it against the op table.
"""
from __future__ import annotations

import json
import re

from .attributes import TensorRef
from .errors import ParseError
from .graph import Block, Graph, Node, SourceLocation, Value
from .types import (ANY_DIM, BOOL, DTYPE_BY_TYPE_NAME, FLOAT, INT, NEVER, NONE, STRING, DType, ListType,
                    TensorType, TupleType, Type)

# Each match is the blanks before a token, then the token (so blanks cost no match of their own).
_TOKEN = re.compile(r"""[ \t\r]*(?:
    (?P<comment>\#[^\n]*)
  | (?P<newline>\n)
  | (?P<value>%[A-Za-z0-9_.]+)
  | (?P<ref>@[A-Za-z0-9_.]+)
  | (?P<string>"(?:[^"\\]|\\.)*")
  | (?P<arrow>->)
  | (?P<ellipsis>\.\.\.)
  | (?P<number>-?(?:\d+\.\d*(?:[eE][-+]?\d+)?|\d+[eE][-+]?\d+|\d+))
  | (?P<name>-?[A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)?)
  | (?P<punct>[()\[\],:=*])
)""", re.VERBOSE)

_SOURCE = re.compile(r"^(?P<file>.*):(?P<line>\d+):(?P<col>\d+)(?:-(?P<eline>\d+):(?P<ecol>\d+))?$")
_SCALAR_TYPES = {"int": INT, "float": FLOAT, "bool": BOOL, "None": NONE, "str": STRING, "Never": NEVER}
_NAMED_CONSTANTS = {"True": True, "False": False, "None": None, "inf": float("inf"),
                    "-inf": float("-inf"), "nan": float("nan")}


class _Token:
    """A token: its kind, its text, and where it starts (line 1-based, column 0-based)."""

    __slots__ = ("kind", "text", "line", "column")

    def __init__(self, kind: str, text: str, line: int, column: int):
        self.kind, self.text, self.line, self.column = kind, text, line, column


def _tokenize(text: str) -> list[_Token]:
    tokens, line, line_start, position = [], 1, 0, 0
    append = tokens.append
    for match in _TOKEN.finditer(text):
        if match.start() != position:  # finditer skipped characters no token matches
            break
        kind = match.lastgroup
        start = match.start(kind)
        if kind == "newline":
            append(_Token("newline", "\n", line, start - line_start))
            line, line_start = line + 1, start + 1
        else:
            append(_Token(kind, match.group(kind), line, start - line_start))
        position = match.end()
    end = len(text.rstrip(" \t\r"))
    if position < end:
        position += len(text[position:]) - len(text[position:].lstrip(" \t\r"))
        line = text.count("\n", 0, position) + 1
        column = position - (text.rfind("\n", 0, position) + 1)
        raise ParseError(f"line {line}, column {column + 1}: unexpected character {text[position]!r}")
    position = max(position, len(text))
    tokens.append(_Token("end", "", line, position - line_start))
    return tokens


class _Parser:
    def __init__(self, text: str, tensors: dict | None):
        self.tokens = _tokenize(text)
        self.position = 0
        self.values: dict[str, Value] = {}
        self.graph = Graph()
        if tensors:
            self.graph.tensors.update(tensors)

    # -- token helpers --------------------------------------------------------------
    @property
    def current(self) -> _Token:
        return self.tokens[self.position]

    def error(self, message: str, token: _Token | None = None) -> ParseError:
        token = token or self.current
        found = token.text if token.kind != "end" else "end of text"
        return ParseError(f"line {token.line}, column {token.column + 1}: {message} (found {found!r})")

    def skip_newlines(self) -> None:
        while self.current.kind == "newline":
            self.position += 1

    def accept(self, text: str) -> bool:
        if self.current.text == text and self.current.kind in ("punct", "name", "arrow", "ellipsis"):
            self.position += 1
            return True
        return False

    def expect(self, text: str) -> _Token:
        token = self.current
        if not self.accept(text):
            raise self.error(f"expected {text!r}")
        return token

    def expect_kind(self, kind: str) -> _Token:
        token = self.current
        if token.kind != kind:
            raise self.error(f"expected a {kind}")
        self.position += 1
        return token

    def comma_separated(self, parse_item, closing: str) -> list:
        items = []
        if self.accept(closing):
            return items
        while True:
            items.append(parse_item())
            if self.accept(closing):
                return items
            self.expect(",")

    # -- types -----------------------------------------------------------------------
    def parse_type(self) -> Type:
        token = self.expect_kind("name")
        name = token.text
        if name in _SCALAR_TYPES:
            return _SCALAR_TYPES[name]
        if name in ("List", "Tuple"):
            self.expect("[")
            elements = self.comma_separated(self.parse_type, "]")
            if name == "List":
                if len(elements) != 1:
                    raise self.error("List takes exactly one element type", token)
                return ListType(elements[0])
            return TupleType(tuple(elements))
        if name == "Tensor":
            dtype = None
        elif name in DTYPE_BY_TYPE_NAME:
            dtype = DTYPE_BY_TYPE_NAME[name]
        else:
            raise self.error("unknown type", token)
        if not self.accept("("):
            if dtype is not None:
                raise self.error(f"expected '(' after {name}")
            return TensorType()
        if self.accept("..."):
            self.expect(")")
            return TensorType(dtype)
        return TensorType(dtype, tuple(self.comma_separated(self.parse_dim, ")")))

    def parse_dim(self):
        token = self.current
        if self.accept("*"):
            return ANY_DIM
        if token.kind == "number" and token.text.isdigit():
            self.position += 1
            return int(token.text)
        if token.kind == "name" and "::" not in token.text and not token.text.startswith("-"):
            self.position += 1
            return token.text
        raise self.error("expected a dimension (an int, * or a symbol)")

    # -- values ----------------------------------------------------------------------
    def define(self, token: _Token, type: Type, owner) -> Value:
        name = token.text[1:]
        if name in self.values:
            raise self.error(f"value %{name} is defined twice", token)
        value = Value(type, owner, name)
        self.values[name] = value
        return value

    def use(self) -> Value:
        token = self.expect_kind("value")
        try:
            return self.values[token.text[1:]]
        except KeyError:
            raise self.error(f"value {token.text} is used before it is defined", token) from None

    def parse_param(self, block: Block) -> Value:
        token = self.expect_kind("value")
        self.expect(":")
        value = self.define(token, self.parse_type(), block)
        block.params.append(value)
        return value

    # -- attributes ---------------------------------------------------------------------
    def parse_attribute_value(self):
        token = self.current
        if token.kind == "number":
            self.position += 1
            text = token.text
            return float(text) if any(c in text for c in ".eE") else int(text)
        if token.kind == "string":
            self.position += 1
            return json.loads(token.text)
        if token.kind == "ref":
            self.position += 1
            return TensorRef(token.text[1:])
        if token.kind == "name":
            self.position += 1
            if token.text in _NAMED_CONSTANTS:
                return _NAMED_CONSTANTS[token.text]
            try:
                return DType(token.text)
            except ValueError:
                raise self.error("unknown attribute value", token) from None
        if self.accept("("):
            items = []
            while not self.accept(")"):
                items.append(self.parse_attribute_value())
                if not self.accept(","):
                    self.expect(")")
                    break
            return tuple(items)
        raise self.error("expected an attribute value")

    def parse_attribute(self) -> tuple[str, object]:
        name = self.expect_kind("name").text
        self.expect("=")
        return name, self.parse_attribute_value()

    # -- nodes and blocks ------------------------------------------------------------------
    def parse_source(self) -> SourceLocation | None:
        if self.current.kind != "comment":
            return None
        token = self.current
        self.position += 1
        # The printer writes `# file:line:col`: drop that one space only, the file name may start with one.
        match = _SOURCE.match((token.text[2:] if token.text.startswith("# ") else token.text[1:]).rstrip())
        if match is None:
            raise self.error("a comment after a node must be a source location file:line:col", token)
        end_line = match.group("eline")
        return SourceLocation(match.group("file"), int(match.group("line")), int(match.group("col")),
                              None if end_line is None else int(end_line),
                              None if end_line is None else int(match.group("ecol")))

    def parse_node(self, block: Block) -> None:
        outputs = []
        if self.current.kind == "value":
            while True:
                token = self.expect_kind("value")
                self.expect(":")
                outputs.append((token, self.parse_type()))
                if not self.accept(","):
                    break
            self.expect("=")
        kind_token = self.expect_kind("name")
        if "::" not in kind_token.text:
            raise self.error("expected an op name namespace::name", kind_token)
        attributes = dict(self.comma_separated(self.parse_attribute, "]")) if self.accept("[") else {}
        self.expect("(")
        inputs = self.comma_separated(self.use, ")")
        node = Node(kind_token.text, inputs, (), attributes, self.parse_source())
        for token, type in outputs:
            node.outputs.append(self.define(token, type, node))
        block.append(node)
        self.skip_newlines()
        index = 0
        while self.current.kind == "name" and self.current.text == f"block{index}":
            self.position += 1
            inner = node.add_block()
            self.expect("(")
            self.comma_separated(lambda: self.parse_param(inner), ")")
            self.expect(":")
            self.parse_body(inner, terminator="->")
            index += 1

    def parse_body(self, block: Block, terminator: str) -> None:
        self.skip_newlines()
        while not (self.current.text == terminator and self.current.kind in ("arrow", "name")):
            if self.current.kind == "end":
                raise self.error(f"expected {terminator!r} before the end of the text")
            self.parse_node(block)
            self.skip_newlines()
        self.position += 1
        self.expect("(")
        block.set_returns(self.comma_separated(self.use, ")"))
        self.skip_newlines()

    def parse(self) -> Graph:
        self.skip_newlines()
        self.expect("graph")
        self.expect("(")
        self.comma_separated(lambda: self.parse_param(self.graph.block), ")")
        self.expect(":")
        self.parse_body(self.graph.block, terminator="return")
        if self.current.kind != "end":
            raise self.error("unexpected text after the graph's return")
        return self.graph


def parse_graph(text: str, tensors: dict | None = None) -> Graph:
    """Parse IR text; `tensors` fills the table that `@name` constants refer to."""
    return _Parser(text, tensors).parse()
