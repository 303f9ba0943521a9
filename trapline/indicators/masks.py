"""URL masks as vendor feeds and STIX ``LIKE`` patterns write them.

A mask reads like a URL with wildcards: ``*`` is any run of characters (also
none) and ``?`` exactly one character, except the first ``?`` after the host,
which separates the query as in a URL (``host/x.php?*``). The canonical text
writes a literal character that would otherwise be a wildcard in brackets:
``[?]`` (the query separator), ``[*]``, ``[[]``. Shapes (docs/matching.md):

- domain mask ``*.evil.example``: any proper subdomain of ``evil.example``, any path;
- folder mask ``host/dir/*``: the folder itself and everything under it;
- script mask ``host/x.php?*``: the script with any query or none;
- any other pattern: ``*`` and ``?`` in the host (matched against the host) and
  in the path and query (matched against the rest of the URL).

A mask is canonicalized by the URL rules (host, case, escapes) and matched
against the *canonical* URL (``host/path?query``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple

from trapline.indicators.errors import InvalidIndicator
from trapline.indicators.refang import refang
from trapline.indicators.url import (
    SIMPLE_HOST,
    SLASHES,
    HostKind,
    decode_path,
    decode_query,
    escape_trailing_space,
    parse_host,
    strip_scheme,
    without_www,
)

WILDCARDS = frozenset("*?")
_PORT = re.compile(r":[0-9]*$")
_HOST_PATTERN = re.compile(r"[a-z0-9._*?-]*[a-z0-9][a-z0-9._*?-]*")


class HostMode:
    """How a mask's host part is matched against a URL host."""

    EXACT = "exact"          # the host itself (``evil.example/dir/*``)
    SUBDOMAIN = "subdomain"  # a proper subdomain of the anchor (``*.evil.example``)
    PATTERN = "pattern"      # wildcards inside the host, matched against the host text


class MaskShape(NamedTuple):
    """A canonical mask split into the parts the index stores."""

    text: str    # canonical text: ``*.evil.example``, ``evil.example/x.php[?]*``
    mode: str    # a HostMode value
    anchor: str  # the host (EXACT), the parent domain (SUBDOMAIN) or host pattern (PATTERN)
    rest: str    # canonical pattern for what follows the host; "" matches anything


def tokens(text: str) -> list[str]:
    """Split mask text into wildcards (``*``, ``?``), escapes (``[?]``, ``[*]``, ``[[]``)
    and single literal characters; any other ``[`` is a literal character."""
    out: list[str] = []
    index = 0
    while index < len(text):
        if text[index] == "[" and text[index + 1 : index + 3] in ("?]", "*]", "[]"):
            out.append(text[index : index + 3])
            index += 3
        else:
            out.append(text[index])
            index += 1
    return out


def render(toks: list[str]) -> str:
    """Canonical text of tokens: a literal ``[`` is written ``[[]``."""
    return "".join("[[]" if t == "[" else t for t in toks)


def remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4 on a path that starts with ``/``."""
    output: list[str] = []
    segments = path.split("/")[1:]
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "..":
            if output:
                output.pop()
            if last:
                output.append("")
        elif segment == ".":
            if last:
                output.append("")
        else:
            output.append(segment)
    return "/" + "/".join(output)


def _literal(char: str) -> str:
    return f"[{char}]" if char in "*?[" else char


_HOST_END = re.compile(r"[/\\]")


def _plain(tokens_: list[str]) -> str:
    return "".join(t[1] if len(t) == 3 else t for t in tokens_)


def from_like(pattern: str) -> str:
    """Translate a SQL ``LIKE`` pattern (``%`` any run, ``_`` one character, ``\\`` escape)."""
    out: list[str] = []
    chars = iter(pattern)
    for char in chars:
        if char == "\\":
            out.append(_literal(next(chars, "\\")))
        elif char == "%":
            out.append("*")
        elif char == "_":
            out.append("?")
        else:
            out.append(_literal(char))
    return "".join(out)


def is_mask(text: str) -> bool:
    """True when a value has a ``*`` wildcard or a ``[?]`` (canonical masks), not a URL."""
    return "*" in text or "[?]" in text


def shape_of(text: str) -> MaskShape:
    """The shape of *canonical* mask text, read back without canonicalizing again."""
    host = text.split("/", 1)[0].partition("[?]")[0]
    wild = host.count("*") + host.count("?") - host.count("[*]") - host.count("[?]")
    if wild == 1 and host.startswith("*."):
        return MaskShape(text, HostMode.SUBDOMAIN, host[2:], text[len(host):])
    return MaskShape(text, HostMode.PATTERN if wild else HostMode.EXACT, host, text[len(host):])


def _split(body: str) -> tuple[str, str]:
    """Host pattern and rest of a mask body (no scheme); user info and port dropped."""
    match = _HOST_END.search(body)
    host, rest = (body, "") if match is None else (body[: match.start()], body[match.start() :])
    host = host.rpartition("@")[2]
    if not host.endswith("]"):
        host = _PORT.sub("", host)
    return host, rest


def _mark_query_separator(rest: str) -> str:
    """In vendor syntax the first bare ``?`` of the rest is the literal query separator."""
    toks = tokens(rest)
    for index, token in enumerate(toks):
        if token == "[?]":
            break
        if token == "?":
            toks[index] = "[?]"
            break
    return "".join(toks)


def _decoded_tokens(part: str, decode: Callable[[str], str]) -> list[str]:
    """Tokens of a path or query pattern with each literal run decoded on its own.

    Decoding runs apart keeps an escaped ``%2A`` a literal ``[*]``, never a wildcard.
    """
    out: list[str] = []
    run: list[str] = []
    for token in [*tokens(part), None]:
        if token is not None and len(token) == 1 and token not in WILDCARDS:
            run.append(token)
            continue
        if run:
            out.extend(_literal(char) for char in decode("".join(run)))
            run = []
        if token is not None:
            out.append(token)
    return out


def _canonical_rest(rest: str) -> str:
    """Canonical path-and-query pattern: decoded, lower-case, ``//`` collapsed."""
    if not rest:
        return ""
    path, sep, query = rest.partition("[?]")
    cleaned = remove_dot_segments(SLASHES.sub("/", "/" + "".join(
        _decoded_tokens(path, decode_path))))
    path = "/" + cleaned.strip("/")
    path = "" if path == "/" else path
    if sep:
        # As in canonical URLs, a "/" before the query stays (``dir/?*``); it also
        # keeps the query apart from the host when the text is read again.
        if path and cleaned.endswith("/"):
            path += "/"
        return (path or "/") + sep + "".join(_decoded_tokens(query, decode_query))
    return path


# The shapes vendor feeds write most, in characters that no rule changes:
# ``*.domain``, ``host/dir/*`` and ``host/x.php?*`` (see _simple_mask).
_SIMPLE_PATH = r"(?:/[a-z0-9_~.!$&'()+,;=:@-]*)*"
_SIMPLE_DOMAIN_MASK = re.compile(rf"(?:(?:https?|ftp)://)?\*\.({SIMPLE_HOST})(?:/\*)?")
_SIMPLE_PATH_MASK = re.compile(
    rf"(?:(?:https?|ftp)://)?({SIMPLE_HOST})(?::[0-9]{{1,5}})?({_SIMPLE_PATH})(/\*|\?\*)")
_UNSIMPLE_PATH = re.compile(r"//|/\.\.?(?:/|$)")


def _simple_mask(text: str) -> MaskShape | None:
    """``canonical_mask`` of lower-case ASCII masks of the common shapes, without parsing."""
    match = _SIMPLE_DOMAIN_MASK.fullmatch(text)
    if match is not None:
        anchor = match.group(1)
        if "xn--" in anchor:
            return None
        return MaskShape("*." + anchor, HostMode.SUBDOMAIN, anchor, "")
    match = _SIMPLE_PATH_MASK.fullmatch(text)
    if match is None:
        return None
    host, path, tail = match.groups()
    if "xn--" in host or _UNSIMPLE_PATH.search(path + "/") or not (path or tail == "/*"):
        return None  # ``host?*`` has its "?" in the host part: a host pattern
    host = without_www(host)
    rest = path.rstrip("/") + "/*" if tail == "/*" else (path or "/") + "[?]*"
    return MaskShape(host + rest, HostMode.EXACT, host, rest)


def parsed_mask(text: str) -> MaskShape:
    """The general path of ``canonical_mask`` for vendor syntax (tests compare the two)."""
    return canonical_mask(text, like=False, fast=False)


