"""An immutable, versioned snapshot of indicators and the lookup that explains itself.

    verdict = snapshot.lookup("http://a.b.evil.example/x")
    [m.explain() for m in verdict.matches]   # ['url-host parent-domain evil.example']

A lookup reads through one view of one snapshot, so it sees one version whole.
Matching rules are in docs/matching.md.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

import msgspec

from trapline.index.backend import Backend, View
from trapline.index.build import SnapshotMeta
from trapline.index.keys import hash_key, ip_key, text_key
from trapline.index.records import ENTRY_DECODER, Entry, StoredRecord
from trapline.index.verdict import Match, Verdict
from trapline.indicators import Indicator, InvalidIndicator, Kind, normalize
from trapline.indicators.domain import is_public_suffix, parents
from trapline.indicators.ip import ipv4_int, ipv4_text, ipv6_text, parse_ipv6
from trapline.indicators.masks import HostMode, MaskShape, canonical_mask, mask_matches
from trapline.indicators.url import HostKind, canonical_url

_META_DECODER = msgspec.msgpack.Decoder(SnapshotMeta)


def _network_text(version: int, network: int, prefix: int) -> str:
    if version == 4:
        return ipv4_text(network) if prefix == 32 else f"{ipv4_text(network)}/{prefix}"
    return ipv6_text(network) if prefix == 128 else f"{ipv6_text(network)}/{prefix}"


class Snapshot:
    """Lookups over one snapshot; cheap to share, safe to use from many threads."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.meta = _META_DECODER.decode(backend.meta_bytes)
        self.version = self.meta.version
        self._v4 = [(p, 32 - p) for p in self.meta.v4_prefixes]
        self._v6 = [(p, 128 - p) for p in self.meta.v6_prefixes]
        view = backend.view()
        self._patterns = [
            (canonical_mask(key.decode()), ENTRY_DECODER.decode(raw))
            for key, raw in view.items("pmask")
        ]

    def __len__(self) -> int:
        return sum(self.meta.counts.values())

    def close(self) -> None:
        """Release the storage; lookups on a closed snapshot fail."""
        self.backend.close()

    def lookup(self, observable: str | Indicator, *, now: float | None = None) -> Verdict:
        """Every record matching ``observable``, each with how it matched."""
        return self._lookup(self.backend.view(), observable, time.time() if now is None else now)

    def lookup_many(self, observables: Iterable[str | Indicator], *,
                    now: float | None = None) -> list[Verdict]:
        """Lookups of many observables through one view (one consistent version)."""
        view = self.backend.view()
        when = time.time() if now is None else now
        return [self._lookup(view, item, when) for item in observables]

    def _lookup(self, view: View, observable: str | Indicator, now: float) -> Verdict:
        text = observable.value if isinstance(observable, Indicator) else observable
        try:
            indicator = observable if isinstance(observable, Indicator) else normalize(observable)
        except InvalidIndicator as exc:
            return Verdict(text, None, self.version, [], exc.reason)
        found: list[Match] = []
        search = _Search(self, view, now, found)
        kind = indicator.kind
        if kind in (Kind.MD5, Kind.SHA1, Kind.SHA256):
            search.hit("hash", hash_key(indicator.value), "exact", indicator.value)
        elif kind is Kind.IPV4:
            search.ip(4, ipv4_int(indicator.value))
            search.url(indicator.value, "", indicator.value)
        elif kind is Kind.IPV6:
            search.ip(6, parse_ipv6(indicator.value) or 0)
            host = f"[{indicator.value}]"
            search.url(host, "", host)
        elif kind is Kind.CIDR:
            search.cidr(indicator.value)
        elif kind is Kind.DOMAIN:
            search.domain(indicator.value)
            search.url(indicator.value, "", indicator.value)
        elif kind is Kind.URL:
            url = canonical_url(indicator.value)
            search.url(url.host, url.value[len(url.host):], url.value)
            if url.host_kind == HostKind.IPV4:
                search.ip(4, ipv4_int(url.host), via="url-host")
            elif url.host_kind == HostKind.IPV6:
                search.ip(6, parse_ipv6(url.host) or 0, via="url-host")
            else:
                search.domain(url.host, via="url-host")
        else:
            search.hit("pmask", text_key(indicator.value), "exact", indicator.value)
            shape = canonical_mask(indicator.value)
            space = {"exact": "mask", "subdomain": "dmask"}.get(shape.mode)
            if space:
                search.masks(space, shape.anchor, None, exact_text=indicator.value)
        return Verdict(text, indicator, self.version, found)


