"""STIX 2.1 bundles: patterns, indicators, malformed files, and the OASIS examples in ../shared."""

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
from trapline.feeds.config import FeedConfig, feed_for_path
from trapline.feeds.report import FeedReport
from trapline.feeds.stix import (
    AND,
    FOLLOWEDBY,
    MATCHES,
    MAX_DEPTH,
    MAX_PATTERN,
    UNPARSEABLE,
    Observable,
    parse_stix_objects,
    read_pattern,
    read_stix,
)
from trapline.index import IndicatorRecord, SnapshotBuilder, build_memory_snapshot

FEED = FeedConfig(source="bundle.json", name="stix-test", category="apt")
KINDS = {"ipv4", "ipv6", "cidr", "domain", "url", "url-mask", "md5", "sha1", "sha256", "email"}
MD5 = "d41d8cd98f00b204e9800998ecf8427e"
SHA1 = "da39a3ee5e6b4b0d3255bfef95601890afd80709"
SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def indicator(pattern: Any, **fields: Any) -> dict[str, Any]:
    obj = {"type": "indicator", "spec_version": "2.1",
           "id": fields.pop("id", "indicator--00000000-0000-4000-8000-000000000001"),
           "pattern": pattern, "pattern_type": "stix", "valid_from": "2024-01-01T00:00:00Z"}
    obj.update(fields)
    return obj


def write_bundle(path: Path, objects: Any) -> Path:
    path.write_text(json.dumps({"type": "bundle", "id": "bundle--1", "objects": objects}))
    return path


def read(path: Path, feed: FeedConfig = FEED) -> tuple[list[IndicatorRecord], FeedReport]:
    report = FeedReport()
    return list(read_stix(path, feed, report)), report


def read_objects(tmp_path: Path, objects: list[Any]) -> tuple[list[IndicatorRecord],
                                                              FeedReport]:
    return read(write_bundle(tmp_path / "bundle.json", objects))


def pairs(pattern: str) -> list[tuple[str, str]]:
    reading = read_pattern(pattern)
    assert reading.refused is None, reading
    return [(o.kind, o.value) for o in reading.observables]


# -- read_pattern: what is read ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("[ipv4-addr:value = '198.51.100.7']", [("ipv4", "198.51.100.7")]),
        ("[ipv4-addr:value = '198.51.100.0/24']", [("cidr", "198.51.100.0/24")]),
        ("[ipv6-addr:value = '2001:db8::1']", [("ipv6", "2001:db8::1")]),
        ("[ipv6-addr:value = '2001:db8::/32']", [("cidr", "2001:db8::/32")]),
        ("[domain-name:value = 'evil.example']", [("domain", "evil.example")]),
        ("[url:value = 'http://evil.example/a?b=1']", [("url", "http://evil.example/a?b=1")]),
        ("[email-addr:value = 'bad@evil.example']", [("email", "bad@evil.example")]),
        (f"[file:hashes.MD5 = '{MD5}']", [("md5", MD5)]),
        (f"[file:hashes.md5 = '{MD5}']", [("md5", MD5)]),
        (f"[file:hashes.'MD5' = '{MD5}']", [("md5", MD5)]),
        (f"[file:hashes.'SHA-1' = '{SHA1}']", [("sha1", SHA1)]),
        (f"[file:hashes.'SHA1' = '{SHA1}']", [("sha1", SHA1)]),
        (f"[file:hashes.sha1 = '{SHA1}']", [("sha1", SHA1)]),
        (f"[file:hashes.'SHA-256' = '{SHA256}']", [("sha256", SHA256)]),
        (f"[file:hashes.SHA256 = '{SHA256}']", [("sha256", SHA256)]),
        (f"[file:hashes.sha_256 = '{SHA256}']", [("sha256", SHA256)]),
        ("[ipv4-addr:'value' = '198.51.100.7']", [("ipv4", "198.51.100.7")]),
        ("[ipv4-addr:value == '198.51.100.7']", [("ipv4", "198.51.100.7")]),
        # the string literal's escapes: \' and \\
        ("[url:value = 'http://evil.example/it\\'s\\\\x']",
         [("url", "http://evil.example/it's\\x")]),
    ],
)
def test_single_comparisons(pattern: str, expected: list[tuple[str, str]]) -> None:
    assert pairs(pattern) == expected
    assert read_pattern(pattern).skipped == []


def test_or_inside_an_observation_gives_one_observable_each() -> None:
    pattern = ("[domain-name:value = 'evil.example' OR ipv4-addr:value = '198.51.100.7' "
               "OR url:value = 'http://evil.example/x']")
    assert pairs(pattern) == [("domain", "evil.example"), ("ipv4", "198.51.100.7"),
                              ("url", "http://evil.example/x")]


