"""Lookups (docs/matching.md, *Lookups*), run against both backends."""

from __future__ import annotations

import pytest

from trapline.index import IndicatorRecord, SnapshotBuilder
from trapline.indicators import Indicator, Kind, normalize

MD5 = "C1153422C5F68E731347F6A33F791598"
SHA1 = "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709"
SHA256 = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"


def explained(verdict) -> list[str]:
    return [m.explain() for m in verdict.matches]


# -- IP addresses and networks -------------------------------------------------------------------

IP_SET = [
    "10.1.2.3",
    "10.1.2.0/24",
    "10.1.0.0/16",
    "10.0.0.0/8",
    "0.0.0.0/0",
    "11.0.0.0/8",  # does not contain the queries
    "10.1.3.0/24",
    "10.1.2.4",
    "2001:db8::1",
    "2001:db8::/64",
    "2001:db8::/32",
    "2001:db8:0:1::/64",  # does not contain 2001:db8::1
    "2001:db9::/32",
    "::/0",
]


@pytest.mark.parametrize(
    ("observable", "expected"),
    [
        (
            "10.1.2.3",
            ["exact 10.1.2.3", "cidr 10.1.2.0/24", "cidr 10.1.0.0/16", "cidr 10.0.0.0/8",
             "cidr 0.0.0.0/0"],
        ),
        (
            "010.001.002.003",
            ["exact 10.1.2.3", "cidr 10.1.2.0/24", "cidr 10.1.0.0/16", "cidr 10.0.0.0/8",
             "cidr 0.0.0.0/0"],
        ),
        (
            "::ffff:10.1.2.3",  # a mapped address is the IPv4 address
            ["exact 10.1.2.3", "cidr 10.1.2.0/24", "cidr 10.1.0.0/16", "cidr 10.0.0.0/8",
             "cidr 0.0.0.0/0"],
        ),
        ("10.1.2.200", ["cidr 10.1.2.0/24", "cidr 10.1.0.0/16", "cidr 10.0.0.0/8",
                        "cidr 0.0.0.0/0"]),
        ("10.200.0.1", ["cidr 10.0.0.0/8", "cidr 0.0.0.0/0"]),
        ("192.0.2.1", ["cidr 0.0.0.0/0"]),
        (
            "2001:DB8:0::1",
            ["exact 2001:db8::1", "cidr 2001:db8::/64", "cidr 2001:db8::/32", "cidr ::/0"],
        ),
        ("2001:db8:0:1::5", ["cidr 2001:db8:0:1::/64", "cidr 2001:db8::/32", "cidr ::/0"]),
        ("2001:db8:ffff::1", ["cidr 2001:db8::/32", "cidr ::/0"]),
        ("fe80::1", ["cidr ::/0"]),
    ],
)
def test_ip_exact_then_containing_networks_longest_first(make_snapshot, observable, expected):
    snapshot = make_snapshot(IP_SET)
    assert explained(snapshot.lookup(observable)) == expected


@pytest.mark.parametrize(
    ("observable", "expected"),
    [
        ("10.1.2.0/24", ["exact 10.1.2.0/24", "cidr 10.1.0.0/16", "cidr 10.0.0.0/8",
                         "cidr 0.0.0.0/0"]),
        ("10.1.2.99/24", ["exact 10.1.2.0/24", "cidr 10.1.0.0/16", "cidr 10.0.0.0/8",
                          "cidr 0.0.0.0/0"]),
        ("10.1.0.0/255.255.0.0", ["exact 10.1.0.0/16", "cidr 10.0.0.0/8", "cidr 0.0.0.0/0"]),
        ("10.1.2.0/25", ["cidr 10.1.2.0/24", "cidr 10.1.0.0/16", "cidr 10.0.0.0/8",
                         "cidr 0.0.0.0/0"]),
        ("10.0.0.0/7", ["cidr 0.0.0.0/0"]),  # wider than 10/8: not contained in it
        ("::ffff:10.1.2.0/120", ["exact 10.1.2.0/24", "cidr 10.1.0.0/16", "cidr 10.0.0.0/8",
                                 "cidr 0.0.0.0/0"]),
        ("2001:db8::/48", ["cidr 2001:db8::/32", "cidr ::/0"]),
        ("2001:db8::/32", ["exact 2001:db8::/32", "cidr ::/0"]),
    ],
)
def test_network_observable(make_snapshot, observable, expected):
    snapshot = make_snapshot(IP_SET)
    assert explained(snapshot.lookup(observable)) == expected


