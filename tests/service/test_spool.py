"""The output spool (segments, committed offset, restart, bounds) and syslog framing."""

from __future__ import annotations

import calendar
import os
import re
import time
from pathlib import Path

import pytest

from trapline.errors import ConfigError
from trapline.service.framing import Framer, header_field
from trapline.service.spool import Spool, SpoolError
from trapline.service.syslog_output import SyslogSink


def drain(spool: Spool, max_lines: int = 1000) -> list[bytes]:
    out: list[bytes] = []
    while (found := spool.read(max_lines, 4096)) is not None:
        out.extend(found[0])
        spool.commit(found[1])
    return out


def segments(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.glob("*.seg"))


def test_append_read_commit_and_rewind(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    assert spool.read(10, 4096) is None
    assert spool.append([("e1", b"one"), ("e2", b"two")])
    assert spool.append([("e3", b"three")])
    messages, position = spool.read(2, 4096) or ([], (0, 0))
    assert messages == [b"one", b"two"]
    spool.rewind()  # nothing committed yet: the same again
    assert spool.read(2, 4096) == (messages, position)
    spool.commit(position)
    spool.rewind()
    assert spool.read(10, 4096) == ([b"three"], (position[0], position[1] + len(b"e3\tthree\n")))
    spool.close()


def test_a_restart_resumes_from_the_committed_offset(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append([(f"e{i}", f"line {i}".encode()) for i in range(10)])
    _, position = spool.read(4, 4096) or ([], (0, 0))
    spool.commit(position)
    spool.read(4, 4096)  # read, never acknowledged
    spool.close()
    again = Spool(tmp_path)
    assert drain(again) == [f"line {i}".encode() for i in range(4, 10)]
    again.append([("e10", b"line 10")])
    assert drain(again) == [b"line 10"]
    again.close()
    assert drain(Spool(tmp_path)) == []


def test_segments_rotate_and_are_deleted_once_delivered(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_bytes=1000)
    for i in range(100):
        assert spool.append([(f"e{i}", b"x" * 50)])
    assert len(segments(tmp_path)) >= 6
    assert len(drain(spool, 7)) == 100
    assert len(segments(tmp_path)) <= 1
    assert spool.pending_bytes == 0
    spool.close()


def test_a_partial_record_at_a_segments_end_is_skipped(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append([("e1", b"whole")])
    spool.close()
    (first,) = segments(tmp_path)
    with open(tmp_path / first, "ab") as out:
        out.write(b"e2\tcut by a cra")  # a write that a crash or a full disk cut short
    spool = Spool(tmp_path)
    spool.append([("e3", b"after")])
    assert drain(spool) == [b"whole", b"after"]
    assert spool.corrupt == 1
    spool.close()


def test_records_longer_than_one_read(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    big = b"y" * 20_000
    spool.append([("e1", big), ("e2", b"small")])
    assert drain(spool) == [big, b"small"]
    spool.close()


def test_the_spool_is_bounded(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=1000)
    assert spool.append([("e", b"x" * 400)])
    assert spool.append([("e", b"x" * 400)])
    assert not spool.append([("e", b"x" * 400)])
    drain(spool)  # delivered: the space comes back once segments go
    spool.close()


def test_one_process_per_spool(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    with pytest.raises(SpoolError, match="in use"):
        Spool(tmp_path)
    spool.close()
    Spool(tmp_path).close()


def test_an_unusable_spool_folder(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(SpoolError):
        Spool(tmp_path / "file" / "spool")


# --- framing -------------------------------------------------------------------------------

APR16 = calendar.timegm((2024, 4, 16, 9, 5, 41)) + 0.25


def test_raw_framing_is_the_line() -> None:
    assert Framer("raw").frame("Category=X", "e1", 4, APR16) == "Category=X"


def test_rfc5424_framing() -> None:
    framer = Framer("rfc5424", facility=1, app_name="trapline", hostname="ti-node", procid=42)
    assert framer.frame("Category=X", "w1-abc-1", 4, APR16) == (
        "<12>1 2024-04-16T09:05:41.250Z ti-node trapline 42 w1-abc-1 - Category=X")
    assert Framer("rfc5424", facility=16, hostname="h", procid=1).frame("m", "", 6, APR16) == (
        "<134>1 2024-04-16T09:05:41.250Z h trapline 1 - - m")


def test_rfc3164_framing_local_time_space_padded_day() -> None:
    stamp = time.mktime((2024, 4, 6, 9, 5, 41, 0, 0, -1))
    framer = Framer("rfc3164", hostname="ti-node", procid=42)
    assert framer.frame("Category=X", "e1", 5, stamp) == (
        "<13>Apr  6 09:05:41 ti-node trapline[42]: Category=X")


def test_header_fields_are_printable_ascii() -> None:
    assert header_field("my host\tname", 255) == "my_host_name"
    assert header_field("", 32) == "-"
    assert header_field("x" * 40, 32) == "x" * 32
    framer = Framer("rfc5424", hostname="héllo wörld")
    assert re.match(r"<12>1 \S+ h_llo_w_rld trapline \d+ - - m$", framer.frame("m", "", 4))


def test_framing_is_checked() -> None:
    with pytest.raises(ConfigError, match="framing"):
        Framer("cef")


@pytest.mark.parametrize(("option", "value", "message"), [
    ("protocol", "sctp", "tcp or udp"), ("framing", "json", "raw, rfc5424 or rfc3164"),
    ("retries", 11, "0 to 10"), ("retries", -1, "0 to 10"),
    ("retry_interval", 61, "0 to 60"), ("queue_size", 0, "queue_size"),
    ("facility", 24, "facility"), ("severity", 8, "severities"),
])
def test_sink_settings_are_checked(option: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        SyslogSink("127.0.0.1", 9, **{option: value})  # type: ignore[arg-type]


def test_spool_files_are_private(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s")
    spool.append([("e", b"secret detection")])
    (segment,) = segments(tmp_path / "s")
    assert os.stat(tmp_path / "s" / segment).st_mode & 0o077 == 0
    spool.close()
