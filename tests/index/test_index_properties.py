"""Property tests of lookups against Python's ``ipaddress`` and a naive reference model.

Select ``HYPOTHESIS_PROFILE=thorough`` for 100,000 examples per property.
"""

from __future__ import annotations

import ipaddress
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st
from publicsuffixlist import PublicSuffixList

from trapline.index import IndicatorRecord, build_memory_snapshot

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
PSL = PublicSuffixList()


def examples(n: int) -> settings:
    """``n`` examples, or the loaded profile's count when that is larger (``thorough``)."""
    return settings(max_examples=max(n, settings.default.max_examples))


# -- IP strategies --------------------------------------------------------------------------------

MAPPED = ipaddress.IPv6Network("::ffff:0:0/96")


@st.composite
def v4_networks(draw: st.DrawFn) -> ipaddress.IPv4Network:
    prefix = draw(st.integers(0, 32))
    return ipaddress.IPv4Network((draw(st.integers(0, 2**32 - 1)), prefix), strict=False)


@st.composite
def v6_networks(draw: st.DrawFn) -> ipaddress.IPv6Network:
    # Networks that neither contain nor overlap the IPv4-mapped range, whose
    # addresses are IPv4 addresses by the spec (mapped networks are tested apart).
    prefix = draw(st.integers(16, 128))
    base = draw(st.integers(1, 2**16 - 1)) << 112 | draw(st.integers(0, 2**112 - 1))
    return ipaddress.IPv6Network((base, prefix), strict=False)


networks = st.one_of(v4_networks(), v6_networks())


@st.composite
def address_near(draw: st.DrawFn, nets: list[IPNetwork]) -> IPAddress:
    """An address inside one of ``nets`` (often) or anywhere in a family (sometimes)."""
    if nets and draw(st.booleans()):
        net = draw(st.sampled_from(nets))
        offset = draw(st.integers(0, net.num_addresses - 1))
        return net.network_address + offset
    if draw(st.booleans()):
        return ipaddress.IPv4Address(draw(st.integers(0, 2**32 - 1)))
    return ipaddress.IPv6Network((draw(st.integers(1, 2**16 - 1)) << 112, 16)).network_address \
        + draw(st.integers(0, 2**112 - 1))


def net_text(net: IPNetwork) -> str:
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)


def spell(net: IPNetwork, draw: st.DrawFn) -> str:
    """An indicator spelling of ``net``: with host bits, netmask, mapped, /32 or bare."""
    host = net.network_address + draw(st.integers(0, net.num_addresses - 1))
    if net.version == 4:
        style = draw(st.sampled_from(["prefix", "netmask", "mapped"]))
        if style == "netmask":
            return f"{host}/{net.netmask}"
        if style == "mapped":
            return f"::ffff:{host}/{net.prefixlen + 96}"
        return f"{host}/{net.prefixlen}"
    return f"{host.exploded.upper() if draw(st.booleans()) else host}/{net.prefixlen}"


@examples(400)
@given(st.lists(networks, min_size=1, max_size=8), st.data())
def test_cidr_containment_agrees_with_ipaddress(nets: list[IPNetwork], data) -> None:
    records = [IndicatorRecord(value=spell(n, data.draw), feed="f") for n in nets]
    snapshot = build_memory_snapshot(records)
    queries = data.draw(st.lists(address_near(nets), min_size=1, max_size=6))
    for address in queries:
        verdict = snapshot.lookup(str(address))
        expected = Counter(
            ("exact" if n.prefixlen == n.max_prefixlen else "cidr", net_text(n))
            for n in nets
            if n.version == address.version and address in n
        )
        assert Counter((m.how, m.pattern) for m in verdict.matches) == expected, str(address)
        prefixes = [int(m.pattern.partition("/")[2] or address.max_prefixlen)
                    for m in verdict.matches]
        assert prefixes == sorted(prefixes, reverse=True), "longest prefix first"
        # the same address as a URL host: the same networks, through the host
        host = f"[{address}]" if address.version == 6 else str(address)
        via_url = snapshot.lookup(f"http://{host}/x")
        assert [(m.how, m.pattern) for m in via_url.matches] == [
            (m.how, m.pattern) for m in verdict.matches
        ]
        assert {m.via for m in via_url.matches} <= {"url-host"}


@examples(300)
@given(st.lists(v4_networks(), min_size=1, max_size=6), st.data())
def test_mapped_addresses_match_ipv4_networks(nets: list[ipaddress.IPv4Network], data) -> None:
    snapshot = build_memory_snapshot([IndicatorRecord(value=str(n)) for n in nets])
    address = data.draw(address_near(nets).filter(lambda a: a.version == 4))
    mapped = ipaddress.IPv6Address((0xFFFF << 32) | int(address))
    plain = [(m.how, m.pattern) for m in snapshot.lookup(str(address)).matches]
    assert [(m.how, m.pattern) for m in snapshot.lookup(str(mapped)).matches] == plain
    assert [(m.how, m.pattern) for m in snapshot.lookup(mapped.exploded).matches] == plain
    assert Counter(plain) == Counter(
        ("exact" if n.prefixlen == 32 else "cidr", net_text(n)) for n in nets if address in n
    )


# -- a naive reference model --------------------------------------------------------------------

LABELS = ["a", "b", "evil", "example", "co", "uk", "github", "io", "com", "x1", "xn--e1aybc"]