def test_mapped_network_indicator_is_the_ipv4_network(make_snapshot):
    snapshot = make_snapshot(["::ffff:192.0.2.0/120", "::ffff:198.51.100.7"])
    assert explained(snapshot.lookup("192.0.2.55")) == ["cidr 192.0.2.0/24"]
    assert explained(snapshot.lookup("198.51.100.7")) == ["exact 198.51.100.7"]
    assert explained(snapshot.lookup("::ffff:192.0.2.55")) == ["cidr 192.0.2.0/24"]


def test_ipv4_and_ipv6_do_not_mix(make_snapshot):
    snapshot = make_snapshot(["10.0.0.0/8", "a00::/8"])
    # 10.0.0.1 and a00::1 share their leading bits, not their family
    assert explained(snapshot.lookup("10.0.0.1")) == ["cidr 10.0.0.0/8"]
    assert explained(snapshot.lookup("a00::1")) == ["cidr a00::/8"]
    assert snapshot.lookup("11.0.0.1").matches == []


def test_slash_32_indicator_is_the_address(make_snapshot):
    snapshot = make_snapshot(["192.0.2.1/32", "2001:db8::1/128"])
    assert explained(snapshot.lookup("192.0.2.1")) == ["exact 192.0.2.1"]
    assert explained(snapshot.lookup("2001:db8::1")) == ["exact 2001:db8::1"]
    assert snapshot.lookup("192.0.2.2").matches == []


# -- domains -------------------------------------------------------------------------------------


DOMAIN_SET = ["evil.example", "b.evil.example", "a.b.evil.example", "co.uk", "github.io",
              "evil.co.uk"]


@pytest.mark.parametrize(
    ("observable", "expected"),
    [
        ("evil.example", ["exact evil.example"]),
        ("EVIL.example.", ["exact evil.example"]),
        ("x.evil.example", ["parent-domain evil.example"]),
        (
            "a.b.evil.example",
            ["exact a.b.evil.example", "parent-domain b.evil.example",
             "parent-domain evil.example"],
        ),
        (
            "z.a.b.evil.example",
            ["parent-domain a.b.evil.example", "parent-domain b.evil.example",
             "parent-domain evil.example"],
        ),
        ("notevil.example", []),  # label boundaries only
        ("evil.example.org", []),
        ("example", None),  # not a domain
        # public suffixes match only exactly
        ("co.uk", ["exact co.uk"]),
        ("bad.co.uk", []),
        ("evil.co.uk", ["exact evil.co.uk"]),
        ("x.evil.co.uk", ["parent-domain evil.co.uk"]),
        ("github.io", ["exact github.io"]),
        ("user.github.io", []),
        ("a.user.github.io", []),
    ],
)
def test_domain_exact_and_parents(make_snapshot, observable, expected):
    snapshot = make_snapshot(DOMAIN_SET)
    verdict = snapshot.lookup(observable)
    if expected is None:
        assert verdict.matches == []
    else:
        assert explained(verdict) == expected


def test_idn_domain_lookup(make_snapshot):
    snapshot = make_snapshot(["тест.рф"])
    assert explained(snapshot.lookup("xn--e1aybc.xn--p1ai")) == ["exact xn--e1aybc.xn--p1ai"]
    assert explained(snapshot.lookup("ПОДДОМЕН.ТЕСТ.РФ")) == [
        "parent-domain xn--e1aybc.xn--p1ai"
    ]


def test_domain_is_also_looked_up_as_a_url_with_an_empty_path(make_snapshot):
    snapshot = make_snapshot(["http://evil.example/", "*.evil.example", "evil.example/a"])
    assert explained(snapshot.lookup("evil.example")) == ["exact evil.example"]
    assert explained(snapshot.lookup("a.evil.example")) == ["domain-mask *.evil.example"]


# -- URLs ----------------------------------------------------------------------------------------


