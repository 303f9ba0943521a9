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
    # Plain substring tests: a case-insensitive regex costs ten times more here.
    if not ("[" in value or "(" in value or "{" in value or "xx" in value or "XX" in value
            or "xX" in value or "Xx" in value):
        return value.strip()
    value = _TOKENS.sub(lambda m: _REPLACEMENT[m.group(0).lower()], value)
    return _SCHEME.sub(lambda m: "http" + m.group(1).lower(), value.strip(), count=1)
