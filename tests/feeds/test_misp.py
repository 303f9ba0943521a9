"""MISP events and feeds: attribute types, to_ids, context, feed folders, malformed input,
and the real ESET events in ../shared/data/feeds/eset-malware-ioc."""

from __future__ import annotations

import json
import tracemalloc
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from trapline.errors import FeedParseError
from trapline.feeds.config import FeedConfig, feed_for_path
from trapline.feeds.misp import read_misp
from trapline.feeds.report import FeedReport
from trapline.index import IndicatorRecord, SnapshotBuilder, build_memory_snapshot

KINDS = {"ipv4", "ipv6", "cidr", "domain", "url", "url-mask", "md5", "sha1", "sha256", "email"}
MD5 = "f8e92d8b5488ea76c40601c8f1a08790"
SHA1 = "d5235d136cfcadbef431eea7253d80bde414db9d"
SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def feed_of(path: Path, **settings: Any) -> FeedConfig:
    return feed_for_path(path, format="misp", **settings)


def read(path: Path, **settings: Any) -> tuple[list[IndicatorRecord], FeedReport]:
    report = FeedReport()
    return list(read_misp(path, feed_of(path, **settings), report)), report


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def attribute(type_: str, value: Any, to_ids: Any = True, **more: Any) -> dict[str, Any]:
    return {"type": type_, "value": value, "to_ids": to_ids, "category": "Network activity",
            "timestamp": "1558612800", **more}


# -- attribute types, to_ids, deleted ---------------------------------------------------------


def test_types_kinds_and_parts(tmp_path: Path) -> None:
    event = {"info": "types", "Attribute": [
        attribute("ip-src", "198.51.100.1"),
        attribute("ip-dst", "2001:db8::1"),
        attribute("ip-dst", "203.0.113.0/24"),
        attribute("ip-src|port", "198.51.100.2|8080"),
        attribute("ip-dst|port", "2001:db8::2|443"),
        attribute("domain", "evil.example"),
        attribute("hostname", "c2.evil.example"),
        attribute("hostname|port", "c3.evil.example|4444"),
        attribute("domain|ip", "pair.example|198.51.100.3"),
        attribute("url", "http://evil.example/x.php"),
        attribute("uri", "evil.example/gate.php"),
        attribute("md5", MD5),
        attribute("sha1", SHA1),
        attribute("sha256", SHA256),
        attribute("filename|md5", "a|b.exe|" + MD5),  # the hash is the last part
        attribute("email-src", "phish@evil.example"),
    ]}
    records, report = read(write(tmp_path / "e.json", {"Event": event}))
    assert report.skipped_total == 0
    got = [(r.value, r.kind, {k: v for k, v in r.context.items()
                              if k in ("port", "ip", "domain", "filename")}) for r in records]
    assert got == [
        ("198.51.100.1", "cidr", {}),
        ("2001:db8::1", "cidr", {}),
        ("203.0.113.0/24", "cidr", {}),
        ("198.51.100.2", "cidr", {"port": "8080"}),
        ("2001:db8::2", "cidr", {"port": "443"}),
        ("evil.example", "domain", {}),
        ("c2.evil.example", "domain", {}),
        ("c3.evil.example", "domain", {"port": "4444"}),
        ("pair.example", "domain", {"ip": "198.51.100.3"}),
        ("198.51.100.3", "cidr", {"domain": "pair.example"}),
        ("http://evil.example/x.php", "url", {}),
        ("evil.example/gate.php", "url", {}),
        (MD5, "md5", {}),
        (SHA1, "sha1", {}),
        (SHA256, "sha256", {}),
        (MD5, "md5", {"filename": "a|b.exe"}),
        ("phish@evil.example", "email", {}),
    ]
    builder = SnapshotBuilder()
    assert builder.add_all(records) == len(records)
    assert dict(builder.counts) == {"ipv4": 3, "ipv6": 2, "cidr": 1, "domain": 4, "url": 2,
                                    "md5": 2, "sha1": 1, "sha256": 1, "email": 1}