def test_url_exact(make_snapshot):
    snapshot = make_snapshot(["http://evil.example/a/b?x=1", "evil.example/c"])
    for observable in ("https://www.evil.example:443/a/b?x=1#frag", "EVIL.example/A/B?X=1",
                       "hxxp://evil[.]example/a/./b?x=1"):
        assert explained(snapshot.lookup(observable)) == ["exact evil.example/a/b?x=1"]
    assert snapshot.lookup("evil.example/a/b").matches == []
    assert snapshot.lookup("evil.example/a/b?x=2").matches == []
    assert explained(snapshot.lookup("evil.example/c/")) == ["exact evil.example/c"]


def test_long_urls_exact(make_snapshot):
    stem = "http://evil.example/" + "a" * 600
    snapshot = make_snapshot([stem + "1"])
    assert [m.pattern for m in snapshot.lookup(stem + "1").matches] == [
        normalize(stem + "1").value
    ]
    assert snapshot.lookup(stem + "2").matches == []
    assert snapshot.lookup(stem).matches == []


def test_url_host_against_ip_and_cidr(make_snapshot):
    snapshot = make_snapshot(["10.1.2.3", "10.0.0.0/8", "2001:db8::/32"])
    verdict = snapshot.lookup("http://10.1.2.3/x")
    assert [(m.how, m.pattern, m.via) for m in verdict.matches] == [
        ("exact", "10.1.2.3", "url-host"),
        ("cidr", "10.0.0.0/8", "url-host"),
    ]
    assert explained(verdict) == ["url-host exact 10.1.2.3", "url-host cidr 10.0.0.0/8"]
    # the host in other notations: decimal, hex, mapped IPv6
    for observable in ("http://167838211/", "http://0xa.1.2.3/a", "http://[::ffff:10.1.2.3]/"):
        assert explained(snapshot.lookup(observable)) == [
            "url-host exact 10.1.2.3", "url-host cidr 10.0.0.0/8"
        ]
    assert explained(snapshot.lookup("http://[2001:DB8::5]:8080/x")) == [
        "url-host cidr 2001:db8::/32"
    ]
    assert snapshot.lookup("http://11.0.0.1/").matches == []


def test_url_host_against_domains(make_snapshot):
    snapshot = make_snapshot(["evil.example", "co.uk"])
    assert explained(snapshot.lookup("http://a.b.evil.example/x")) == [
        "url-host parent-domain evil.example"
    ]
    verdict = snapshot.lookup("https://user@WWW.evil.example:8443/x?y#z")
    assert [(m.how, m.pattern, m.via) for m in verdict.matches] == [
        ("exact", "evil.example", "url-host")
    ]
    assert snapshot.lookup("http://notevil.example/").matches == []
    assert snapshot.lookup("http://bad.co.uk/x").matches == []
    assert explained(snapshot.lookup("http://co.uk/x")) == ["url-host exact co.uk"]


def test_url_match_order(make_snapshot):
    snapshot = make_snapshot([
        "evil.example",  # url-host parent-domain
        "a.evil.example",  # url-host exact
        "a.*.example",  # host pattern
        "*.evil.example",  # domain mask on a parent
        "a.evil.example/*",  # mask anchored at the host
        "a.evil.example/x",  # exact URL
    ])
    assert explained(snapshot.lookup("http://a.evil.example/x")) == [
        "exact a.evil.example/x",
        "url-mask a.evil.example/*",
        "domain-mask *.evil.example",
        "url-mask a.*.example/*",
        "url-host exact a.evil.example",
        "url-host parent-domain evil.example",
    ]


# -- hashes --------------------------------------------------------------------------------------


def test_hashes_exact_case_insensitive(make_snapshot):
    snapshot = make_snapshot([MD5, SHA1.lower(), SHA256])
    for value in (MD5, MD5.lower(), SHA1, SHA1.lower(), SHA256.lower()):
        verdict = snapshot.lookup(value)
        assert [(m.how, m.pattern) for m in verdict.matches] == [("exact", value.lower())]
    assert snapshot.lookup("0" * 32).matches == []
    assert snapshot.lookup(MD5[:-1] + "0").matches == []


def test_hash_kinds_do_not_cross(make_snapshot):
    snapshot = make_snapshot([MD5])
    # the same hex digits cut to another length are another hash
    assert snapshot.lookup(MD5 + "00000000").matches == []


# -- lifecycle, feeds, context -------------------------------------------------------------------


