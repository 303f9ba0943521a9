"""Preset ``kuma``: KUMA-style lookup requests, ``type=value`` pairs separated by ``|``.

    LookupRequest ip=203.0.113.9|url=http://evil.example/a|hash=44d88612fea8a8f36de82e1278abb02f

yields ``IP 203.0.113.9``, ``URL http://evil.example/a``,
``MD5 44d88612fea8a8f36de82e1278abb02f``.

A leading token before the first pair (``LookupRequest``, a number) is captured as
``token``. Spaces around pairs are ignored. Keys (any case) are ``ip``, ``url``,
``hash`` (MD5, SHA1 or SHA256 by length), ``md5``, ``sha1``, ``sha256``, ``domain``,
and any key ``trapline.extract.fields`` types (``src_ip``, ``host``...); others are
captured only. The rule name of an observable is its key as sent.

Its ``match`` claims a line that starts (after an optional token) with a known pair
whose value is followed by ``|`` or the end of the line: KUMA requests are recognised
beside any other rule set on the same port, and a Splunk-style line
(``ip=... md5=...``, space-separated) is not claimed. A line with no ``=`` at all is
read as free text.
"""

from __future__ import annotations

from trapline.extract.collector import Collector
from trapline.extract.freetext import scan_text
from trapline.extract.rules import RuleSet

# A line that starts with a known pair (after an optional short token) followed by '|'
# or the end. Anchored, and the token is bounded and can not start a JSON object, so
# this costs about a microsecond on any line (it runs for every event of the service).
KUMA_MATCH = (
    r'^[ \t]*(?:[^\s|={}"\[\]]{1,64}[ \t]+)?'
    r"(?i:ip|url|hash|md5|sha1|sha256|domain)=[^|\s]*[ \t]*(?:\||$)"
)


class KumaRuleSet(RuleSet):
    """``[token ]type=value|type=value...`` lines."""

    preset = "kuma"
    default_match = KUMA_MATCH

    def scan(self, text: str, out: Collector) -> None:
        if "=" not in text:
            scan_text(text, out)
            return
        for index, part in enumerate(text.split("|")):
            key, equals, value = part.partition("=")
            if not equals:
                continue
            key = key.strip()
            if index == 0 and (" " in key or "\t" in key):
                token, _, key = key.rpartition(" ") if " " in key else key.rpartition("\t")
                out.capture("token", token.strip())
                key = key.strip()
            value = value.strip()
            if not key or not value:
                continue
            out.pair(key, value)
