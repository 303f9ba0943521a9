"""CSV feeds: headers found or taken from comments, column mapping, delimiters, bad rows."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trapline.errors import FeedParseError
from trapline.feeds.config import feed_from_dict
from trapline.feeds.csv_feed import read_csv
from trapline.feeds.report import FeedReport
from trapline.index import build_memory_snapshot


def read(path: Path, **settings: Any) -> tuple[list, FeedReport]:
    feed = feed_from_dict({"source": str(path), **settings})
    report = FeedReport()
    return list(read_csv(path, feed, report)), report


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "feed.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_feodo_tracker_csv_loads_as_it_is(shared_data: Path) -> None:
    records, report = read(shared_data / "feeds/feodotracker/ipblocklist.csv")
    assert len(records) == 28 and not report.skipped  # "# END 28 entries"
    first = records[0]
    assert first.value == "192.9.135.73"
    assert first.context == {"first_seen_utc": "2023-05-23 17:51:44", "dst_port": "1194",
                             "c2_status": "online", "last_online": "2024-04-01",
                             "malware": "Pikabot"}
    assert first.first_seen == 1684864304.0 and first.last_seen == 1711929600.0
    snapshot = build_memory_snapshot(records)
    assert snapshot.lookup("172.233.221.61").matches[0].context["malware"] == "Pikabot"


def test_urlhaus_splunk_csv(shared_data: Path) -> None:
    path = shared_data / "feeds/urlhaus-filter/urlhaus-filter-splunk-online.first2000.csv"
    records, _ = read(path)
    assert len(records) == 1993  # 2,000 lines less 6 comment lines and the header
    assert records[0].context["message"] == "urlhaus-filter malicious website detected"


def test_header_in_the_last_comment_line(tmp_path: Path) -> None:
    path = write(tmp_path, '# banner\n# "first_seen","url","threat"\n'
                           '"2024-01-01 00:00:00","http://a.example/x","malware"\n')
    records, _ = read(path)
    assert records[0].value == "http://a.example/x"
    assert records[0].context == {"first_seen": "2024-01-01 00:00:00", "threat": "malware"}


def test_no_header_columns_are_numbered(tmp_path: Path) -> None:
    records, _ = read(write(tmp_path, "198.51.100.1,scanner,5\n198.51.100.2,spam,3\n"))
    assert [r.value for r in records] == ["198.51.100.1", "198.51.100.2"]
    assert records[0].context == {"column2": "scanner", "column3": "5"}


def test_forced_header_value_kind_category_and_context_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "indicator;type;family;note;extra\n"
                           "evil.example;domain;Emotet;first;x\n"
                           "d41d8cd98f00b204e9800998ecf8427e;md5;Qbot;second;y\n")
    records, _ = read(path, csv={"delimiter": ";", "header": True, "value_column": "indicator",
                                 "kind_column": "type", "category_column": "family",
                                 "context_columns": ["note"]})
    assert [(r.value, r.kind, r.category, r.context) for r in records] == [
        ("evil.example", "domain", "Emotet", {"note": "first"}),
        ("d41d8cd98f00b204e9800998ecf8427e", "md5", "Qbot", {"note": "second"})]


def test_value_column_by_number_and_forced_kind(tmp_path: Path) -> None:
    records, _ = read(write(tmp_path, "x,198.51.100.0\n"), csv={"value_column": 1},
                      kind="cidr")
    assert records[0].value == "198.51.100.0" and records[0].kind == "cidr"


def test_rows_without_the_value_are_counted(tmp_path: Path) -> None:
    records, report = read(write(tmp_path, "ip,note\n198.51.100.1,a\n,b\n"))
    assert len(records) == 1
    assert report.skipped["row without a value in the value column"] == 1


def test_unknown_column_name_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FeedParseError, match="no column named 'nope'"):
        read(write(tmp_path, "ip,note\n198.51.100.1,a\n"), csv={"value_column": "nope"})


def test_a_huge_field_is_a_counted_bad_row(tmp_path: Path) -> None:
    path = write(tmp_path, "ip,note\n198.51.100.1,\"" + "x" * (2 << 20) + "\"\n198.51.100.2,b\n")
    records, report = read(path)
    assert report.skipped["malformed CSV row"] >= 1
    assert [r.value for r in records][-1:] == ["198.51.100.2"]


@given(st.binary(max_size=400))
def test_arbitrary_bytes_raise_only_feed_parse_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.csv"
        path.write_bytes(data)
        with contextlib.suppress(FeedParseError):
            read(path)