def test_expired_records_do_not_match(make_snapshot):
    snapshot = make_snapshot([
        IndicatorRecord(value="evil.example", feed="short", valid_until=1000.0),
        IndicatorRecord(value="evil.example", feed="long", valid_until=5000.0),
        IndicatorRecord(value="evil.example", feed="forever"),
        IndicatorRecord(value="10.0.0.0/8", feed="short", valid_until=1000.0),
    ])
    assert [m.feed for m in snapshot.lookup("evil.example", now=500.0).matches] == [
        "short", "long", "forever"
    ]
    assert [m.feed for m in snapshot.lookup("evil.example", now=2000.0).matches] == [
        "long", "forever"
    ]
    assert [m.feed for m in snapshot.lookup("a.evil.example", now=6000.0).matches] == [
        "forever"
    ]
    assert snapshot.lookup("10.1.1.1", now=999.0).detected
    assert not snapshot.lookup("10.1.1.1", now=1001.0).detected
    # without now=, the clock is the current time: 1970 has passed
    assert [m.feed for m in snapshot.lookup("evil.example").matches] == ["forever"]


def test_several_feeds_on_one_key(make_snapshot):
    snapshot = make_snapshot([
        IndicatorRecord(value="198.51.100.7", feed="alpha", category="c2",
                        context={"comment": "seen"}, first_seen=1.0, last_seen=2.0,
                        confidence=80),
        IndicatorRecord(value="::ffff:198.51.100.7", feed="beta", category="scanner"),
        IndicatorRecord(value="198.051.100.007", feed="gamma", category="c2",
                        context={"n": 3, "tags": ["a", "b"]}),
    ])
    matches = snapshot.lookup("198.51.100.7").matches
    assert sorted((m.feed, m.category) for m in matches) == [
        ("alpha", "c2"), ("beta", "scanner"), ("gamma", "c2")
    ]
    assert {m.how for m in matches} == {"exact"}
    assert {m.pattern for m in matches} == {"198.51.100.7"}
    alpha = next(m for m in matches if m.feed == "alpha")
    assert alpha.context == {"comment": "seen"}
    assert (alpha.first_seen, alpha.last_seen, alpha.confidence) == (1.0, 2.0, 80)
    gamma = next(m for m in matches if m.feed == "gamma")
    assert gamma.context == {"n": 3, "tags": ["a", "b"]}


def test_invalid_records_are_counted_not_fatal(make_snapshot):
    builder = SnapshotBuilder()
    assert builder.add(IndicatorRecord(value="evil.example")) is True
    assert builder.add(IndicatorRecord(value="not an indicator")) is False
    assert builder.add(IndicatorRecord(value="1.2.3.4", kind="md5")) is False
    assert builder.add(IndicatorRecord(value="")) is False
    assert builder.add(IndicatorRecord(value="x" * 9000 + ".example")) is False
    accepted = builder.add_all(
        IndicatorRecord(value=v) for v in ["10.0.0.1", "localhost", "256.1.1.1/8"]
    )
    assert accepted == 1
    assert builder.rejected == 6
    assert len(builder) == 2
    snapshot = make_snapshot(builder, version=4)
    assert snapshot.meta.rejected == 6
    assert snapshot.lookup("evil.example").detected
    assert snapshot.lookup("10.0.0.1").detected


def test_explanations_and_versions(make_snapshot):
    snapshot = make_snapshot(
        ["evil.example", "10.0.0.0/8", "host.example/dir/*", MD5], version=42
    )
    cases = {
        "http://a.evil.example/x": ("parent-domain", "evil.example", "url-host",
                                    "url-host parent-domain evil.example"),
        "10.2.3.4": ("cidr", "10.0.0.0/8", "", "cidr 10.0.0.0/8"),
        "host.example/dir/a": ("url-mask", "host.example/dir/*", "",
                               "url-mask host.example/dir/*"),
        MD5.lower(): ("exact", MD5.lower(), "", f"exact {MD5.lower()}"),
    }
    for observable, (how, pattern, via, text) in cases.items():
        verdict = snapshot.lookup(observable)
        assert verdict.snapshot == 42
        assert verdict.observable == observable
        assert verdict.error == ""
        assert verdict.detected
        [match] = verdict.matches
        assert (match.how, match.pattern, match.via, match.explain()) == (how, pattern, via, text)
        assert match.feed == "test"
    assert snapshot.version == 42