def test_or_between_observations_and_parentheses() -> None:
    pattern = (f"[ipv4-addr:value = '198.51.100.7'] OR ([file:hashes.MD5 = '{MD5}'] "
               "OR [domain-name:value = 'evil.example' OR (url:value = 'http://a.example/')])")
    assert pairs(pattern) == [("ipv4", "198.51.100.7"), ("md5", MD5),
                              ("domain", "evil.example"), ("url", "http://a.example/")]


def test_in_gives_each_value() -> None:
    assert pairs("[ipv4-addr:value IN ('198.51.100.7', '203.0.113.0/24')]") == [
        ("ipv4", "198.51.100.7"), ("cidr", "203.0.113.0/24")]
    reading = read_pattern("[domain-name:value IN ('a.example', 42, 'b.example')]")
    assert reading.observables == [Observable("domain", "a.example"),
                                   Observable("domain", "b.example")]
    assert reading.skipped == ["comparison value is not a string"]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("[url:value LIKE 'http://evil.example/%']", [("url-mask", "http://evil.example/*")]),
        ("[url:value LIKE 'evil.example/x.php?%']", [("url-mask", "evil.example/x.php[?]*")]),
        ("[url:value LIKE 'evil.example/a_c']", [("url-mask", "evil.example/a?c")]),
        ("[domain-name:value LIKE '%.evil.example']", [("url-mask", "*.evil.example")]),
        # no wildcard: LIKE is equality, read as the value itself
        ("[domain-name:value LIKE 'evil\\\\_x.example']", [("domain", "evil_x.example")]),
        ("[url:value LIKE 'http://evil.example/a']", [("url", "http://evil.example/a")]),
    ],
)
def test_like_becomes_a_url_mask(pattern: str, expected: list[tuple[str, str]]) -> None:
    assert pairs(pattern) == expected


def test_issubset_on_an_address_is_a_cidr() -> None:
    assert pairs("[ipv4-addr:value ISSUBSET '198.51.100.0/24']") == [("cidr", "198.51.100.0/24")]
    assert pairs("[ipv6-addr:value ISSUBSET '2001:db8::/32']") == [("cidr", "2001:db8::/32")]


def test_a_long_or_chain_is_read_without_recursion() -> None:
    # antlr builds a left-deep tree: 2,000 comparisons are 2,000 levels deep
    pattern = "[" + " OR ".join(f"domain-name:value = 'a{i}.example'" for i in range(2000)) + "]"
    reading = read_pattern(pattern)
    assert len(reading.observables) == 2000
    assert reading.observables[-1] == Observable("domain", "a1999.example")


# -- read_pattern: what is skipped ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("[x509-certificate:issuer = 'CN=x']", "unsupported comparison x509-certificate:issuer"),
        ("[email-message:subject = 'hi']", "unsupported comparison email-message:subject"),
        ("[file:name = 'a.exe']", "unsupported comparison file:name"),
        ("[file:hashes.'SHA-512' = 'ab']", "unsupported comparison file:hashes.'SHA-512'"),
        ("[file:hashes.SSDEEP = 'ab']", "unsupported comparison file:hashes.SSDEEP"),
        ("[network-traffic:dst_ref.value = '198.51.100.7']",
         "unsupported comparison network-traffic:dst_ref.value"),
        ("[domain-name:value MATCHES '^evil']", MATCHES),
        ("[ipv4-addr:value != '198.51.100.7']", "operator != not supported"),
        ("[ipv4-addr:value <> '198.51.100.7']", "operator != not supported"),
        ("[ipv4-addr:value NOT = '198.51.100.7']", "operator NOT = not supported"),
        ("[ipv4-addr:value NOT IN ('198.51.100.7')]", "operator NOT IN not supported"),
        ("[url:value NOT LIKE 'http://%']", "operator NOT LIKE not supported"),
        ("[ipv4-addr:value > '198.51.100.7']", "operator > not supported"),
        ("[ipv4-addr:value ISSUPERSET '198.51.100.7']", "operator ISSUPERSET not supported"),
        ("[EXISTS ipv4-addr:value]", "operator EXISTS not supported"),
        ("[ipv4-addr:value LIKE '198.51.%']", "LIKE on ipv4-addr:value not supported"),
        ("[domain-name:value ISSUBSET 'evil.example']",
         "ISSUBSET on domain-name:value not supported"),
        ("[ipv4-addr:value = 7]", "comparison value is not a string"),
    ],
)
def test_unsupported_comparisons_are_skipped(pattern: str, reason: str) -> None:
    reading = read_pattern(pattern)
    assert reading == ([], [reason], None)