def canonical_mask(text: str, *, like: bool = False, fast: bool = True) -> MaskShape:
    """Canonical shape of a vendor mask, or of a STIX ``LIKE`` pattern when ``like``.

    Raises InvalidIndicator for a mask without a host or without any wildcard.
    """
    source = refang(text)
    if fast and not like and source.isascii():
        simple = _simple_mask(source.lower())
        if simple is not None:
            return simple
    body = strip_scheme(from_like(source) if like else source)
    host_part, rest = _split(body)
    if not like:
        rest = _mark_query_separator(rest)
    rest = escape_trailing_space(_canonical_rest(rest))
    host_tokens = tokens(host_part.lower())
    wild = sum(t in WILDCARDS for t in host_tokens)
    if not host_tokens:
        raise InvalidIndicator(text, "mask without a host")
    if wild == 0:
        host, _ = _literal_host(text, _plain(host_tokens))
        if not any(t in WILDCARDS for t in tokens(rest)):
            raise InvalidIndicator(text, "no wildcard: a URL, not a mask")
        return MaskShape(host + rest, HostMode.EXACT, host, rest)
    if host_tokens[:2] == ["*", "."] and wild == 1:
        rest = "" if rest == "/*" else rest
        anchor, kind = _literal_host(text, _plain(host_tokens[2:]), strip_www=False)
        if kind != HostKind.DOMAIN:
            raise InvalidIndicator(text, "a domain mask needs a domain name after '*.'")
        return MaskShape("*." + anchor + rest, HostMode.SUBDOMAIN, anchor, rest)
    rest = rest or "/*"  # any path; the "*" also marks the text as a mask
    pattern = render(host_tokens)
    if _HOST_PATTERN.fullmatch(pattern) is None:
        raise InvalidIndicator(text, "a host pattern needs letters or digits and may hold only "
                                     "ASCII letters, digits, '.', '-', '_' and wildcards")
    return MaskShape(pattern + rest, HostMode.PATTERN, pattern, rest)


def _literal_host(text: str, host: str, *, strip_www: bool = True) -> tuple[str, str]:
    try:
        return parse_host(host, strip_www=strip_www)
    except InvalidIndicator as exc:
        raise InvalidIndicator(text, "mask with an invalid host") from exc


def _regex(toks: list[str]) -> str:
    out = []
    for token in toks:
        if token == "*":
            out.append(".*")
        elif token == "?":
            out.append(".")
        else:
            out.append(re.escape(token[1] if len(token) == 3 else token))
    return "".join(out)


@lru_cache(maxsize=65536)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Regex for a canonical rest or host pattern, with the folder and script tails.

    ``/dir/*`` also matches the folder itself and ``/dir?query``; ``/x.php[?]*``
    also matches the script without a query, since canonical URLs drop an empty one.
    """
    toks = tokens(pattern)
    if toks[-2:] == ["/", "*"]:
        body = _regex(toks[:-2]) + r"(?:[/?].*)?"
    elif toks[-2:] == ["[?]", "*"]:
        body = _regex(toks[:-2]) + r"(?:\?.*)?"
    else:
        body = _regex(toks)
    return re.compile(body, re.DOTALL)


def rest_matches(rest_pattern: str, url_rest: str) -> bool:
    """Does what follows the host in a canonical URL match a mask's rest pattern?"""
    if not rest_pattern:
        return True
    # Folder and script masks with no other wildcard are prefix tests: no regex to
    # compile for each of a feed's many masks (docs/performance.md).
    if rest_pattern[-2:] == "/*":
        prefix = rest_pattern[:-2]
        if not _HAS_WILDCARD.search(prefix):
            prefix = _unescape(prefix)
            return url_rest == prefix or (url_rest.startswith(prefix) and url_rest[
                len(prefix) : len(prefix) + 1] in ("/", "?")) or not prefix
    elif rest_pattern[-4:] == "[?]*":
        prefix = rest_pattern[:-4]
        if not _HAS_WILDCARD.search(prefix):
            prefix = _unescape(prefix)
            return url_rest == prefix or url_rest.startswith(prefix + "?")
    return compile_pattern(rest_pattern).fullmatch(url_rest) is not None


_HAS_WILDCARD = re.compile(r"(?<!\[)[*?](?!\])")


def _unescape(text: str) -> str:
    return text.replace("[?]", "?").replace("[*]", "*").replace("[[]", "[") if "[" in text else text


def mask_matches(shape: MaskShape, url_host: str, url_rest: str) -> bool:
    """Does a canonical URL (split into host and rest) match a canonical mask?"""
    if shape.mode == HostMode.EXACT:
        host_ok = url_host == shape.anchor
    elif shape.mode == HostMode.SUBDOMAIN:
        host_ok = url_host.endswith("." + shape.anchor)
    else:
        host_ok = compile_pattern(shape.anchor).fullmatch(url_host) is not None
    return host_ok and rest_matches(shape.rest, url_rest)