class _Search:
    """The state of one lookup: the view, the clock and the matches found so far."""

    __slots__ = ("found", "now", "snapshot", "view")

    def __init__(self, snapshot: Snapshot, view: View, now: float, found: list[Match]) -> None:
        self.snapshot = snapshot
        self.view = view
        self.now = now
        self.found = found

    def entry(self, space: str, key: bytes) -> Entry | None:
        raw = self.view.get(space, key)
        return None if raw is None else ENTRY_DECODER.decode(raw)

    def add(self, record: StoredRecord, how: str, via: str = "", pattern: str = "") -> None:
        if record.valid_until is not None and record.valid_until < self.now:
            return
        meta = self.snapshot.meta
        self.found.append(Match(how, record.value or pattern, meta.feeds[record.feed],
                                meta.categories[record.category], record.context,
                                record.first_seen, record.last_seen, record.valid_until,
                                record.confidence, via))

    def hit(self, space: str, key: bytes, how: str, pattern: str, via: str = "") -> None:
        entry = self.entry(space, key)
        if entry is not None:
            for record in entry.records:
                # A long URL's key is a digest: its record carries the text to compare.
                if not record.value or space != "url" or record.value == pattern:
                    self.add(record, how, via, pattern)

    def ip(self, version: int, address: int, via: str = "") -> None:
        """Exact address, then every containing network, longest prefix first."""
        lengths = self.snapshot._v4 if version == 4 else self.snapshot._v6
        for prefix, shift in lengths:
            network = (address >> shift) << shift
            entry = self.entry("ip", ip_key(version, network, prefix))
            if entry is not None:
                pattern = _network_text(version, network, prefix)
                for record in entry.records:
                    self.add(record, "cidr" if shift else "exact", via, pattern)

    def cidr(self, value: str) -> None:
        """A network observable: the same network, then every network containing it."""
        address, _, prefix_text = value.partition("/")
        version = 6 if ":" in address else 4
        address_int = (parse_ipv6(address) or 0) if version == 6 else ipv4_int(address)
        own = int(prefix_text)
        lengths = self.snapshot._v4 if version == 4 else self.snapshot._v6
        for prefix, shift in lengths:
            if prefix <= own:
                network = (address_int >> shift) << shift
                self.hit("ip", ip_key(version, network, prefix),
                         "exact" if prefix == own else "cidr",
                         _network_text(version, network, prefix))

    def domain(self, name: str, via: str = "") -> None:
        """Exact name, then parent domains on label boundaries (not public suffixes)."""
        self.hit("domain", text_key(name), "exact", name, via)
        for parent in parents(name):
            entry = self.entry("domain", text_key(parent))
            # A public suffix (co.uk, github.io) as an indicator matches only exactly.
            if entry is not None and not is_public_suffix(parent):
                for record in entry.records:
                    self.add(record, "parent-domain", via, parent)

    def url(self, host: str, rest: str, value: str) -> None:
        """Exact canonical URL, then every mask anchored at the host or its parents."""
        self.hit("url", text_key(value), "exact", value)
        self.masks("mask", host, rest)
        for parent in parents(host) if not host.startswith("[") else ():
            self.masks("dmask", parent, rest, host=host)
        for shape, entry in self.snapshot._patterns:
            if mask_matches(shape, host, rest):
                for record in entry.records:
                    self.add(record, "url-mask")

    def masks(self, space: str, anchor: str, rest: str | None, *, host: str = "",
              exact_text: str = "") -> None:
        entry = self.entry(space, text_key(anchor))
        if entry is None:
            return
        for record in entry.records:
            if exact_text:
                if record.value == exact_text:
                    self.add(record, "exact")
                continue
            prefix = len(anchor) + (2 if space == "dmask" else 0)
            mode = HostMode.SUBDOMAIN if space == "dmask" else HostMode.EXACT
            shape = MaskShape(record.value, mode, anchor, record.value[prefix:])
            if mask_matches(shape, host or anchor, rest or ""):
                self.add(record, "domain-mask" if space == "dmask" else "url-mask")

