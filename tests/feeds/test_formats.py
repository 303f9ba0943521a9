"""Recognising a feed's format by its content, and reading any file without crashing."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trapline.errors import FeedParseError
from trapline.feeds.config import feed_for_path
from trapline.feeds.formats import detect_format, read_feed
from trapline.feeds.report import FeedReport
from trapline.index import SnapshotBuilder

EXPECTED = {
    "ipsum/ipsum.txt": "plain",
    "ipsum/levels_5.txt": "plain",
    "threatfox-ips/ips.txt": "plain",
    "neo23x0-signature-base/c2-iocs.txt": "plain",
    "neo23x0-signature-base/hash-iocs.txt": "plain",
    "urlhaus-filter/urlhaus-filter-domains.txt": "plain",
    "urlhaus-filter/urlhaus-filter-hosts.txt": "plain",
    "urlhaus-filter/urlhaus-filter-online.txt": "plain",
    "urlhaus-filter/urlhaus-filter-splunk-online.first2000.csv": "csv",
    "feodotracker/ipblocklist.csv": "csv",
    "eset-malware-ioc/agrius_samples.sha256": "plain",
    "eset-malware-ioc/sednit_2019-05-23_Zebrocy.json": "misp",
    "eset-malware-ioc/oceanlotus_oceanlotus.misp.event.json": "misp",
    "eset-malware-ioc/telebots_misp-telebots.json": "misp",
    "stix21-oasis/poisonivy.json": "stix",
    "stix21-oasis/apt1.json": "stix",
    "misp-warninglists/rfc1918.json": "warninglist",
    "misp-warninglists/url-shortener.json": "warninglist",
    "urlhaus-filter/urlhaus-filter-suricata-online.first500.rules": "suricata",
    "eset-malware-ioc/windigo_windigo.ioc": "openioc",
}


@pytest.mark.parametrize(("name", "expected"), sorted(EXPECTED.items()))
def test_real_feeds_are_recognised(shared_data: Path, name: str, expected: str) -> None:
    assert detect_format(shared_data / "feeds" / name) == expected


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'[{"mask": "a.example"}]', "vendor-json"),
        (b'\xef\xbb\xbf  [{"ip": "192.0.2.1"}]', "vendor-json"),
        (b'{"type": "bundle", "id": "bundle--1", "objects": []}', "stix"),
        (b'{"id": "bundle--1", "objects": [], "type": "bundle"}', "stix"),
        (b'{"Event": {"info": "x", "Attribute": []}}', "misp"),
        (b'{"response": [{"Event": {}}]}', "misp"),
        (b'{"5a0b1a2c-1111-2222-3333-444455556666": {"info": "x"}}', "misp"),
        (b'{"name": "x", "type": "cidr", "list": ["10.0.0.0/8"]}', "warninglist"),
        (b"ip,port\n192.0.2.1,80\n", "csv"),
        (b"192.0.2.1,80\n", "plain"),
        (b"# comment\nevil.example\n", "plain"),
        (b'<?xml version="1.0"?>\n<!-- x --><ioc xmlns="http://schemas.mandiant.com/2010/ioc">',
         "openioc"),
        (b"<OpenIOC xmlns='http://openioc.org/schemas/OpenIOC_1.1'>", "openioc"),
        (b"# rules\nalert dns any any -> any any (dns.query; content:\"x.example\"; sid:1;)\n",
         "suricata"),
    ],
)
def test_detection_by_content(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "feed"
    path.write_bytes(content)
    assert detect_format(path) == expected


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"  \n\t", "empty"),
        (b"<!DOCTYPE html><html><body>Service Unavailable</body></html>", "HTML page"),
        (b"\x00\x01\x02binary", "binary"),
        (b'{"unrelated": true}', "not a STIX bundle"),
        (b'<?xml version="1.0"?><stix:STIX_Package>', "not an OpenIOC document"),
    ],
)
def test_unrecognisable_content_is_a_clear_error(tmp_path: Path, content: bytes,
                                                 message: str) -> None:
    path = tmp_path / "feed"
    path.write_bytes(content)
    with pytest.raises(FeedParseError, match=message):
        detect_format(path)


def test_a_folder_is_read_file_by_file(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("evil.example\n")
    (tmp_path / "b.csv").write_text("ip,note\n192.0.2.1,x\n")
    (tmp_path / ".hidden").write_text("hidden.example\n")
    feed = feed_for_path(tmp_path)
    values = [r.value for r in read_feed(tmp_path, feed, FeedReport())]
    assert values == ["evil.example", "192.0.2.1"]


def test_forced_format_wins_over_detection(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_text("ip,note\n192.0.2.1,x\n")
    records = list(read_feed(path, feed_for_path(path, format="plain"), FeedReport()))
    assert [r.value for r in records] == ["ip,note", "192.0.2.1"]  # a plain list: one value a line


@given(st.binary(max_size=300), st.sampled_from([b"", b"[", b"{", b'{"type": "bundle", ',
                                                  b'{"Event": ', b'{"list": [', b"ip,x\n",
                                                  b'<?xml version="1.0"?><ioc>']))
def test_any_bytes_raise_only_feed_parse_error(data: bytes, prefix: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "feed"
        path.write_bytes(prefix + data)
        builder = SnapshotBuilder()
        with contextlib.suppress(FeedParseError):
            builder.add_all(read_feed(path, feed_for_path(path), FeedReport()))
