"""E-mail addresses: ``local@domain``, compared case-insensitively.

The domain takes the canonical domain form (IDN to punycode, lower case, no
trailing dot); the local part is lower-cased, since mail systems in practice
treat ``Alice@`` and ``alice@`` as one mailbox. A ``mailto:`` prefix is dropped.
"""

from __future__ import annotations

import re

from trapline.indicators.domain import canonical_domain
from trapline.indicators.errors import InvalidIndicator

# RFC 5322 dot-atom local parts (quoted local parts are not accepted as indicators).
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
EMAIL_SHAPE = re.compile(r"^(?:mailto:)?[^@\s/:]+@[^@\s/:]+$", re.IGNORECASE)


def canonical_email(text: str) -> str:
    """Canonical ``local@domain``; raises InvalidIndicator when ``text`` is not an address."""
    value = text.strip()
    if value[:7].lower() == "mailto:":
        value = value[7:]
    local, at, domain = value.rpartition("@")
    if not at or len(local) > 64 or _LOCAL.match(local) is None:
        raise InvalidIndicator(text, "not an e-mail address")
    try:
        name = canonical_domain(domain)
    except InvalidIndicator:
        raise InvalidIndicator(text, "not an e-mail address: bad domain") from None
    return f"{local.lower()}@{name}"
