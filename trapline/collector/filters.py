"""Rule filters: a small expression language over event fields.

    DestinationAddress not in 10.0.0.0/8,192.168.0.0/16
    event_type = dns and not (DestinationHostName matches '\\.local$' or SourceAddress exists)

Grammar (keywords are case-insensitive)::

    expr      := and_expr ("or" and_expr)*
    and_expr  := not_expr ("and" not_expr)*
    not_expr  := "not" not_expr | "(" expr ")" | condition
    condition := FIELD ("=" | "==" | "equals") VALUE
               | FIELD ("!=" | "not equals") VALUE
               | FIELD ["not"] "in" CIDR["," CIDR]...
               | FIELD ["not"] "matches" REGEX
               | FIELD ["not"] "exists"

``FIELD`` may be dotted (``http.hostname``); ``VALUE``/``REGEX`` are a bare
word or a quoted string (``'...'`` or ``"..."``, backslash escapes the quote).
Every negated form is exactly ``not`` of the plain one: a missing field is
not equal to anything, in no network, matches nothing. ``parse_filter``
raises ``FilterError`` naming the column of the problem.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Any

from trapline.collector.schema import Event, field_value
from trapline.errors import TraplineError

Predicate = Callable[[Event], bool]
_TOKEN = re.compile(r"""\s*(?:(\()|(\))|(==|!=|=)"""
                    r"""|('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")|([^\s()=!'"]+))""")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class FilterError(TraplineError):
    """A filter expression does not parse."""


class _Token:
    __slots__ = ("column", "kind", "text")

    def __init__(self, kind: str, text: str, column: int) -> None:
        self.kind, self.text, self.column = kind, text, column

    def keyword(self) -> str:
        return self.text.lower() if self.kind == "word" else ""


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            column = position + len(text[position:]) - len(text[position:].lstrip()) + 1
            raise FilterError(f"unexpected character {text[column - 1]!r} at column {column}")
        start = match.start(match.lastindex or 0) + 1
        kind = ("(", ")", "op", "quoted", "word")[(match.lastindex or 1) - 1]
        value = match.group(match.lastindex or 0)
        if kind == "quoted":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        tokens.append(_Token(kind, value, start))
        position = match.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.at = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise FilterError(f"unexpected end of filter at column {len(self.text) + 1}")
        self.at += 1
        return token

    def fail(self, token: _Token | None, expected: str) -> FilterError:
        if token is None:
            return FilterError(f"expected {expected} at the end (column {len(self.text) + 1})")
        return FilterError(f"expected {expected} at column {token.column}, got {token.text!r}")

    def parse(self) -> Predicate:
        if not self.tokens:
            raise FilterError("empty filter")
        predicate = self.or_expr()
        if self.peek() is not None:
            raise self.fail(self.peek(), "'and', 'or' or the end")
        return predicate

    def or_expr(self) -> Predicate:
        parts = [self.and_expr()]
        while (token := self.peek()) is not None and token.keyword() == "or":
            self.take()
            parts.append(self.and_expr())
        if len(parts) == 1:
            return parts[0]
        return lambda event: any(part(event) for part in parts)

    def and_expr(self) -> Predicate:
        parts = [self.not_expr()]
        while (token := self.peek()) is not None and token.keyword() == "and":
            self.take()
            parts.append(self.not_expr())
        if len(parts) == 1:
            return parts[0]
        return lambda event: all(part(event) for part in parts)

    def not_expr(self) -> Predicate:
        token = self.peek()
        if token is None:
            raise self.fail(None, "a condition")
        if token.keyword() == "not":
            self.take()
            inner = self.not_expr()
            return lambda event: not inner(event)
        if token.kind == "(":
            self.take()
            inner = self.or_expr()
            closing = self.peek()
            if closing is None or closing.kind != ")":
                raise self.fail(closing, "')'")
            self.take()
            return inner
        return self.condition()

    def value(self, what: str) -> _Token:
        token = self.peek()
        if token is None or token.kind not in ("word", "quoted"):
            raise self.fail(token, what)
        return self.take()

    def condition(self) -> Predicate:
        field_token = self.take()
        if field_token.kind != "word" or field_token.keyword() in ("and", "or", "not"):
            raise self.fail(field_token, "a field name")
        name = field_token.text
        token = self.peek()
        negate = False
        if token is not None and token.keyword() == "not":
            self.take()
            negate = True
            token = self.peek()
        if token is None:
            raise self.fail(None, f"an operator after {name!r}")
        word = token.keyword()
        if token.kind == "op" or word == "equals":
            self.take()
            op = "!=" if token.text == "!=" else "="
            if negate and op == "!=":
                raise self.fail(token, "an operator (not '!=' after 'not')")
            if negate:
                op = "!="
            expected = self.value("a value").text
            if op == "=":
                return lambda event: _text(field_value(event, name)) == expected
            return lambda event: _text(field_value(event, name)) != expected
        if word == "in":
            self.take()
            networks = self.networks(self.value("a network (CIDR)"))
            predicate = _in_networks(name, networks)
        elif word == "matches":
            self.take()
            regex_token = self.value("a regular expression")
            try:
                pattern = re.compile(regex_token.text)
            except re.error as exc:
                raise FilterError(f"bad regular expression at column {regex_token.column}: "
                                  f"{exc}") from None

            def predicate(event: Event) -> bool:
                value = field_value(event, name)
                return value is not None and pattern.search(_text(value)) is not None
        elif word == "exists":
            self.take()

            def predicate(event: Event) -> bool:
                return field_value(event, name) not in (None, "")
        else:
            raise self.fail(token, f"an operator after {name!r} (=, !=, in, matches, exists)")
        if negate:
            positive = predicate
            return lambda event: not positive(event)
        return predicate

    def networks(self, token: _Token) -> list[Network]:
        networks: list[Network] = []
        for part in token.text.split(","):
            try:
                networks.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError:
                raise FilterError(f"not a network (CIDR) at column {token.column}: "
                                  f"{part.strip()!r}") from None
        return networks


def _text(value: Any) -> str:
    if value is None:
        return "\0missing"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _in_networks(name: str, networks: list[Network]) -> Predicate:
    def predicate(event: Event) -> bool:
        value = field_value(event, name)
        if value is None:
            return False
        try:
            address = ipaddress.ip_address(str(value))
        except ValueError:
            return False
        return any(address.version == net.version and address in net for net in networks)
    return predicate


def parse_filter(text: str) -> Predicate:
    """Compile ``text`` into a predicate over events; ``FilterError`` if it does not parse."""
    return _Parser(text).parse()