def test_to_ids_deleted_unsupported_and_malformed(tmp_path: Path) -> None:
    event = {"Attribute": [
        attribute("domain", "a.example", to_ids=True),
        attribute("domain", "b.example", to_ids="1"),
        attribute("domain", "c.example", to_ids=1),
        attribute("domain", "d.example", to_ids=False),
        attribute("domain", "e.example", to_ids="0"),
        attribute("domain", "f.example"),
        attribute("domain", "g.example", deleted=True),
        attribute("text", "some words"),
        attribute("regkey", "HKLM\\Software\\x"),
        attribute("sha512", "ab" * 64),
        attribute("domain|ip", "no-pipe.example"),
        attribute("uri", "/only/a/path.php"),
        attribute("domain", 42),
        attribute("domain", ""),
        {"type": "domain"},
        {"value": "h.example", "to_ids": True},
        "not an attribute",
        None,
    ]}
    del event["Attribute"][5]["to_ids"]  # no to_ids at all: not to_ids
    path = write(tmp_path / "e.json", {"Event": event})
    records, report = read(path)
    assert [r.value for r in records] == ["a.example", "b.example", "c.example"]
    assert dict(report.skipped) == {
        "not to_ids": 3,
        "deleted attribute": 1,
        "unsupported attribute type text": 1,
        "unsupported attribute type regkey": 1,
        "unsupported attribute type sha512": 1,
        "malformed domain|ip value": 1,
        "uri without a host": 1,
        "attribute without a value": 3,
        "attribute without a type": 1,
        "attribute not a JSON object": 2,
    }
    everything, report = read(path, to_ids_only=False)
    assert [r.value for r in everything] == [f"{c}.example" for c in "abcdef"]
    assert "not to_ids" not in report.skipped
    assert report.skipped["deleted attribute"] == 1


def test_unsupported_type_reasons_are_bounded(tmp_path: Path) -> None:
    event = {"Attribute": [attribute(f"type-{i}", "x") for i in range(300)]}
    _, report = read(write(tmp_path / "e.json", {"Event": event}))
    assert report.skipped_total == 300
    assert len(report.skipped) <= 201
    assert report.skipped["unsupported attribute type (others)"] == 100


# -- context and times -------------------------------------------------------------------------


def test_event_context_after_the_attributes(tmp_path: Path) -> None:
    # MISP writes Tag and Galaxy after Attribute: pass 1 reads them first anyway.
    data = {"Event": {
        "id": 8,
        "Attribute": [attribute("domain", "evil.example", comment="C&C",
                                Tag=[{"name": "kill-chain:c2"}, {"name": "tlp:white"}],
                                Galaxy=[{"GalaxyCluster": [{"value": "Zebrocy"}]}])],
        "info": "Zebrocy campaign",
        "uuid": "5ce6b1e9-0000-4000-8000-000000000001",
        "Tag": [{"name": "tlp:white"}, {"name": "misp-galaxy:threat-actor=\"Sofacy\""}],
        "Galaxy": [{"GalaxyCluster": [{"value": "Sofacy"}, {"value": "APT28"}]}],
    }}
    [record], _ = read(write(tmp_path / "e.json", data))
    assert record.context == {
        "event": "Zebrocy campaign",
        "event_uuid": "5ce6b1e9-0000-4000-8000-000000000001",
        "event_id": "8",
        "tags": ["tlp:white", "misp-galaxy:threat-actor=\"Sofacy\"", "kill-chain:c2"],
        "galaxies": ["Sofacy", "APT28", "Zebrocy"],
        "attribute_type": "domain",
        "attribute_category": "Network activity",
        "comment": "C&C",
    }
    assert msgspec.json.decode(msgspec.json.encode(record.context)) == record.context
    assert record.feed == "e.json"
    assert record.category == "e"
    assert record.allow is False