def test_unsupported_comparisons_inside_an_or_are_skipped_one_by_one() -> None:
    reading = read_pattern("[x509-certificate:issuer = 'CN=x' OR ipv4-addr:value = '198.51.100.7'"
                           " OR domain-name:value MATCHES '^a'] OR [file:name = 'a.exe']")
    assert reading.observables == [Observable("ipv4", "198.51.100.7")]
    assert reading.skipped == ["unsupported comparison x509-certificate:issuer", MATCHES,
                               "unsupported comparison file:name"]


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("[ipv4-addr:value = '198.51.100.7' AND domain-name:value = 'evil.example']", AND),
        ("[ipv4-addr:value = '198.51.100.7' OR (domain-name:value = 'a.example' AND "
         "domain-name:value = 'b.example')]", AND),
        ("[ipv4-addr:value = '198.51.100.7'] AND [domain-name:value = 'evil.example']", AND),
        ("[ipv4-addr:value = '198.51.100.7'] FOLLOWEDBY [domain-name:value = 'evil.example']",
         FOLLOWEDBY),
        ("[ipv4-addr:value = '198.51.100.7'] OR ([url:value = 'http://a.example/'] FOLLOWEDBY "
         "[url:value = 'http://b.example/'])", FOLLOWEDBY),
        ("[ipv4-addr:value = '198.51.100.7'] WITHIN 300 SECONDS",
         "WITHIN qualifier: needs observations over time"),
        ("[ipv4-addr:value = '198.51.100.7'] REPEATS 5 TIMES",
         "REPEATS qualifier: needs observations over time"),
        ("[ipv4-addr:value = '198.51.100.7'] START t'2024-01-01T00:00:00Z' "
         "STOP t'2024-02-01T00:00:00Z'", "START/STOP qualifier: needs observations over time"),
        ("", UNPARSEABLE),
        ("198.51.100.7", UNPARSEABLE),
        ("[ipv4-addr:value = '198.51.100.7'", UNPARSEABLE),
        ("[ipv4-addr:value = '198.51.100.7'] OR", UNPARSEABLE),
        ("[ipv4-addr:value === '198.51.100.7']", UNPARSEABLE),
        ("(" * 300 + "[ipv4-addr:value = '198.51.100.7']" + ")" * 300, UNPARSEABLE),
        ("[url:value = '" + "a" * MAX_PATTERN + "']",
         f"pattern longer than {MAX_PATTERN} characters"),
    ],
)
def test_patterns_a_single_observable_cannot_match_are_refused(pattern: str, reason: str) -> None:
    assert read_pattern(pattern) == ([], [], reason)


# -- indicators ----------------------------------------------------------------------------------


def test_records_carry_feed_category_kind_and_lifecycle(tmp_path: Path) -> None:
    records, report = read_objects(tmp_path, [indicator(
        "[ipv4-addr:value = '198.51.100.7' OR url:value = 'http://evil.example/x']",
        valid_from="2024-01-01T00:00:00Z", valid_until="2024-01-02T00:00:00.5Z", confidence=85,
        modified="2024-01-01T12:00:00Z")])
    assert [(r.kind, r.value) for r in records] == [("ipv4", "198.51.100.7"),
                                                   ("url", "http://evil.example/x")]
    for record in records:
        assert (record.feed, record.category, record.allow) == ("stix-test", "apt", False)
        assert record.first_seen == 1704067200.0
        assert record.valid_until == 1704153600.5
        assert record.last_seen is None
        assert record.confidence == 85
    assert report.skipped_total == 0


def test_allow_list_feed_marks_records(tmp_path: Path) -> None:
    feed = FeedConfig(source="ok.json", name="ok", allow=True)
    path = write_bundle(tmp_path / "ok.json", [indicator("[domain-name:value = 'ok.example']")])
    records, _ = read(path, feed)
    assert [(r.value, r.allow, r.feed, r.category) for r in records] == [
        ("ok.example", True, "ok", "ok")]


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"valid_until": "2024-01-02t00:00:00z", "valid_from": "2024-01-01T01:00:00+01:00"},
         (1704067200.0, 1704153600.0)),
        ({"valid_until": "soon", "valid_from": "2024-13-45T00:00:00Z"}, (None, None)),
        ({"valid_until": 1704153600, "valid_from": None}, (None, None)),  # not strings
        ({"valid_until": ["2024-01-02T00:00:00Z"]}, (None, None)),
    ],
)
def test_timestamps(tmp_path: Path, fields: dict[str, Any],
                    expected: tuple[float | None, float | None]) -> None:
    obj = indicator("[domain-name:value = 'evil.example']")
    del obj["valid_from"]
    obj.update(fields)
    [record], _ = read_objects(tmp_path, [obj])
    assert (record.first_seen, record.valid_until) == expected


@pytest.mark.parametrize(("confidence", "expected"),
                         [(0, 0), (100, 100), (101, None), (-1, None), (True, None),
                          ("85", None), (85.5, None), (None, None)])
def test_confidence(tmp_path: Path, confidence: Any, expected: int | None) -> None:
    obj = indicator("[domain-name:value = 'evil.example']", confidence=confidence)
    [record], _ = read_objects(tmp_path, [obj])
    assert record.confidence == expected


