"""MISP warning lists as allow lists: list types, string lists by matching attributes,
malformed input, and the real lists in ../shared/data/feeds/misp-warninglists."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trapline.errors import FeedParseError
from trapline.feeds.config import feed_for_path
from trapline.feeds.report import FeedReport
from trapline.feeds.warninglist import read_warninglist, value_class
from trapline.index import IndicatorRecord, SnapshotBuilder, build_memory_snapshot

KINDS = {"ipv4", "ipv6", "cidr", "domain", "url", "url-mask", "md5", "sha1", "sha256", "email",
         "substring", None}
HASHES = ["md5", "sha1", "sha224", "sha256", "sha512", "filename|md5", "filename|sha1",
          "filename|sha256", "ssdeep", "filename|ssdeep"]
MD5 = "d41d8cd98f00b204e9800998ecf8427e"
SHA1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def read(path: Path) -> tuple[list[IndicatorRecord], FeedReport]:
    report = FeedReport()
    feed = feed_for_path(path, format="warninglist")
    return list(read_warninglist(path, feed, report)), report


def write_list(path: Path, entries: list[Any], **header: Any) -> Path:
    data = {"list": entries, "name": "Test list", "version": 1, "description": "d", **header}
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def triples(records: list[IndicatorRecord]) -> list[tuple[str, str | None, str]]:
    return [(r.value, r.kind, r.context["list_type"]) for r in records]


# -- list types -------------------------------------------------------------------------------


def test_cidr_list(tmp_path: Path) -> None:
    path = write_list(tmp_path / "nets.json", ["10.0.0.0/8", "192.0.2.1", "2001:db8::/32",
                                               "2001:db8::1"], type="cidr",
                      matching_attributes=["ip-src", "ip-dst"])
    records, report = read(path)
    assert triples(records) == [(v, "cidr", "cidr") for v in
                                ("10.0.0.0/8", "192.0.2.1", "2001:db8::/32", "2001:db8::1")]
    assert report.skipped_total == 0
    for record in records:
        assert record.context == {"list": "Test list", "list_type": "cidr"}
        assert (record.allow, record.feed, record.category) == (True, "nets.json", "nets")
    builder = SnapshotBuilder()
    assert builder.add_all(records) == 4
    assert dict(builder.counts) == {"cidr": 2, "ipv4": 1, "ipv6": 1}


def test_hostname_list(tmp_path: Path) -> None:
    path = write_list(tmp_path / "h.json", ["bit.ly", ".example.org", "*.example.net"],
                      type="hostname")
    records, _ = read(path)
    assert triples(records) == [("bit.ly", "domain", "hostname"),
                                ("example.org", "domain", "hostname"),
                                ("example.net", "domain", "hostname")]


def test_substring_list(tmp_path: Path) -> None:
    path = write_list(tmp_path / "s.json", ["Tracking.Example/", " .cdn. "], type="substring")
    records, _ = read(path)
    assert triples(records) == [("tracking.example/", "substring", "substring"),
                                (".cdn.", "substring", "substring")]


@pytest.mark.parametrize(("list_type", "reason"), [
    ("regex", "unsupported list type regex"),
    ("bloom", "unsupported list type bloom"),
    (5, "list type not a string"),
    ({"a": "cidr"}, "list type not a string"),
])
def test_unsupported_list_types(tmp_path: Path, list_type: Any, reason: str) -> None:
    records, report = read(write_list(tmp_path / "r.json", ["^a.*$", "b"], type=list_type))
    assert records == []
    assert dict(report.skipped) == {reason: 2}


def test_entries_that_are_not_strings(tmp_path: Path) -> None:
    path = write_list(tmp_path / "e.json", ["10.0.0.0/8", 5, None, {"a": 1}, ["x"], "", "  "],
                      type="cidr")
    records, report = read(path)
    assert [r.value for r in records] == ["10.0.0.0/8"]
    assert dict(report.skipped) == {"entry not a string": 4, "empty entry": 2}


def test_header_defaults_and_order(tmp_path: Path) -> None:
    # no name: the file name; no type: a string list; no matching_attributes: detect
    path = tmp_path / "bare.json"
    path.write_text(json.dumps({"list": ["evil.example", "192.0.2.1"]}))
    records, _ = read(path)
    assert triples(records) == [("evil.example", None, "string"), ("192.0.2.1", None, "string")]
    assert records[0].context["list"] == "bare"
    # the header before the list reads the same as after it
    path.write_text('{"name": "N", "type": "cidr", "list": ["10.0.0.0/8"]}')
    assert triples(read(path)[0]) == [("10.0.0.0/8", "cidr", "cidr")]


# -- string lists: the kind from matching_attributes --------------------------------------------


@pytest.mark.parametrize(("attributes", "expected"), [
    (HASHES, "hash"),
    (["md5"], "hash"),
    (["domain", "hostname", "domain|ip"], "domain"),
    (["hostname", "domain", "url", "domain|ip"], "domain"),  # cisco_top1000
    (["ip-src", "ip-dst", "domain|ip", "ip-src|port"], "ip"),
    (["domain", "md5"], "any"),
    (["domain", "ip-dst"], "any"),
    (["email-src"], "any"),
    (["url"], "any"),
    ([], "any"),
])
def test_value_class(attributes: list[str], expected: str) -> None:
    assert value_class(attributes) == expected


def test_hash_string_list(tmp_path: Path) -> None:
    entries = ["3::", "96:a:b", "ab" * 64, "ab" * 28, "ab" * 48, MD5, SHA1.upper(), SHA256,
               "not-a-hash", "abcd"]
    records, report = read(write_list(tmp_path / "h.json", entries, type="string",
                                      matching_attributes=HASHES))
    assert triples(records) == [(MD5, "md5", "string"), (SHA1.upper(), "sha1", "string"),
                                (SHA256, "sha256", "string")]
    assert dict(report.skipped) == {
        "value type not supported: ssdeep": 2,  # "3::" must never read as an IPv6 address
        "value type not supported: sha512": 1,
        "value type not supported: sha224": 1,
        "value type not supported: sha384": 1,
        "not an md5, sha1 or sha256 hash": 2,
    }


def test_domain_string_list(tmp_path: Path) -> None:
    entries = ["www.example.com", ".akamai.example", "*.cdn.example", "192.0.2.1"]
    records, _ = read(write_list(tmp_path / "d.json", entries, type="string",
                                 matching_attributes=["domain", "hostname", "domain|ip"]))
    assert triples(records) == [("www.example.com", "domain", "string"),
                                ("akamai.example", "domain", "hostname"),
                                ("cdn.example", "domain", "hostname"),
                                ("192.0.2.1", "domain", "string")]  # the builder rejects it
    builder = SnapshotBuilder()
    assert builder.add_all(records) == 3
    assert builder.rejected == 1


def test_ip_and_mixed_string_lists(tmp_path: Path) -> None:
    entries = ["192.0.2.1", "2001:db8::1", ".not-a-subdomain-rule.example"]
    records, _ = read(write_list(tmp_path / "i.json", entries, type="string",
                                 matching_attributes=["ip-src", "ip-dst", "domain|ip"]))
    assert triples(records) == [(e, "cidr", "string") for e in entries]
    records, _ = read(write_list(tmp_path / "m.json", ["192.0.2.1", ".sub.example", MD5],
                                 type="string", matching_attributes=["ip-dst", "domain"]))
    assert triples(records) == [("192.0.2.1", None, "string"),
                                ("sub.example", "domain", "hostname"), (MD5, None, "string")]


# -- malformed files -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "malformed JSON"),
        (b"{\"list\": [\"a\"", "malformed JSON"),
        (b"{\"list\": [\"\xff\"]}", "malformed JSON"),
        (b"[\"10.0.0.0/8\"]", "a MISP warning list is a JSON object"),
        (b"\"text\"", "a MISP warning list is a JSON object"),
        (b"{\"name\": \"x\"}", "a MISP warning list needs a \"list\" array"),
        (b"{\"list\": {\"item\": \"10.0.0.0/8\"}}", "a MISP warning list needs a \"list\" array"),
        (b"{\"list\": " + b"[" * 5000 + b"]" * 5000 + b"}", "nested too deeply"),
    ],
)
def test_malformed_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(FeedParseError) as raised:
        read(path)
    assert str(raised.value).startswith(f"bad.json: {message}")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FeedParseError, match=r"^nothing\.json: cannot read"):
        read(tmp_path / "nothing.json")


# -- property: only records or FeedParseError ----------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                 max_size=4),
    max_leaves=12,
)
ENTRY = st.text(max_size=20) | st.sampled_from(["3::", MD5, ".a.example", "10.0.0.0/8"]) | JSON
WARNING_LIST = st.fixed_dictionaries(
    {"list": st.lists(ENTRY, max_size=8) | JSON},
    optional={"name": st.text(max_size=10) | JSON,
              "type": st.sampled_from(["string", "cidr", "hostname", "substring", "regex"])
              | JSON,
              "matching_attributes": st.lists(st.sampled_from(
                  [*HASHES, "domain", "hostname", "ip-src", "domain|ip", "url"]), max_size=4)
              | JSON,
              "version": JSON},
) | JSON


def check_only_records(path: Path) -> None:
    try:
        records, _ = read(path)
    except FeedParseError as exc:
        assert "bad.json" in str(exc)
        return
    for record in records:
        assert isinstance(record.value, str) and record.value.strip()
        assert record.kind in KINDS
        assert record.allow
        assert set(record.context) == {"list", "list_type"}
        assert record.context["list_type"] in ("cidr", "hostname", "string", "substring")
        msgspec.json.encode(record.context)
    SnapshotBuilder().add_all(records)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("warninglist") / "bad.json"


@given(content=st.binary(max_size=300))
def test_any_bytes(scratch: Path, content: bytes) -> None:
    scratch.write_bytes(content)
    check_only_records(scratch)


@given(document=WARNING_LIST)
def test_any_json_document(scratch: Path, document: Any) -> None:
    scratch.write_text(json.dumps(document), encoding="utf-8")
    check_only_records(scratch)


# -- the real lists (../shared/data/feeds/misp-warninglists) ----------------------------------

# Independent check of the counts (jq): entries per file `jq '.list | length'`; hex lengths
# `jq '[.list[] | select(test("^[0-9a-fA-F]+$")) | length] | group_by(.)'`; leading dots
# `jq '[.list[] | select(startswith("."))] | length'`:
#   amazon-aws 3847 (all with "/"), cisco_top1000 1000, common-ioc-false-positive 69 (23 each
#   of 32/40/64 hex), crl-hostname 222, eicar.com 15 (3 each of 32/40/56/64/128 hex),
#   empty-hashes 6 ("3::" and one each of 32/40/56/64/128 hex), google-gmail-sending-ips 8,
#   microsoft-win10-connection-endpoints 144 (31 with a leading dot), public-dns-v6 269,
#   rfc1918 3, sinkholes 107 (10 with "/"), url-shortener 255.
# The builder's counts: /32 and /128 networks and bare addresses count as ipv4 / ipv6.
REAL = {
    # file: (records per (kind, list_type), skipped, builder counts)
    "amazon-aws.json": ({("cidr", "cidr"): 3847}, {},
                        {"cidr": 3690, "ipv4": 146, "ipv6": 11}),
    "cisco_top1000.json": ({("domain", "string"): 1000}, {}, {"domain": 1000}),
    "common-ioc-false-positive.json": (
        {("md5", "string"): 23, ("sha1", "string"): 23, ("sha256", "string"): 23}, {},
        {"md5": 23, "sha1": 23, "sha256": 23}),
    "crl-hostname.json": ({("domain", "string"): 222}, {}, {"domain": 222}),
    "eicar.com.json": (
        {("md5", "string"): 3, ("sha1", "string"): 3, ("sha256", "string"): 3},
        {"value type not supported: sha224": 3, "value type not supported: sha512": 3},
        {"md5": 3, "sha1": 3, "sha256": 3}),
    "empty-hashes.json": (
        {("md5", "string"): 1, ("sha1", "string"): 1, ("sha256", "string"): 1},
        {"value type not supported: ssdeep": 1, "value type not supported: sha224": 1,
         "value type not supported: sha512": 1},
        {"md5": 1, "sha1": 1, "sha256": 1}),
    "google-gmail-sending-ips.json": ({("cidr", "cidr"): 8}, {}, {"cidr": 8}),
    "microsoft-win10-connection-endpoints.json": (
        {("domain", "string"): 113, ("domain", "hostname"): 31}, {}, {"domain": 144}),
    "public-dns-v6.json": ({("cidr", "cidr"): 269}, {}, {"ipv6": 269}),
    "rfc1918.json": ({("cidr", "cidr"): 3}, {}, {"cidr": 3}),
    "sinkholes.json": ({("cidr", "cidr"): 107}, {}, {"ipv4": 97, "cidr": 10}),
    "url-shortener.json": ({("domain", "hostname"): 255}, {}, {"domain": 255}),
}


def real(shared_data: Path, name: str) -> Path:
    return shared_data / "feeds" / "misp-warninglists" / name


def test_every_real_list_is_covered(shared_data: Path) -> None:
    folder = shared_data / "feeds" / "misp-warninglists"
    assert sorted(p.name for p in folder.glob("*.json")) == sorted(REAL)


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_list_counts(shared_data: Path, name: str) -> None:
    kinds, skipped, counts = REAL[name]
    path = real(shared_data, name)
    document = json.loads(path.read_text(encoding="utf-8"))
    records, report = read(path)
    assert Counter((r.kind, r.context["list_type"]) for r in records) == kinds
    assert dict(report.skipped) == skipped
    assert len(records) + report.skipped_total == len(document["list"])
    assert {r.context["list"] for r in records} == {document["name"]}
    assert all(r.allow for r in records)
    builder = SnapshotBuilder()
    builder.add_all(records)
    assert builder.rejected == 0, builder.reject_samples
    assert builder.counts == counts


def test_rfc1918(shared_data: Path) -> None:
    records, _ = read(real(shared_data, "rfc1918.json"))
    assert records == [
        IndicatorRecord(value=v, kind="cidr", feed="rfc1918.json", category="rfc1918",
                        context={"list": "List of RFC 1918 CIDR blocks", "list_type": "cidr"},
                        allow=True)
        for v in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]


def test_empty_hashes(shared_data: Path) -> None:
    records, report = read(real(shared_data, "empty-hashes.json"))
    assert sorted(r.value for r in records) == sorted([MD5, SHA1, SHA256])
    assert "3::" not in {r.value for r in records}
    assert report.samples[0] == "value type not supported: ssdeep: 3::"


def test_microsoft_leading_dots(shared_data: Path) -> None:
    records, _ = read(real(shared_data, "microsoft-win10-connection-endpoints.json"))
    by_value = {r.value: r for r in records}
    assert ".akamai.net" not in by_value
    assert (by_value["akamai.net"].kind, by_value["akamai.net"].context["list_type"]) == (
        "domain", "hostname")
    assert by_value["a-msedge.net"].context["list_type"] == "hostname"
    assert all(not r.value.startswith(".") for r in records)


def test_url_shortener(shared_data: Path) -> None:
    records, _ = read(real(shared_data, "url-shortener.json"))
    assert records[0] == IndicatorRecord(
        value="1url.com", kind="domain", feed="url-shortener.json", category="url-shortener",
        context={"list": "List of known URL Shorteners domains", "list_type": "hostname"},
        allow=True)


# -- end to end: allow records suppress detections (the index's side: see docs/matching.md) ----


def test_allow_lists_suppress(shared_data: Path) -> None:
    records: list[IndicatorRecord] = []
    for name in ("rfc1918.json", "url-shortener.json", "empty-hashes.json",
                 "microsoft-win10-connection-endpoints.json", "cisco_top1000.json"):
        records += read(real(shared_data, name))[0]
    bad = ["10.1.2.3", "bit.ly", MD5, "x.a-msedge.net", "www.google.com", "a.www.google.com"]
    records += [IndicatorRecord(value=v, feed="bad", category="c2") for v in bad]
    snapshot = build_memory_snapshot(records)

    def allowed_by(value: str) -> list[tuple[str, str]]:
        verdict = snapshot.lookup(value)
        return [(m.feed, m.context["list_type"]) for m in verdict.allowed_by]

    assert allowed_by("10.1.2.3") == [("rfc1918.json", "cidr")]
    assert allowed_by("http://bit.ly/abc") == [("url-shortener.json", "hostname")]
    assert allowed_by(MD5.upper()) == [("empty-hashes.json", "string")]
    assert allowed_by("x.a-msedge.net") == [
        ("microsoft-win10-connection-endpoints.json", "hostname")]
    assert allowed_by("www.google.com") == [("cisco_top1000.json", "string")]
    for value in ("10.1.2.3", "bit.ly", MD5, "x.a-msedge.net", "www.google.com"):
        assert not snapshot.lookup(value).detected, value
    # a string entry allows exactly its value, never a subdomain
    assert snapshot.lookup("a.www.google.com").detected