def test_times(tmp_path: Path) -> None:
    data = {"Event": {"Attribute": [
        attribute("domain", "a.example"),  # timestamp only: it is the last seen
        attribute("domain", "b.example", first_seen="2019-05-23T00:00:00.000000+00:00",
                  last_seen="2019-05-24T00:00:00Z"),
        attribute("domain", "c.example", timestamp=1558612800),
        attribute("domain", "d.example", timestamp="not a time", first_seen="yesterday"),
        attribute("domain", "e.example", timestamp="9" * 30, first_seen="2019-05-23"),
        attribute("domain", "f.example", timestamp=-5, last_seen=True),
    ]}}
    records, _ = read(write(tmp_path / "e.json", data))
    times = {r.value: (r.first_seen, r.last_seen) for r in records}
    assert times == {
        "a.example": (None, 1558612800.0),
        "b.example": (1558569600.0, 1558656000.0),
        "c.example": (None, 1558612800.0),
        "d.example": (None, None),
        "e.example": (1558569600.0, None),  # a date without a zone is UTC
        "f.example": (None, None),
    }


def test_objects(tmp_path: Path) -> None:
    file_object = {"name": "file", "Attribute": [
        attribute("filename", "dropper.exe", object_relation="filename"),
        attribute("md5", MD5, object_relation="md5"),
        attribute("sha256", SHA256, object_relation="sha256", to_ids=False),
    ]}
    data = {"Event": {"info": "objects", "Object": [
        file_object,
        {"name": "domain-ip", "Attribute": [attribute("domain", "obj.example"),
                                            attribute("ip-dst", "198.51.100.9")]},
        {"name": "gone", "deleted": True, "Attribute": [attribute("domain", "x.example")]},
        {"name": "empty"},
        "not an object",
    ]}}
    records, report = read(write(tmp_path / "e.json", data))
    assert [(r.value, r.context.get("object"), r.context.get("filename")) for r in records] == [
        (MD5, "file", "dropper.exe"),
        ("obj.example", "domain-ip", None),
        ("198.51.100.9", "domain-ip", None),
    ]
    assert records[0].context["event"] == "objects"
    assert dict(report.skipped) == {"unsupported attribute type filename": 1, "not to_ids": 1,
                                    "deleted object": 1, "object not a JSON object": 1}


def test_allow_feed(tmp_path: Path) -> None:
    path = write(tmp_path / "e.json", {"Event": {"Attribute": [attribute("domain", "a.example")]}})
    report = FeedReport()
    [record] = read_misp(path, feed_of(path, allow=True, name="known-good", category="ok"),
                         report)
    assert (record.allow, record.feed, record.category) == (True, "known-good", "ok")


# -- wrappers and several events ----------------------------------------------------------------


def test_response_wrapper_with_several_events(tmp_path: Path) -> None:
    events = [
        {"info": "first", "Attribute": [attribute("domain", "one.example"),
                                        attribute("domain", "two.example")],
         "Object": [{"name": "o", "Attribute": [attribute("md5", MD5)]}],
         "Tag": [{"name": "t1"}]},
        {"info": "second", "Attribute": [], "Tag": [{"name": "t2"}]},
        {"info": "third", "Attribute": [attribute("domain", "three.example")],
         "Object": [{"name": "p", "Attribute": [attribute("sha1", SHA1)]}]},
    ]
    path = write(tmp_path / "r.json", {"response": [{"Event": e} for e in events]})
    records, _ = read(path)
    assert [(r.value, r.context["event"], r.context.get("tags")) for r in records] == [
        ("one.example", "first", ["t1"]),
        ("two.example", "first", ["t1"]),
        ("three.example", "third", None),
        (MD5, "first", ["t1"]),
        (SHA1, "third", None),
    ]
    listed = write(tmp_path / "l.json", [{"Event": e} for e in events])
    assert [(r.value, r.context) for r in read(listed)[0]] == [
        (r.value, r.context) for r in records]