def test_context(tmp_path: Path) -> None:
    obj = indicator(
        "[domain-name:value = 'evil.example']",
        name="  C2 of\nX ", description="word " * 300, labels=["apt", "apt", 3, "", "c2"],
        indicator_types=["malicious-activity"],
        kill_chain_phases=[{"kill_chain_name": "mitre-attack", "phase_name": "command-and-control"},
                           "junk", {"phase_name": 5}])
    [record], _ = read_objects(tmp_path, [obj])
    context = record.context
    assert list(context) == ["stix_id", "name", "description", "labels", "indicator_types",
                             "kill_chain"]
    assert context["stix_id"] == obj["id"]
    assert context["name"] == "C2 of X"
    assert len(context["description"]) == 500
    assert context["description"].endswith("wo...")
    assert context["labels"] == ["apt", "c2"]
    assert context["indicator_types"] == ["malicious-activity"]
    assert context["kill_chain"] == ["command-and-control"]
    assert msgspec.json.decode(msgspec.json.encode(context)) == context


def test_context_leaves_out_what_is_missing(tmp_path: Path) -> None:
    obj = {"type": "indicator", "pattern": "[domain-name:value = 'evil.example']"}
    [record], report = read_objects(tmp_path, [obj])  # STIX 2.0: no pattern_type, no id
    assert record.context == {}
    assert report.skipped_total == 0


def test_related_names_from_relationships(tmp_path: Path) -> None:
    first, second = "indicator--1", "indicator--2"
    objects = [
        {"type": "relationship", "relationship_type": "indicates", "source_ref": first,
         "target_ref": "malware--1"},  # before the malware it names: order does not matter
        indicator("[domain-name:value = 'a.example']", id=first),
        indicator("[domain-name:value = 'b.example']", id=second),
        {"type": "malware", "id": "malware--1", "name": "Poison Ivy", "is_family": True},
        {"type": "campaign", "id": "campaign--1", "name": "menuPass"},
        {"type": "threat-actor", "id": "threat-actor--1", "name": "Actor\nOne"},
        {"type": "identity", "id": "identity--1", "name": "Victim Corp"},
        {"type": "relationship", "relationship_type": "indicates", "source_ref": first,
         "target_ref": "campaign--1"},
        {"type": "relationship", "relationship_type": "indicates", "source_ref": first,
         "target_ref": "malware--1"},  # a duplicate: named once
        {"type": "relationship", "relationship_type": "related-to", "source_ref": "identity--1",
         "target_ref": second},  # related-to is read both ways
        {"type": "relationship", "relationship_type": "related-to", "source_ref": second,
         "target_ref": "threat-actor--1"},
        {"type": "relationship", "relationship_type": "indicates", "source_ref": second,
         "target_ref": "malware--missing"},  # not in the bundle: no name
        {"type": "relationship", "relationship_type": "attributed-to", "source_ref": second,
         "target_ref": "campaign--1"},  # other relationship types are not read
        {"type": "relationship", "relationship_type": "indicates", "source_ref": "malware--1",
         "target_ref": second},  # indicates: only from the indicator
    ]
    records, _ = read_objects(tmp_path, objects)
    assert {r.value: r.context["related"] for r in records} == {
        "a.example": ["Poison Ivy", "menuPass"],
        "b.example": ["Victim Corp", "Actor One"],
    }


def test_revoked_and_other_pattern_types_are_skipped(tmp_path: Path) -> None:
    records, report = read_objects(tmp_path, [
        indicator("[domain-name:value = 'revoked.example']", revoked=True),
        indicator("[domain-name:value = 'kept.example']", revoked=False),
        indicator("alert tcp any any -> any any (msg:\"x\";)", pattern_type="snort"),
        indicator("title: x", pattern_type="sigma"),
        indicator("[domain-name:value = 'upper.example']", pattern_type="STIX"),
        indicator("[domain-name:value = 'x.example']", pattern_type=7),
    ])
    assert [r.value for r in records] == ["kept.example", "upper.example"]
    assert report.skipped == Counter({
        "revoked indicator": 1, "pattern_type 'snort' not supported": 1,
        "pattern_type 'sigma' not supported": 1, "pattern_type '7' not supported": 1})