def test_invalid_observable_gives_an_error_verdict(make_snapshot):
    snapshot = make_snapshot(["evil.example"], version=5)
    verdict = snapshot.lookup("not an indicator")
    assert verdict.indicator is None
    assert verdict.matches == []
    assert verdict.error
    assert verdict.snapshot == 5
    assert not verdict.detected


def test_lookup_of_an_indicator_object(make_snapshot):
    snapshot = make_snapshot(["evil.example"])
    verdict = snapshot.lookup(Indicator(Kind.DOMAIN, "a.evil.example"))
    assert explained(verdict) == ["parent-domain evil.example"]


def test_lookup_many_agrees_with_lookup(make_snapshot):
    snapshot = make_snapshot(IP_SET + DOMAIN_SET + ["host.example/dir/*", MD5], version=9)
    observables = ["10.1.2.3", "a.b.evil.example", "host.example/dir/x", MD5, "junk value",
                   "http://10.1.2.3/", "2001:db8::1"]
    many = snapshot.lookup_many(observables, now=100.0)
    assert [v.observable for v in many] == observables
    assert many == [snapshot.lookup(o, now=100.0) for o in observables]


def test_snapshot_meta_counts(make_snapshot):
    snapshot = make_snapshot(["evil.example", "10.0.0.0/8", "10.0.0.1", "2001:db8::1",
                              "evil.example/a", "*.evil.example", MD5, SHA1, SHA256],
                             version=3)
    assert snapshot.meta.counts == {
        "domain": 1, "cidr": 1, "ipv4": 1, "ipv6": 1, "url": 1, "url-mask": 1,
        "md5": 1, "sha1": 1, "sha256": 1,
    }
    assert len(snapshot) == 9
    assert snapshot.meta.version == 3


def test_empty_snapshot(make_snapshot):
    snapshot = make_snapshot([])
    for observable in ("evil.example", "10.0.0.1", "http://a.example/x", MD5, "*.a.example"):
        verdict = snapshot.lookup(observable)
        assert verdict.matches == []
        assert verdict.error == ""


@pytest.mark.parametrize(
    ("observable", "expected"),
    [
        ("http://1.2.3.4/dir/x", ["url-mask 1.2.3.4/dir/*"]),
        ("http://0x01020304/dir", ["url-mask 1.2.3.4/dir/*"]),  # another host notation
        ("http://1.2.3.4/other", []),
        ("http://тест.рф/dir/a", ["url-mask xn--e1aybc.xn--p1ai/dir/*"]),
        ("http://xn--e1aybc.xn--p1ai/dir/a", ["url-mask xn--e1aybc.xn--p1ai/dir/*"]),
        ("http://[2001:db8:0::1]/dir/a", ["url-mask [2001:db8::1]/dir/*"]),
        ("http://[::ffff:5.6.7.8]/x", ["exact 5.6.7.8/x"]),
        ("http://84281096/x", ["exact 5.6.7.8/x"]),
        ("http://[2001:0db8::2]/p", ["exact [2001:db8::2]/p"]),
    ],
)
def test_urls_and_masks_with_address_and_idn_hosts(make_snapshot, observable, expected):
    snapshot = make_snapshot(["1.2.3.4/dir/*", "тест.рф/dir/*", "[2001:DB8::1]/dir/*",
                              "http://5.6.7.8/x", "http://[2001:db8::2]/p"])
    assert explained(snapshot.lookup(observable)) == expected


def test_www_domain_indicator_matches_urls_on_its_host(make_snapshot):
    """URLs drop ``www.`` (protocol.md); a domain indicator that keeps it must still match."""
    snapshot = make_snapshot(["www.webserver.dynssl.com"])
    for url in ("http://www.webserver.dynssl.com/x", "http://webserver.dynssl.com/x",
                "https://WWW.webserver.dynssl.com"):
        assert [m.explain() for m in snapshot.lookup(url).matches] == [
            "url-host exact www.webserver.dynssl.com"], url
    assert snapshot.lookup("www.webserver.dynssl.com").matches
    assert not snapshot.lookup("webserver.dynssl.com").matches  # the domain itself: not www
    assert not snapshot.lookup("http://a.webserver.dynssl.com/").matches