@pytest.mark.parametrize("data", [{"response": []}, []])
def test_empty_wrappers(tmp_path: Path, data: Any) -> None:
    assert read(write(tmp_path / "e.json", data))[0] == []


# -- feed folders --------------------------------------------------------------------------------

UUID_A = "5cb88eb5-ba84-40a8-a31d-01c00a016219"
UUID_B = "5908888b-0154-4a69-b0b2-72090a016219"
UUID_GONE = "58503e2f-4c78-442d-833f-8ad202de0b81"


def make_feed(folder: Path) -> Path:
    folder.mkdir()
    manifest = {uuid: {"info": info, "Orgc": {"name": "ESET"}, "Tag": [], "timestamp": "1"}
                for uuid, info in ((UUID_A, "a"), (UUID_GONE, "gone"), (UUID_B, "b"),
                                   ("../../etc/passwd", "escape"))}
    write(folder / "manifest.json", manifest)
    write(folder / f"{UUID_A}.json", {"Event": {"info": "a", "uuid": UUID_A, "Attribute": [
        attribute("domain", "a.example"), attribute("ip-dst", "198.51.100.1")]}})
    write(folder / f"{UUID_B}.json", {"Event": {"info": "b", "uuid": UUID_B, "Attribute": [
        attribute("url", "http://b.example/x")]}})
    write(folder / "5d000000-0000-4000-8000-000000000000.json",  # not in the manifest
          {"Event": {"info": "unlisted", "Attribute": [attribute("domain", "no.example")]}})
    write(folder / "hashes.csv", "not read")
    return folder


@pytest.mark.parametrize("given_as", ["folder", "manifest"])
def test_feed_folder(tmp_path: Path, given_as: str) -> None:
    folder = make_feed(tmp_path / "feed")
    path = folder if given_as == "folder" else folder / "manifest.json"
    records, report = read(path)
    assert [(r.value, r.context["event"], r.context["event_uuid"]) for r in records] == [
        ("a.example", "a", UUID_A),
        ("198.51.100.1", "a", UUID_A),
        ("http://b.example/x", "b", UUID_B),
    ]
    assert dict(report.skipped) == {"event file missing": 1,
                                    "manifest key not an event uuid": 1}
    assert report.samples == [f"event file missing: {UUID_GONE}.json",
                              "manifest key not an event uuid: ../../etc/passwd"]


def test_feed_folder_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FeedParseError, match=r"manifest.json: cannot read"):
        read(empty)
    write(empty / "manifest.json", ["not", "a", "manifest"])
    with pytest.raises(FeedParseError, match=r"manifest.json: a MISP feed manifest"):
        read(empty)
    folder = make_feed(tmp_path / "feed")
    (folder / f"{UUID_B}.json").write_bytes(b'{"Event": {"Attribute": [')
    with pytest.raises(FeedParseError, match=f"{UUID_B}.json: malformed JSON"):
        read(folder)


# -- malformed files ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "malformed JSON"),
        (b"{\"Event\": {\"Attribute\": [", "malformed JSON"),
        (b"{\"Event\": {\"info\": \"\xff\"}}", "malformed JSON"),
        (b"\xef\xbb\xbf{\"Event\": {}}", "malformed JSON"),
        (b"{} {}", "malformed JSON"),
        (b"{\"Event\": 1}", "no MISP event"),
        (b"{\"response\": {\"Event\": {}}}", "no MISP event"),
        (b"42", "no MISP event"),
        (b"{\"Event\": " + b"[" * 5000 + b"]" * 5000 + b"}", "nested too deeply"),
    ],
)
def test_malformed_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(FeedParseError, match=f"^bad.json: {message}"):
        read(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FeedParseError, match=r"nothing.json: cannot read"):
        read(tmp_path / "nothing.json")