def test_refused_and_partly_read_patterns_are_counted(tmp_path: Path) -> None:
    records, report = read_objects(tmp_path, [
        indicator("[ipv4-addr:value = '198.51.100.7'] FOLLOWEDBY [url:value = 'http://a.ex/']"),
        indicator("[ipv4-addr:value = '198.51.100.7' AND url:value = 'http://a.example/']"),
        indicator("[ipv4-addr:value = '198.51.100.7' OR email-message:subject = 'x']"),
        indicator("[url:value = 'http://a.example/'"),
        indicator("[url:value LIKE 'http://a.example/%']"),
        indicator(None),
        indicator(["[url:value = 'http://a.example/']"]),
    ])
    assert [(r.kind, r.value) for r in records] == [("ipv4", "198.51.100.7"),
                                                   ("url-mask", "http://a.example/*")]
    assert report.skipped == Counter({
        FOLLOWEDBY: 1, AND: 1, "unsupported comparison email-message:subject": 1,
        UNPARSEABLE: 1, "indicator without a pattern string": 2})
    assert any("indicator--" in sample and "FOLLOWEDBY" in sample for sample in report.samples)


def test_other_objects_and_observables_are_not_indicators(tmp_path: Path) -> None:
    records, report = read_objects(tmp_path, [
        {"type": "ipv4-addr", "id": "ipv4-addr--1", "value": "198.51.100.7"},
        {"type": "observed-data", "id": "observed-data--1", "object_refs": ["ipv4-addr--1"]},
        {"type": "malware", "name": "X"}, {"no": "type"},
        "a string", 7, None, ["indicator"],
    ])
    assert records == []
    assert report.skipped == Counter({"object is not a JSON object": 4})


@pytest.mark.parametrize("text", [
    '{"type": "bundle", "id": "bundle--1", "objects": []}',
    '{"type": "bundle", "id": "bundle--1"}',  # objects are optional in STIX 2.1
    '{"objects": [], "spec_version": "2.0", "type": "bundle", "x": {"type": "not-a-bundle"}}',
])
def test_empty_bundles(tmp_path: Path, text: str) -> None:
    path = tmp_path / "empty.json"
    path.write_text(text)
    records, report = read(path)
    assert records == []
    assert report.skipped_total == 0


def test_parse_stix_objects_reads_objects_in_memory(tmp_path: Path) -> None:
    objects = [
        indicator("[ipv4-addr:value = '198.51.100.7'] OR [file:hashes.MD5 = '" + MD5 + "']"),
        {"type": "malware", "id": "malware--1", "name": "X"},
        {"type": "relationship", "relationship_type": "indicates",
         "source_ref": "indicator--00000000-0000-4000-8000-000000000001",
         "target_ref": "malware--1"},
        "junk",
    ]
    from_file, file_report = read_objects(tmp_path, objects)
    report = FeedReport()
    in_memory = list(parse_stix_objects(iter(objects), FEED, report))
    assert in_memory == from_file
    assert in_memory[0].context["related"] == ["X"]
    assert report.skipped == file_report.skipped == Counter({"object is not a JSON object": 1})


def test_masks_and_cidrs_match_in_a_snapshot(tmp_path: Path) -> None:
    records, _ = read_objects(tmp_path, [indicator(
        "[url:value LIKE 'http://evil.example/gate.php?%'] OR "
        "[domain-name:value LIKE '%.bad.example'] OR [ipv4-addr:value ISSUBSET '203.0.113.0/24']",
        valid_until="2999-01-01T00:00:00Z")])
    snapshot = build_memory_snapshot(records)
    assert [m.explain() for m in snapshot.lookup("http://evil.example/gate.php?id=1").matches] \
        == ["url-mask evil.example/gate.php[?]*"]
    assert not snapshot.lookup("http://evil.example/other.php").detected
    assert snapshot.lookup("http://cdn.bad.example/x").detected
    assert [m.explain() for m in snapshot.lookup("203.0.113.9").matches] == ["cidr 203.0.113.0/24"]


# -- malformed files -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not valid JSON"),
        (b"not json", "not valid JSON"),
        (b'{"type": "bundle", "objects": [{"type": "indicator", "pattern": "[a', "not valid JSON"),
        (b'{"type": "bundle", "objects": []} trailing', "not valid JSON"),
        (b'{"type": "bundle", "objects": ["\xff\xfe"]}', "not valid JSON"),
        (b"\xef\xbb\xbf\x00\x01\x02", "not valid JSON"),
        (b'[{"type": "indicator"}]', "not a JSON object"),
        (b'"bundle"', "not a JSON object"),
        (b"42", "not a JSON object"),
        (b'{"type": "report", "objects": []}', "its type is 'report'"),
        (b'{"objects": []}', "its type is None"),
        (b'{"type": ["bundle"], "objects": []}', "not a STIX bundle"),
        (b'{"type": "bundle", "objects": {"item": {"type": "indicator"}}}', "not a list"),
        (b'{"type": "bundle", "objects": null}', "not a list"),
        (b'{"type": "bundle", "objects": "[]"}', "not a list"),
        (b'{"type": "bundle", "objects": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}",
         f"nested deeper than {MAX_DEPTH}"),
        (b'{"type": "bundle", "objects": [' + b'{"a":' * 100_000 + b"1" + b"}" * 100_000 + b"]}",
         f"nested deeper than {MAX_DEPTH}"),
    ],
)
def test_malformed_files_raise_feed_parse_error(tmp_path: Path, content: bytes,
                                                message: str) -> None:
    path = tmp_path / "bad-bundle.json"
    path.write_bytes(content)
    with pytest.raises(FeedParseError) as info:
        read(path)
    assert str(info.value).startswith("bad-bundle.json: ")
    assert message in str(info.value)


