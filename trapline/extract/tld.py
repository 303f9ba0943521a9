"""Top-level domains: is the last label of a name a real TLD?

    >>> is_tld("info"), is_tld("exe")
    (True, False)

Free text is full of dotted words that are not domain names (``fantasy35.exe``,
``kibana-search.png``); a candidate counts as a domain only when its last label is
a top-level domain of the Public Suffix List bundled with ``publicsuffixlist``
(never fetched at run time). ``trapline.indicators.domain.is_public_suffix`` can not
answer this: like every PSL implementation it applies the implicit ``*`` rule, so
any unknown label is a public suffix there.
"""

from __future__ import annotations

from functools import lru_cache

from publicsuffixlist import PSLFILE


@lru_cache(maxsize=1)
def top_level_domains() -> frozenset[str]:
    """Every single-label entry of the bundled Public Suffix List, in ASCII (Punycode) too."""
    labels: set[str] = set()
    with open(PSLFILE, encoding="utf-8") as lines:
        for line in lines:
            entry = line.strip()
            if not entry or entry.startswith("//") or "." in entry or entry[0] in "!*":
                continue
            entry = entry.lower()
            labels.add(entry)
            if not entry.isascii():
                labels.add("xn--" + entry.encode("punycode").decode("ascii"))
    return frozenset(labels)


def is_tld(label: str) -> bool:
    """True if ``label`` (any case) is a top-level domain."""
    return label.lower() in top_level_domains()
