"""Preset ``generic``: indicators anywhere in free text, refanged.

    Blocked hxxp://evil[.]example/a for 10.0.0.5 (dropper fantasy35.exe,
    md5 44d88612fea8a8f36de82e1278abb02f)

yields ``URL http://evil.example/a``, ``IP 10.0.0.5``,
``MD5 44d88612fea8a8f36de82e1278abb02f`` (``fantasy35.exe`` is no domain: ``.exe`` is
not a top-level domain). The rules of reading are those of ``trapline.extract.freetext``;
rule names (and captures) are the types: URL, IP, DOMAIN, MD5, SHA1, SHA256.
"""

from __future__ import annotations

from trapline.extract.collector import Collector
from trapline.extract.freetext import scan_text
from trapline.extract.rules import RuleSet


class GenericRuleSet(RuleSet):
    """Free text: every URL, address, domain name and hash in it."""

    preset = "generic"

    def scan(self, text: str, out: Collector) -> None:
        scan_text(text, out)