def test_a_missing_file_is_a_feed_parse_error(tmp_path: Path) -> None:
    with pytest.raises(FeedParseError, match=r"missing\.json: cannot read"):
        read(tmp_path / "missing.json")


# -- properties: only FeedParseError, and only well-formed records -------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12),
                                                                      children, max_size=4),
    max_leaves=12,
)
TOKENS = ["[", "]", "(", ")", "ipv4-addr:value", "ipv6-addr:value", "domain-name:value",
          "url:value", "email-addr:value", "file:hashes.MD5", "file:hashes.'SHA-256'",
          "x509-certificate:issuer", "file:name", "=", "!=", "IN", "LIKE", "MATCHES", "ISSUBSET",
          "NOT", "AND", "OR", "FOLLOWEDBY", "EXISTS", "'198.51.100.7'", "'10.0.0.0/8'",
          "'%.evil.example'", "'http://e.example/_%'", "('a.example', 'b')", "'it\\'s'", "7",
          "t'2024-01-01T00:00:00Z'", "WITHIN 5 SECONDS", "REPEATS 2 TIMES", "START", "STOP"]
COMPARISON = st.builds(lambda p, o, v: f"{p} {o} {v}", st.sampled_from(TOKENS[4:13]),
                       st.sampled_from(["=", "!=", "LIKE", "MATCHES", "ISSUBSET", "IN"]),
                       st.sampled_from(TOKENS[24:32]))
OBSERVATION = st.lists(COMPARISON, min_size=1, max_size=4).flatmap(
    lambda cs: st.sampled_from([" OR ", " AND "]).map(lambda op: "[" + op.join(cs) + "]"))
PATTERNS = st.one_of(
    st.text(max_size=80),
    st.lists(st.sampled_from(TOKENS), max_size=12).map(" ".join),
    st.lists(OBSERVATION, min_size=1, max_size=3).flatmap(
        lambda obs: st.sampled_from([" OR ", " AND ", " FOLLOWEDBY "]).map(
            lambda op: op.join(obs))),
)
IDS = st.sampled_from(["indicator--1", "indicator--2", "malware--1", "campaign--1", "x"])
TIMESTAMPS = st.sampled_from(["2024-01-01T00:00:00Z", "2024-01-01T00:00:00.123456789Z",
                              "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "2024-02-30",
                              "yesterday", ""])
INDICATORS = st.fixed_dictionaries(
    {"type": st.just("indicator")},
    optional={"id": IDS | JSON, "pattern": PATTERNS | JSON,
              "pattern_type": st.sampled_from(["stix", "STIX", "sigma"]) | JSON,
              "revoked": JSON, "valid_from": TIMESTAMPS | JSON, "valid_until": TIMESTAMPS | JSON,
              "confidence": st.integers(-5, 105) | JSON, "name": JSON, "description": JSON,
              "labels": JSON, "indicator_types": JSON,
              "kill_chain_phases": st.lists(st.fixed_dictionaries(
                  {"phase_name": JSON, "kill_chain_name": JSON}) | JSON, max_size=3)},
)
OTHERS = st.fixed_dictionaries(
    {"type": st.sampled_from(["malware", "campaign", "relationship", "identity", "report"])},
    optional={"id": IDS | JSON, "name": JSON, "relationship_type":
              st.sampled_from(["indicates", "related-to", "uses"]) | JSON,
              "source_ref": IDS | JSON, "target_ref": IDS | JSON},
)
BUNDLES = st.fixed_dictionaries(
    {"type": st.just("bundle"), "objects": st.lists(INDICATORS | OTHERS | JSON, max_size=6)},
    optional={"id": JSON, "spec_version": JSON},
)


def check_records(records: list[IndicatorRecord], report: FeedReport) -> None:
    for record in records:
        assert isinstance(record.value, str)
        assert record.kind in KINDS
        assert (record.feed, record.category) == (FEED.name, FEED.category)
        assert record.confidence is None or 0 <= record.confidence <= 100
        for value in record.context.values():
            assert isinstance(value, str) or (
                isinstance(value, list) and all(isinstance(v, str) for v in value))
        msgspec.json.encode(record.context)
    assert all(isinstance(reason, str) for reason in report.skipped)


def read_content(path: Path, content: bytes) -> None:
    path.write_bytes(content)
    report = FeedReport()
    try:
        records = list(read_stix(path, FEED, report))
    except FeedParseError as exc:
        assert str(exc).startswith(f"{path.name}: ")
        return
    check_records(records, report)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("stix") / "bundle.json"