@st.composite
def domain_names(draw: st.DrawFn) -> str:
    labels = draw(st.lists(st.sampled_from(LABELS), min_size=2, max_size=4))
    return ".".join(labels)


HEX = "0123456789abcdef"
hashes = st.sampled_from([32, 40, 64]).flatmap(
    lambda n: st.text(HEX, min_size=n, max_size=n)
)
SMALL_V4 = st.integers(0, 15).map(lambda i: ipaddress.IPv4Address(0x0A000000 + i * 0x40))


@st.composite
def ip_indicators(draw: st.DrawFn) -> IPNetwork:
    # a few related networks so that containment happens often
    if draw(st.booleans()):
        address = draw(SMALL_V4)
        return ipaddress.IPv4Network((address, draw(st.sampled_from([8, 24, 26, 30, 32]))),
                                     strict=False)
    base = ipaddress.IPv6Address("2001:db8::") + draw(st.integers(0, 3)) * 2**64
    return ipaddress.IPv6Network((base, draw(st.sampled_from([32, 48, 64, 128]))), strict=False)


@st.composite
def indicator_sets(draw: st.DrawFn) -> list[tuple[str, str, str]]:
    """``(kind, canonical value by the model, spelling given to the builder)``."""
    out = []
    for _ in range(draw(st.integers(0, 10))):
        kind = draw(st.sampled_from(["ip", "domain", "hash"]))
        if kind == "ip":
            net = draw(ip_indicators())
            out.append(("ip", net_text(net), spell(net, draw)))
        elif kind == "domain":
            name = draw(domain_names())
            spelling = draw(st.sampled_from([name, name.upper(), name + "."]))
            out.append(("domain", name, spelling))
        else:
            digest = draw(hashes)
            out.append(("hash", digest, draw(st.sampled_from([digest, digest.upper()]))))
    return out


def model(indicators: list[tuple[str, str, str]], query_kind: str, query: str) -> Counter:
    """The expected ``(how, pattern, via)`` matches of a canonical query, naively."""
    expected: Counter = Counter()
    if query_kind == "hash":
        for kind, value, _ in indicators:
            if kind == "hash" and value == query.lower():
                expected["exact", value, ""] += 1
        return expected
    if query_kind in ("ip", "url-ip"):
        via = "url-host" if query_kind == "url-ip" else ""
        address = ipaddress.ip_address(query)
        for kind, value, _ in indicators:
            if kind != "ip":
                continue
            net = ipaddress.ip_network(value)
            if net.version == address.version and address in net:
                how = "exact" if net.prefixlen == net.max_prefixlen else "cidr"
                expected[how, value, via] += 1
        return expected
    via = "url-host" if query_kind == "url-domain" else ""
    for kind, value, _ in indicators:
        if kind != "domain":
            continue
        if value == query:
            expected["exact", value, via] += 1
        elif query.endswith("." + value) and not PSL.is_public(value):
            expected["parent-domain", value, via] += 1
    return expected


@st.composite
def queries(draw: st.DrawFn, indicators: list[tuple[str, str, str]]) -> tuple[str, str, str]:
    """``(model kind, canonical query for the model, observable text)``."""
    kind = draw(st.sampled_from(["hash", "ip", "domain", "url-ip", "url-domain"]))
    if kind == "hash":
        known = [v for k, v, _ in indicators if k == "hash"]
        digest = draw(st.sampled_from(known)) if known and draw(st.booleans()) else draw(hashes)
        return kind, digest, draw(st.sampled_from([digest, digest.upper()]))
    if kind in ("ip", "url-ip"):
        nets = [ipaddress.ip_network(v) for k, v, _ in indicators if k == "ip"]
        if nets and draw(st.booleans()):
            net = draw(st.sampled_from(nets))
            address = net.network_address + draw(st.integers(0, min(net.num_addresses, 2**20)
                                                             - 1))
        else:
            address = draw(st.one_of(
                SMALL_V4, st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address),
                st.integers(0, 2**66).map(lambda i: ipaddress.IPv6Address("2001:db8::") + i),
            ))
        if kind == "ip":
            return kind, str(address), str(address)
        host = f"[{address}]" if address.version == 6 else str(address)
        return kind, str(address), f"http://{host}/p"
    names = [v for k, v, _ in indicators if k == "domain"]
    if names and draw(st.booleans()):
        prefix = draw(st.lists(st.sampled_from(LABELS), max_size=2))
        name = ".".join([*prefix, draw(st.sampled_from(names))])
    else:
        name = draw(domain_names())
    if kind == "domain":
        return kind, name, name
    return kind, name, f"https://{name}/path?q=1"


@examples(500)
@given(indicator_sets(), st.data())
def test_lookups_agree_with_reference_model(indicators, data) -> None:
    records = [IndicatorRecord(value=spelling, feed="model") for _, _, spelling in indicators]
    snapshot = build_memory_snapshot(records)
    assert snapshot.meta.rejected == 0
    for _ in range(5):
        kind, canonical, observable = data.draw(queries(indicators))
        verdict = snapshot.lookup(observable)
        assert verdict.error == ""
        actual = Counter((m.how, m.pattern, m.via) for m in verdict.matches)
        assert actual == model(indicators, kind, canonical), observable
        if kind in ("domain", "url-domain"):
            # exact first, then parents nearest first
            lengths = [len(m.pattern) for m in verdict.matches]
            assert lengths == sorted(lengths, reverse=True)
