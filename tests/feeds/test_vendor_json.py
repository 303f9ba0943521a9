"""Vendor JSON feeds: field mapping, nested fields, context, lifecycle, and bad input."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trapline.errors import FeedParseError
from trapline.feeds.config import feed_from_dict
from trapline.feeds.report import FeedReport
from trapline.feeds.vendor_json import flatten, read_vendor_json
from trapline.index import build_memory_snapshot

PHISHING = {"id": 107722881, "type": 20, "mask": "abid-sh84.github.io/netflixclone/*",
            "industry": "E-shop", "first_seen": "19.05.2024 08:32", "popularity": 1,
            "whois": {"country": "US", "registrar": {"name": "Example Registrar"}}}
BOTNET = {"id": 7, "url": "http://c2.example/gate.php", "confidence": 80,
          "files": [{"MD5": "776735A8CA96DB15B422879DA599F474", "size": 10},
                    {"SHA256": "a" * 64, "size": 20}]}


def write(tmp_path: Path, data: Any, name: str = "feed.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data) if not isinstance(data, str) else data, encoding="utf-8")
    return path


def read(path: Path, **settings: Any) -> tuple[list, FeedReport]:
    feed = feed_from_dict({"source": str(path), **settings})
    report = FeedReport()
    return list(read_vendor_json(path, feed, report)), report


def test_default_fields_and_context(tmp_path: Path) -> None:
    records, report = read(write(tmp_path, [PHISHING]))
    assert len(records) == 1 and not report.skipped
    record = records[0]
    assert record.value == "abid-sh84.github.io/netflixclone/*" and record.kind is None
    assert record.feed == "feed.json" and record.category == "feed"
    assert record.first_seen == 1716107520.0  # 19.05.2024 08:32 UTC
    assert record.context == {"id": 107722881, "type": 20, "industry": "E-shop",
                              "popularity": 1, "whois.country": "US",
                              "whois.registrar.name": "Example Registrar"}


def test_nested_fields_through_lists_each_with_its_kind_and_category(tmp_path: Path) -> None:
    fields = {"url": {"kind": "url"},
              "files/MD5": {"kind": "md5", "category": "Botnet_Hash"},
              "files/SHA256": {"kind": "sha256", "category": "Botnet_Hash"}}
    records, _ = read(write(tmp_path, [BOTNET]), fields=fields, category="Botnet_URL")
    assert [(r.value, r.kind, r.category) for r in records] == [
        ("http://c2.example/gate.php", "url", "Botnet_URL"),
        ("776735A8CA96DB15B422879DA599F474", "md5", "Botnet_Hash"),
        ("a" * 64, "sha256", "Botnet_Hash")]
    # Mapped fields leave the context; the rest of the nested objects stays, flattened.
    assert records[0].context == {"id": 7, "files.size": [10, 20]}
    assert all(r.confidence == 80 for r in records)


def test_field_names_are_case_sensitive(tmp_path: Path) -> None:
    records, report = read(write(tmp_path, [{"URL": "http://x.example/"}]),
                           fields={"url": {}})
    assert records == [] and report.skipped["record has none of the mapped fields"] == 1


def test_records_that_are_not_objects_are_counted(tmp_path: Path) -> None:
    records, report = read(write(tmp_path, [PHISHING, 5, "x", None, [1], {"other": 1}]))
    assert len(records) == 1
    assert report.skipped == {"record is not a JSON object": 4,
                              "record has none of the mapped fields": 1}


@pytest.mark.parametrize("text", ['{"mask": "x.example"}', "", "not json", '[{"mask": "a.b"}',
                                  '[{"mask": "a.example"}, {"mask": ]', "[9223372036854775808]"])
def test_malformed_files_raise_feed_parse_error(tmp_path: Path, text: str) -> None:
    with pytest.raises(FeedParseError, match=r"feed\.json"):
        read(write(tmp_path, text))


def test_truncated_file_yields_what_came_before_then_fails(tmp_path: Path) -> None:
    """The updater refuses the whole feed; the records before the cut must not matter."""
    path = write(tmp_path, json.dumps([{"mask": f"h{i}.example"} for i in range(100)])[:-40])
    feed = feed_from_dict({"source": str(path)})
    seen = []
    with pytest.raises(FeedParseError):
        seen.extend(read_vendor_json(path, feed, FeedReport()))
    assert 90 < len(seen) < 100


def test_flatten_caps_depth_and_text() -> None:
    deep: dict[str, Any] = {"leaf": 1}
    for _ in range(50):
        deep = {"n": deep}
    flat = flatten({"deep": deep, "long": "x" * 5000})
    assert len(flat["long"]) == 1003
    assert any(value == "..." for value in flat.values())


def test_a_large_feed_is_streamed(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    with open(path, "w") as handle:
        handle.write("[")
        handle.write(",".join(json.dumps({"ip": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",
                                          "score": i}) for i in range(50_000)))
        handle.write("]")
    records, _ = read(path)
    assert len(records) == 50_000
    snapshot = build_memory_snapshot(records)
    assert snapshot.lookup("10.0.195.79").matches[0].context == {"score": 195 * 256 + 79}


@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_feed_parse_error(data: bytes) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.json"
        path.write_bytes(b"[" + data)
        with contextlib.suppress(FeedParseError):
            read(path)


json_values = st.recursive(
    # yajl reads integers as 64-bit: a bigger one is a FeedParseError, tested above.
    st.none() | st.booleans() | st.integers(-(2**63) + 1, 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["mask", "url", "ip", "files", "MD5", "whois", "x"]), inner,
        max_size=4),
    max_leaves=20)


@given(st.lists(json_values, max_size=10))
def test_arbitrary_json_records_never_crash(records: list[Any]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.json"
        path.write_text(json.dumps(records))
        parsed, _ = read(path)
        build_memory_snapshot(parsed)


@pytest.mark.parametrize("bomb", [b"[" * 1_000_000, b"[" + b'{"a":' * 1_000_000])
def test_deep_nesting_is_refused_early(tmp_path: Path, bomb: bytes) -> None:
    path = tmp_path / "deep.json"
    path.write_bytes(bomb)
    with pytest.raises(FeedParseError, match="nested too deeply"):
        read(path)


def test_context_fields_keep_only_the_named_fields(tmp_path: Path) -> None:
    records, _ = read(write(tmp_path, [PHISHING]), context_fields=["industry", "whois.country"])
    assert records[0].context == {"industry": "E-shop", "whois.country": "US"}
    records, _ = read(write(tmp_path, [PHISHING]), context_fields=["whois"])
    assert records[0].context == {"whois.country": "US",
                                  "whois.registrar.name": "Example Registrar"}
