"""Undo the usual defanging of indicators in reports and feeds (``hxxp``, ``[.]``)."""

from __future__ import annotations

import re

_SCHEME = re.compile(r"^hxxp(s?)(?=:)", re.IGNORECASE)
_TOKENS = re.compile(r"\[\.\]|\(\.\)|\{\.\}|\[dot\]|\(dot\)|\[:\]|\[://\]|\[at\]|\(at\)|\[@\]",
                     re.IGNORECASE)
_REPLACEMENT = {
    "[.]": ".", "(.)": ".", "{.}": ".", "[dot]": ".", "(dot)": ".",
    "[:]": ":", "[://]": "://", "[at]": "@", "(at)": "@", "[@]": "@",
}


def refang(value: str) -> str:
    """Return ``value`` with defanged schemes, dots, colons and at-signs restored.

    ``hxxps[:]//evil[.]example/a`` gives ``https://evil.example/a``.
    """
    if "[" not in value and "(" not in value and "{" not in value and "xx" not in value.lower():
        return value
    value = _TOKENS.sub(lambda m: _REPLACEMENT[m.group(0).lower()], value)
    return _SCHEME.sub(lambda m: "http" + m.group(1).lower(), value.strip(), count=1)
