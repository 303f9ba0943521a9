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

from trapline.errors import SnapshotError
from trapline.index.backend import Backend, View
from trapline.index.build import FORMAT_VERSION, SnapshotMeta
from trapline.index.keys import hash_key, ip_key, text_key
from trapline.index.records import ENTRY_DECODER, NAME_DECODER, Entry, StoredRecord
from trapline.index.verdict import Match, Verdict
from trapline.indicators import Indicator, InvalidIndicator, Kind
from trapline.indicators.domain import is_public_suffix
from trapline.indicators.ip import ipv4_int, ipv4_text, ipv6_text, parse_ipv6
from trapline.indicators.masks import (
    HostMode,
    MaskShape,
    canonical_mask,
    mask_matches,
    rest_matches,
    shape_of,
)
from trapline.indicators.normalize import normalize_observable
from trapline.indicators.url import HostKind, split_canonical

_META_DECODER = msgspec.msgpack.Decoder(SnapshotMeta)
_HASH_KINDS = (Kind.MD5, Kind.SHA1, Kind.SHA256)
_PREFIX_32 = bytes((32,))
_PREFIX_128 = bytes((128,))


def _network_text(version: int, network: int, prefix: int) -> str:
    if version == 4:
        return ipv4_text(network) if prefix == 32 else f"{ipv4_text(network)}/{prefix}"
    return ipv6_text(network) if prefix == 128 else f"{ipv6_text(network)}/{prefix}"