@given(st.binary(max_size=400))
def test_any_bytes_raise_only_feed_parse_error(scratch: Path, content: bytes) -> None:
    read_content(scratch, content)


@given(JSON)
def test_any_json_raises_only_feed_parse_error(scratch: Path, value: Any) -> None:
    read_content(scratch, json.dumps(value).encode())


@given(BUNDLES)
def test_any_bundle_is_read_without_error(scratch: Path, bundle: dict[str, Any]) -> None:
    scratch.write_text(json.dumps(bundle))
    report = FeedReport()
    check_records(list(read_stix(scratch, FEED, report)), report)
    report = FeedReport()
    check_records(list(parse_stix_objects(bundle["objects"], FEED, report)), report)


@given(BUNDLES, st.integers(min_value=0), st.binary(max_size=8))
def test_any_damaged_bundle_raises_only_feed_parse_error(
        scratch: Path, bundle: dict[str, Any], cut: int, junk: bytes) -> None:
    content = json.dumps(bundle).encode()
    cut %= len(content) + 1
    read_content(scratch, content[:cut] + junk)


@given(PATTERNS)
def test_read_pattern_never_raises(pattern: str) -> None:
    reading = read_pattern(pattern)
    assert all(o.kind in KINDS and isinstance(o.value, str) for o in reading.observables)
    assert reading.refused is None or reading.observables == reading.skipped == []


# -- the OASIS examples (../shared/data/feeds/stix21-oasis) --------------------------------------


def oasis(shared_data: Path, name: str) -> tuple[list[IndicatorRecord], FeedReport]:
    path = shared_data / "feeds" / "stix21-oasis" / name
    return read(path, feed_for_path(path, format="stix"))


def indicator_objects(shared_data: Path, name: str) -> list[dict[str, Any]]:
    """The bundle's indicator objects, read with json, independently of the reader."""
    path = shared_data / "feeds" / "stix21-oasis" / name
    return [o for o in json.loads(path.read_text())["objects"] if o["type"] == "indicator"]


def test_poisonivy(shared_data: Path) -> None:
    # "25 indicators" are 25 indicator objects (jq '[.objects[] | select(.type ==
    # "indicator")] | length'). 23 have patterns of domain-name:value and ipv4-addr:value
    # comparisons joined by OR: 25 domain and 40 IPv4 comparisons (counted with grep -o
    # over the patterns), 65 records. The other two are [file:name = '...'], unsupported.
    assert len(indicator_objects(shared_data, "poisonivy.json")) == 25
    records, report = oasis(shared_data, "poisonivy.json")
    assert len(records) == 65
    assert Counter(r.kind for r in records) == {"ipv4": 40, "domain": 25}
    assert len({r.context["stix_id"] for r in records}) == 23
    assert report.skipped == Counter({"unsupported comparison file:name": 2})
    assert {(r.feed, r.category) for r in records} == {("poisonivy.json", "poisonivy")}
    assert {r.first_seen for r in records} == {1431681136.432678}  # 2015-05-15T09:12:16.432678Z

    [first] = [r for r in records if r.value == "219.76.208.163"]
    assert first.kind == "ipv4"
    assert first.context == {
        "stix_id": "indicator--e8094b09-7df4-4b13-b207-1e27af3c4bde",
        "name": "IP address: 219.76.208.163",
        "description": "IP address for key@123 sample 808e21d6efa2884811fbd0adf67fda78",
        "indicator_types": ["malicious-activity", "attribution"],
        # indicates -> malware "PIVY Variant (...)" and -> campaign "admin@338"
        "related": ["PIVY Variant (808e21d6efa2884811fbd0adf67fda78)", "admin@338"],
    }
    shared = [r for r in records if r.value == "113.10.246.30"]  # in four OR patterns
    # www.webserver.freetcp.com's indicator has no relationship: no "related"
    assert [r.context.get("related", [None])[-1] for r in shared] == [
        "PIVY Variant (8010cae3e8431bb11ed6dc9acabb93b7,)", None,
        "PIVY Variant (8010cae3e8431bb11ed6dc9acabb93b7,)",
        "PIVY Variant (0323de551aa10ca6221368c4a73732e6,)"]


def test_poisonivy_snapshot(shared_data: Path) -> None:
    records, _ = oasis(shared_data, "poisonivy.json")
    builder = SnapshotBuilder()
    builder.add_all(records)
    # one domain comparison is "domain autuo.xicp.net" (sic): rejected by the builder
    assert builder.rejected == 1
    assert dict(builder.counts) == {"ipv4": 40, "domain": 24}
    snapshot = build_memory_snapshot(builder)
    [match] = snapshot.lookup("219.76.208.163").matches
    assert (match.how, match.feed, match.category) == ("exact", "poisonivy.json", "poisonivy")
    assert match.context["related"] == ["PIVY Variant (808e21d6efa2884811fbd0adf67fda78)",
                                        "admin@338"]
    assert [m.explain() for m in snapshot.lookup("dl.js001.3322.org").matches] == [
        "parent-domain js001.3322.org"]
    assert len(snapshot.lookup("113.10.246.30").matches) == 4