def test_streaming_keeps_one_attribute_at_a_time(tmp_path: Path) -> None:
    attributes = [attribute("ip-dst", f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
                            uuid=f"5bbe5d1c-d100-42cc-bda4-{i:012d}", comment="C&C server")
                  for i in range(10_000)]
    path = write(tmp_path / "big.json", {"Event": {"Attribute": attributes, "info": "big"}})
    del attributes
    tracemalloc.start()
    try:
        count = sum(1 for _ in read_misp(path, feed_of(path), FeedReport()))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 10_000
    assert peak < 3_000_000  # json.load of this 2.3 MB file peaks at about 10 MB


# -- property: only records or FeedParseError -------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                 max_size=4),
    max_leaves=12,
)
TYPES = st.sampled_from(["ip-dst", "ip-src|port", "domain", "domain|ip", "url", "uri", "md5",
                         "filename|sha256", "email-src", "hostname", "text", "sha512"])
ATTRIBUTE = st.fixed_dictionaries(
    {"type": TYPES | JSON, "value": st.text(max_size=40) | JSON},
    optional={"to_ids": JSON, "deleted": JSON, "timestamp": st.text(max_size=12) | JSON,
              "first_seen": st.text(max_size=30) | JSON, "last_seen": JSON,
              "comment": JSON, "category": JSON,
              "Tag": st.lists(st.fixed_dictionaries({"name": JSON}), max_size=2) | JSON,
              "Galaxy": JSON},
) | JSON
OBJECT = st.fixed_dictionaries(
    {}, optional={"name": JSON, "deleted": JSON,
                  "Attribute": st.lists(ATTRIBUTE, max_size=4) | JSON}) | JSON
EVENT = st.fixed_dictionaries(
    {}, optional={"info": JSON, "uuid": JSON, "id": JSON,
                  "Tag": st.lists(st.fixed_dictionaries({"name": JSON}), max_size=2) | JSON,
                  "Galaxy": st.lists(st.fixed_dictionaries(
                      {"GalaxyCluster": st.lists(st.fixed_dictionaries({"value": JSON}))}))
                  | JSON,
                  "Attribute": st.lists(ATTRIBUTE, max_size=6) | JSON,
                  "Object": st.lists(OBJECT, max_size=3) | JSON})
DOCUMENT = (st.builds(lambda e: {"Event": e}, EVENT)
            | st.builds(lambda es: {"response": [{"Event": e} for e in es]},
                        st.lists(EVENT, max_size=3))
            | JSON)


def check_only_records(path: Path, **settings: Any) -> None:
    try:
        records, _ = read(path, **settings)
    except FeedParseError as exc:
        assert "bad.json" in str(exc)
        return
    for record in records:
        assert isinstance(record.value, str) and record.value.strip()
        assert record.kind in KINDS
        for value in record.context.values():
            assert isinstance(value, str | int) or (
                isinstance(value, list) and all(isinstance(v, str) for v in value))
        msgspec.json.encode(record.context)
        for moment in (record.first_seen, record.last_seen):
            assert moment is None or moment > 0
    SnapshotBuilder().add_all(records)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("misp") / "bad.json"


@given(content=st.binary(max_size=300))
def test_any_bytes(scratch: Path, content: bytes) -> None:
    scratch.write_bytes(content)
    check_only_records(scratch)


@given(document=DOCUMENT, to_ids_only=st.booleans())
def test_any_json_document(scratch: Path, document: Any, to_ids_only: bool) -> None:
    scratch.write_text(json.dumps(document), encoding="utf-8")
    check_only_records(scratch, to_ids_only=to_ids_only)


# -- the real ESET events (../shared/data/feeds/eset-malware-ioc) -----------------------------