class Snapshot:
    """Lookups over one snapshot; cheap to share, safe to use from many threads."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        try:
            self.meta = _META_DECODER.decode(backend.meta_bytes)
        except msgspec.DecodeError as exc:
            raise SnapshotError(f"unreadable snapshot meta block: {exc}") from exc
        if self.meta.format != FORMAT_VERSION:
            raise SnapshotError(f"snapshot format {self.meta.format}, this trapline reads "
                                f"{FORMAT_VERSION}: rebuild it with `trapline feeds load`")
        self.version = self.meta.version
        view = backend.view()
        # Networks are few next to addresses: they stay in every process as one set of
        # network numbers per prefix length, so an IP lookup reads the file once for
        # the address and only for networks that exist.
        networks: dict[tuple[int, int], set[int]] = {}
        for key in view.keys("cidr"):
            bits = 32 if len(key) == 5 else 128
            networks.setdefault((bits, key[0]), set()).add(
                int.from_bytes(key[1:], "big") >> (bits - key[0]))
        self._v4 = [(p, 32 - p, frozenset(networks.get((32, p), ())))
                    for p in self.meta.v4_prefixes if p != 32]
        self._v6 = [(p, 128 - p, frozenset(networks.get((128, p), ())))
                    for p in self.meta.v6_prefixes if p != 128]
        self._allow = frozenset(self.meta.allow_feeds)
        self._substrings = self.meta.substrings
        self._patterns: list[tuple[MaskShape, Entry]] = [
            (shape_of(key.decode()), ENTRY_DECODER.decode(raw))
            for key, raw in view.items("pmask")
        ]

    def __len__(self) -> int:
        return sum(self.meta.counts.values())

    def close(self) -> None:
        """Release the storage; lookups on a closed snapshot fail."""
        self.backend.close()

    def lookup(self, observable: str | Indicator, *, now: float | None = None) -> Verdict:
        """Every record matching ``observable``, each with how it matched."""
        return self.lookup_in(self.backend.view(), observable, time.time() if now is None else now)

    def lookup_many(self, observables: Iterable[str | Indicator], *,
                    now: float | None = None) -> list[Verdict]:
        """Lookups of many observables through one view (one consistent version)."""
        view = self.backend.view()
        when = time.time() if now is None else now
        return [self.lookup_in(view, item, when) for item in observables]

    def lookup_in(self, view: View, observable: str | Indicator, now: float) -> Verdict:
        """One lookup through a view the caller holds (``backend.view()``) at time ``now``."""
        if isinstance(observable, Indicator):
            indicator, text = observable, observable.value
        else:
            text = observable
            try:
                indicator = normalize_observable(observable)
            except InvalidIndicator as exc:
                return Verdict(text, None, self.version, [], exc.reason)
        search = _Search(self, view, now)
        kind, value = indicator
        if kind in _HASH_KINDS:
            search.hit("hash", hash_key(value), "exact", value)
        elif kind is Kind.IPV4:
            search.ip(4, ipv4_int(value))
            if self.meta.ip_names:
                search.names(value, "", "")
            search.patterns(value, "")
        elif kind is Kind.IPV6:
            search.ip(6, parse_ipv6(value) or 0)
            if self.meta.ip_names:
                search.names(f"[{value}]", "", "")
            search.patterns(f"[{value}]", "")
        elif kind is Kind.DOMAIN:
            search.names(value, "", "")
            search.patterns(value, "")
        elif kind is Kind.URL:
            url = split_canonical(value)
            rest = value[len(url.host):]
            if rest:
                search.hit("url", text_key(value), "exact", value)
            if url.host_kind == HostKind.DOMAIN:
                search.names(url.host, rest, "url-host")
                if self.meta.www_names:
                    search.www_domain(url.host)
            else:
                if self.meta.ip_names:
                    search.names(url.host, rest, "url-host")
                address = url.host.strip("[]")
                if url.host_kind == HostKind.IPV4:
                    search.ip(4, ipv4_int(address), "url-host")
                else:
                    search.ip(6, parse_ipv6(address) or 0, "url-host")
            search.patterns(url.host, rest)
        elif kind is Kind.CIDR:
            search.cidr(value)
        elif kind is Kind.EMAIL:
            search.hit("email", text_key(value), "exact", value)
        else:
            search.mask(value)
        if self._substrings:
            search.substrings(value)
        matches = search.found + search.host_found
        if search.allowed:
            return Verdict(text, indicator, self.version, [], "", search.allowed, matches)
        return Verdict(text, indicator, self.version, matches)


class _Search:
    """The state of one lookup: the view, the clock and the matches found so far.

    ``found`` collects matches on the observable itself, ``host_found`` those made
    through a URL's host, which follow them in the verdict; ``allowed`` the
    matches of allow-list records.
    """

    __slots__ = ("allowed", "found", "host_found", "now", "snapshot", "view")

    def __init__(self, snapshot: Snapshot, view: View, now: float) -> None:
        self.snapshot = snapshot
        self.view = view
        self.now = now
        self.found: list[Match] = []
        self.host_found: list[Match] = []
        self.allowed: list[Match] = []

    def add(self, record: StoredRecord, how: str, pattern: str, via: str = "") -> None:
        if record.valid_until is not None and record.valid_until < self.now:
            return
        meta = self.snapshot.meta
        if record.feed in self.snapshot._allow:
            # A ``string`` warning-list entry allows the observable spelled exactly so.
            if record.context.get("list_type") == "string" and (how != "exact" or via):
                return
            target = self.allowed
        else:
            target = self.host_found if via else self.found
        target.append(Match(
            how, record.value or pattern, meta.feeds[record.feed],
            meta.categories[record.category], record.context, record.first_seen,
            record.last_seen, record.valid_until, record.confidence, via))

    def hit(self, space: str, key: bytes, how: str, pattern: str, via: str = "") -> None:
        raw = self.view.get(space, key)
        if raw is not None:
            for record in ENTRY_DECODER.decode(raw).records:
                # A long URL's key is a digest: its record carries the text to compare.
                if not record.value or space != "url" or record.value == pattern:
                    self.add(record, how, pattern, via)

    def ip(self, version: int, address: int, via: str = "") -> None:
        """Exact address, then every containing network, longest prefix first."""
        if version == 4:
            raw = self.view.get("ip", _PREFIX_32 + address.to_bytes(4, "big"))
            lengths = self.snapshot._v4
        else:
            raw = self.view.get("ip", _PREFIX_128 + address.to_bytes(16, "big"))
            lengths = self.snapshot._v6
        if raw is not None:
            pattern = ipv4_text(address) if version == 4 else ipv6_text(address)
            for record in ENTRY_DECODER.decode(raw).records:
                self.add(record, "exact", pattern, via)
        for prefix, shift, networks in lengths:
            if address >> shift in networks:
                network = (address >> shift) << shift
                self.hit("cidr", ip_key(version, network, prefix), "cidr",
                         _network_text(version, network, prefix), via)

    def cidr(self, value: str) -> None:
        """A network observable: the same network, then every network containing it."""
        address, _, prefix_text = value.partition("/")
        version = 6 if ":" in address else 4
        address_int = (parse_ipv6(address) or 0) if version == 6 else ipv4_int(address)
        own = int(prefix_text)
        for prefix, shift, networks in self.snapshot._v4 if version == 4 else self.snapshot._v6:
            if prefix <= own and address_int >> shift in networks:
                network = (address_int >> shift) << shift
                self.hit("cidr", ip_key(version, network, prefix),
                         "exact" if prefix == own else "cidr",
                         _network_text(version, network, prefix))

    def names(self, host: str, rest: str, via: str) -> None:
        """One read per label: the host itself, then each parent domain.

        At the host: domain and host-only URL indicators (exact), masks on the host.
        At a parent: domain indicators (parent-domain, unless a public suffix) and
        domain masks (``*.parent``). Masks match the observable itself, never ``via``.
        """
        get = self.view.get
        name = host
        first = True
        single_labels = self.snapshot.meta.single_label_names
        while True:
            raw = get("name", name.encode())
            if raw is not None:
                entry = NAME_DECODER.decode(raw)
                if first:
                    for record in entry.domain:
                        self.add(record, "exact", name, via)
                    if not rest:
                        for record in entry.url:
                            self.add(record, "exact", name)
                    for record in entry.mask:
                        if rest_matches(record.value[len(name):], rest):
                            self.add(record, "url-mask", name)
                else:
                    for record in entry.submask:
                        if rest_matches(record.value[len(name) + 2:], rest):
                            self.add(record, "domain-mask", name)
                    if entry.domain:
                        # A public suffix (co.uk, github.io) matches only exactly, except
                        # on an allow list, which says so on purpose (``.akamai.net``).
                        public = is_public_suffix(name)
                        allow = self.snapshot._allow
                        for record in entry.domain:
                            if not public or record.feed in allow:
                                self.add(record, "parent-domain", name, via)
            dot = name.find(".")
            if dot == -1 or name[0] == "[":
                return
            name = name[dot + 1 :]
            if not single_labels and "." not in name:
                return
            first = False

    def www_domain(self, host: str) -> None:
        """A URL's host lost its ``www.`` (protocol.md): a domain indicator ``www.host`` counts.

        The URL ``http://www.evil.example/x`` reads as ``evil.example/x``; a domain
        indicator written ``www.evil.example`` must still match it (and, by the
        same rule, ``http://evil.example/x``).
        """
        name = "www." + host
        raw = self.view.get("name", name.encode())
        if raw is not None:
            for record in NAME_DECODER.decode(raw).domain:
                self.add(record, "exact", name, "url-host")

    def substrings(self, value: str) -> None:
        """Allow-list substrings (MISP ``substring`` lists) found in the canonical value."""
        for record in self.snapshot._substrings:
            if record.value in value:
                self.add(record, "substring", record.value)

    def patterns(self, host: str, rest: str) -> None:
        """Masks with wildcards inside the host, tried one by one (few by design)."""
        for shape, entry in self.snapshot._patterns:
            if mask_matches(shape, host, rest):
                for record in entry.records:
                    self.add(record, "url-mask", shape.text)

    def mask(self, text: str) -> None:
        """A mask observable matches the same mask only."""
        shape = canonical_mask(text)
        if shape.mode == HostMode.PATTERN:
            self.hit("pmask", text_key(shape.text), "exact", shape.text)
            return
        raw = self.view.get("name", shape.anchor.encode())
        if raw is None:
            return
        entry = NAME_DECODER.decode(raw)
        for record in entry.mask if shape.mode == HostMode.EXACT else entry.submask:
            if record.value == shape.text:
                self.add(record, "exact", shape.text)