def test_apt1(shared_data: Path) -> None:
    # 12 indicators: 4 CIDRs written as ipv4-addr:value = 'a.b.c.d/15', 3 domains,
    # 3 MD5 hashes, and 2 x509-certificate patterns joined by AND (skipped whole).
    assert len(indicator_objects(shared_data, "apt1.json")) == 12
    records, report = oasis(shared_data, "apt1.json")
    assert Counter(r.kind for r in records) == {"cidr": 4, "domain": 3, "md5": 3}
    assert sorted(r.value for r in records if r.kind == "cidr") == [
        "112.64.0.0/15", "139.226.0.0/15", "223.166.0.0/15", "58.246.0.0/15"]
    assert report.skipped == Counter({AND: 2})
    assert all("x509-certificate" in sample for sample in report.samples)
    related = {r.value: r.context.get("related") for r in records}
    assert related["223.166.0.0/15"] == ["HUC Packet Transmit Tool (HTRAN)"]
    assert related["hugesoft.org"] == ["Ugly Gorilla"]
    assert related["001dd76872d80801692ff942308c64e6"] is None
    [cidr] = [r for r in records if r.value == "223.166.0.0/15"]
    assert cidr.context["kill_chain"] == ["establish-foothold"]
    snapshot = build_memory_snapshot(records)
    assert [m.explain() for m in snapshot.lookup("223.167.1.1").matches] == ["cidr 223.166.0.0/15"]
    assert snapshot.lookup("001DD76872D80801692FF942308C64E6").detected


def test_email_patterns_with_matches_are_skipped(shared_data: Path) -> None:
    records, report = oasis(shared_data, "malicious-email-indicator-with-attachment.json")
    assert records == []
    assert report.skipped == Counter({
        "unsupported comparison email-message:subject": 1,
        "unsupported comparison email-message:body_multipart[*].body_raw_ref.name": 1})


def test_c2_indicators_and_hash(shared_data: Path) -> None:
    records, report = oasis(shared_data, "indicators-for-C2-with-COA.json")
    assert [(r.kind, r.value, r.context["related"]) for r in records] == [
        ("ipv4", "10.0.0.0", ["Poison Ivy"]),
        ("sha256", "ef537f25c895bfa782526529a9b63d97aa631564d5d789c2b765448c8635fb6c",
         ["Poison Ivy"]),
    ]
    assert report.skipped_total == 0
    records, _ = oasis(shared_data, "indicator-for-c2-ip-address.json")
    assert [(r.kind, r.value) for r in records] == [("ipv4", "10.0.0.0")]


def test_infrastructure_observables_are_not_indicators(shared_data: Path) -> None:
    # the bundle holds ipv4-addr and domain-name objects but no indicator
    records, report = oasis(shared_data, "infrastructure.json")
    assert records == []
    assert report.skipped_total == 0


# -- the fast path for single comparisons reads exactly as the parser ---------------------------

_TYPES = st.sampled_from(["ipv4-addr", "ipv6-addr", "domain-name", "url", "email-addr", "file",
                          "x509-certificate", "process", "a-b-c"])
_PROPS = st.sampled_from(["value", "hashes.MD5", "hashes.'SHA-256'", "hashes.'SHA1'",
                          "hashes.sha256", "hashes.'x-y'", "name", "hashes.MD5.x", "VALUE"])
_LITERAL = st.text(alphabet=st.sampled_from(list("ab.1/:'\\ ?*%_-é\n")), max_size=20)
_SPACE = st.sampled_from(["", " ", "  ", "\t", "\n", "\u00a0", "\r\n"])


_COMPARISONS = st.tuples(_TYPES, _PROPS, _LITERAL, _SPACE, _SPACE, st.booleans())


@given(st.lists(_COMPARISONS, min_size=1, max_size=3),
       st.sampled_from([" OR ", "  OR\n", " or ", "OR ", " AND ", " OR"]))
def test_fast_path_reads_as_the_parser(comparisons: list, joint: str) -> None:
    from trapline.feeds.stix import _simple_reading, parsed_reading

    parts = []
    for object_type, prop, text, before, after, escape in comparisons:
        literal = text.replace("\\", "\\\\").replace("'", "\\'") if escape else text
        parts.append(f"{before}{object_type}:{prop}{after}={before}'{literal}'{after}")
    pattern = "[" + joint.join(parts) + "]"
    fast = _simple_reading(pattern)
    if fast is not None:
        assert fast == parsed_reading(pattern), pattern