# Independent check of the counts below (jq, every attribute incl. objects; none is deleted):
#   jq -c '[(.Event // .response[].Event) | (.Attribute + [.Object[]?.Attribute[]])[]
#           | {t: .type, i: .to_ids}] | group_by(.) | map({(.[0].t+"/"+(.[0].i|tostring)):
#           length}) | add' FILE
# e.g. wateringhole: domain/false 21, domain|ip/false 49, sha1/false 2, url/false 1,
# comment/false 2 -> 70 domains and 49 IPs once domain|ip is split; telebots: ip-dst/true 3,
# md5/true 15, sha1/true 36, sha256/true 15, hostname/false 3, ip-dst/false 6, link 16,
# comment 1. Only telebots marks attributes to_ids.
ESET = {
    # file: (wrapper, counts with to_ids only, counts of every attribute, skipped with to_ids)
    "oceanlotus_oceanlotus-macOS.misp.event.json": (
        "response", {}, {"domain": 3, "sha1": 1},
        {"unsupported attribute type text": 1, "unsupported attribute type filename": 3,
         "not to_ids": 5}),
    "oceanlotus_oceanlotus-wateringhole-2018.misp.event.json": (
        "response", {}, {"domain": 70, "ipv4": 49, "url": 1, "sha1": 2},
        {"unsupported attribute type comment": 2, "not to_ids": 73}),
    "oceanlotus_oceanlotus.misp.event.json": (
        "response", {}, {"domain": 65, "ipv4": 25, "sha1": 5},
        {"unsupported attribute type text": 7, "unsupported attribute type filename": 8,
         "unsupported attribute type regkey": 1, "unsupported attribute type regkey|value": 3,
         "not to_ids": 92}),
    "sednit_2017-05-09_Trump_Attack_on_Syria_IoCs.json": (
        "response", {}, {"md5": 5, "sha1": 5, "sha256": 5},
        {"unsupported attribute type text": 6, "unsupported attribute type mutex": 1,
         "unsupported attribute type regkey|value": 1, "not to_ids": 15}),
    "sednit_2019-05-23_Zebrocy.json": (
        "response", {}, {"url": 2, "md5": 3, "sha1": 3, "sha256": 3},
        {"unsupported attribute type link": 1, "not to_ids": 11}),
    "sshdoor_misp-events_endor.json": (
        "Event", {}, {"sha1": 11},
        {"unsupported attribute type text": 12, "unsupported attribute type filename": 7,
         "unsupported attribute type email-dst": 1, "not to_ids": 11}),
    "sshdoor_misp-events_kessel.json": (
        "Event", {}, {"domain": 1, "sha1": 2},
        {"unsupported attribute type text": 1, "unsupported attribute type port": 3,
         "unsupported attribute type filename": 1, "not to_ids": 3}),
    "telebots_misp-telebots.json": (
        "response", {"ipv4": 3, "md5": 15, "sha1": 36, "sha256": 15},
        {"domain": 3, "ipv4": 9, "md5": 15, "sha1": 36, "sha256": 15},
        {"unsupported attribute type comment": 1, "unsupported attribute type link": 16,
         "not to_ids": 9}),
    "turla_misp-turla-outlook-event.json": (
        "response", {}, {"url": 1, "sha1": 4},
        {"unsupported attribute type filename": 4, "unsupported attribute type regkey": 3,
         "not to_ids": 5}),
}


def eset(shared_data: Path, name: str) -> Path:
    return shared_data / "feeds" / "eset-malware-ioc" / name


def built(records: list[IndicatorRecord]) -> SnapshotBuilder:
    builder = SnapshotBuilder()
    builder.add_all(records)
    assert builder.rejected == 0, builder.reject_samples
    return builder


@pytest.mark.parametrize("name", sorted(ESET))
def test_eset_counts(shared_data: Path, name: str) -> None:
    wrapper, to_ids, everything, skipped = ESET[name]
    path = eset(shared_data, name)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert list(document) == [wrapper]
    events = [document["Event"]] if wrapper == "Event" else [
        item["Event"] for item in document["response"]]
    attributes = [a for e in events for a in e["Attribute"]]

    records, report = read(path)
    assert built(records).counts == to_ids
    assert dict(report.skipped) == skipped

    records, report = read(path, to_ids_only=False)
    assert built(records).counts == everything
    expected = {k: v for k, v in skipped.items() if k != "not to_ids"}
    if name == "oceanlotus_oceanlotus-macOS.misp.event.json":
        expected["uri without a host"] = 1  # "/dp/B074WC4NHW/ref=..."
    assert dict(report.skipped) == expected
    # every attribute is accounted for: one record each (two for domain|ip) or one skip
    pairs = sum(a["type"] == "domain|ip" for a in attributes)
    assert len(records) - pairs + report.skipped_total == len(attributes)


def test_eset_domain_ip_split(shared_data: Path) -> None:
    records, _ = read(eset(shared_data, "oceanlotus_oceanlotus-wateringhole-2018.misp.event.json"),
                      to_ids_only=False)
    pair = [r for r in records if r.context["attribute_type"] == "domain|ip"
            and "ad-appier.com" in (r.value, r.context.get("domain"))]
    assert [(r.value, r.kind, r.context.get("ip"), r.context.get("domain")) for r in pair] == [
        ("ad-appier.com", "domain", "178.128.90.66", None),
        ("178.128.90.66", "cidr", None, "ad-appier.com"),
    ]
    assert pair[0].context["comment"] == "2nd stage"
    assert pair[0].context["galaxies"] == ["APT32"]
    assert pair[0].context["event"] == "OceanLotus - WateringHole - Framework B 2018"


def test_eset_filename_hash_context(shared_data: Path) -> None:
    records, _ = read(eset(shared_data, "sednit_2017-05-09_Trump_Attack_on_Syria_IoCs.json"),
                      to_ids_only=False)
    by_value = {r.value: r for r in records}
    record = by_value["f8e92d8b5488ea76c40601c8f1a08790"]
    assert record.kind == "md5"
    assert record.context["filename"] == "Trump's_Attack_on_Syria_English.docx"
    assert record.context["attribute_type"] == "filename|md5"
    assert record.context["tags"] == ["Sednit", "misp-galaxy:threat-actor=\"Sofacy\""]
    assert record.context["galaxies"] == ["Sofacy"]
    assert record.last_seen == 1493731681.0  # the attribute's timestamp
    sha256 = by_value["2e75deac828111d224c2e6f08662a25e6ccf1c2b7aa938d8d35ae08560ae278a"]
    assert (sha256.kind, sha256.context["filename"]) == ("sha256", "image1.eps")


def test_eset_telebots_lookup(shared_data: Path) -> None:
    path = eset(shared_data, "telebots_misp-telebots.json")
    records, _ = read(path)
    snapshot = build_memory_snapshot(records)
    [match] = snapshot.lookup("95.141.37.3").matches
    assert match.feed == "telebots_misp-telebots.json"
    assert match.category == "telebots_misp-telebots"
    assert match.context["event"] == (
        "OSINT - The rise of TeleBots: Analyzing disruptive KillDisk attacks")
    assert match.context["galaxies"] == ["TeleBots"]
    assert match.context["comment"] == "C&C Server"
    assert [m.explain() for m in snapshot.lookup("http://95.141.37.3/gate").matches] == [
        "url-host exact 95.141.37.3"]
    # "Legitimate servers abused by malware authors": not to_ids, so not read by default
    assert not snapshot.lookup("149.154.167.197").detected
    assert not snapshot.lookup("api.telegram.org").detected
    everything = build_memory_snapshot(read(path, to_ids_only=False)[0])
    assert everything.lookup("api.telegram.org").detected


def test_eset_kinds_are_counted_per_type(shared_data: Path) -> None:
    records, _ = read(eset(shared_data, "telebots_misp-telebots.json"))
    assert Counter(r.context["attribute_type"] for r in records) == {
        "ip-dst": 3, "md5": 15, "sha1": 36, "sha256": 15}
