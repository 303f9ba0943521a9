"""Unpacking: layers, limits on actual bytes, flat memory, hostile member names."""

from __future__ import annotations

import gzip
import io
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from trapline.errors import FeedFetchError, FeedRefused
from trapline.feeds.config import MiB
from trapline.feeds.report import FeedReport
from trapline.feeds.unpack import MAX_LAYERS, gunzip, sniff, unpack, unzip

DATA = b"evil.example\n"


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(zipfile.ZipInfo(name), data, zipfile.ZIP_DEFLATED)
    return path


def _zeros_gz(path: Path, megabytes: int) -> Path:
    zeros = bytes(MiB)
    with gzip.open(path, "wb", compresslevel=1) as out:
        for _ in range(megabytes):
            out.write(zeros)
    return path


def test_sniff_uses_magic_bytes_not_names(tmp_path: Path) -> None:
    (tmp_path / "list.zip").write_bytes(DATA)
    (tmp_path / "list.txt").write_bytes(gzip.compress(DATA))
    _zip(tmp_path / "real.bin", {"a.txt": DATA})
    (tmp_path / "empty").write_bytes(b"")
    assert sniff(tmp_path / "list.zip") is None
    assert sniff(tmp_path / "list.txt") == "gzip"
    assert sniff(tmp_path / "real.bin") == "zip"
    assert sniff(tmp_path / "empty") is None


def test_plain_file_is_returned_untouched(tmp_path: Path) -> None:
    (tmp_path / "list.txt").write_bytes(DATA)
    assert unpack(tmp_path / "list.txt", tmp_path / "w", max_bytes=MiB) == tmp_path / "list.txt"


def test_nested_layers(tmp_path: Path) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as archive:
        archive.writestr("list.txt", DATA)
    (tmp_path / "feed.zip.gz").write_bytes(gzip.compress(inner.getvalue()))
    report = FeedReport()
    path = unpack(tmp_path / "feed.zip.gz", tmp_path / "w", max_bytes=MiB, report=report)
    assert path.read_bytes() == DATA and report.notes["unpacked"] == "gzip+zip"


def test_too_many_layers_are_refused(tmp_path: Path) -> None:
    data = DATA
    for _ in range(MAX_LAYERS + 1):
        data = gzip.compress(data)
    (tmp_path / "deep.gz").write_bytes(data)
    with pytest.raises(FeedRefused, match="nested archives"):
        unpack(tmp_path / "deep.gz", tmp_path / "w", max_bytes=MiB)


def test_multi_member_gzip_is_read_whole(tmp_path: Path) -> None:
    (tmp_path / "two.gz").write_bytes(gzip.compress(b"a.example\n") + gzip.compress(DATA))
    assert gunzip(tmp_path / "two.gz", tmp_path / "out", max_bytes=MiB) == 10 + len(DATA)
    assert (tmp_path / "out").read_bytes() == b"a.example\n" + DATA


def test_gzip_bomb_memory_stays_flat(tmp_path: Path) -> None:
    bomb = _zeros_gz(tmp_path / "bomb.gz", 64)
    tracemalloc.start()
    try:
        with pytest.raises(FeedRefused, match="decompression bomb"):
            gunzip(bomb, tmp_path / "out", max_bytes=48 * MiB)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * MiB
    assert (tmp_path / "out").stat().st_size <= 48 * MiB


def test_zip_bomb_memory_stays_flat(tmp_path: Path) -> None:
    zeros = bytes(MiB)
    with zipfile.ZipFile(tmp_path / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as archive, \
            archive.open("zeros.txt", "w") as out:
        for _ in range(64):
            out.write(zeros)
    tracemalloc.start()
    try:
        with pytest.raises(FeedRefused, match="decompression bomb"):
            unzip(tmp_path / "bomb.zip", tmp_path / "out", max_bytes=48 * MiB)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * MiB


def test_declared_sizes_are_not_trusted(tmp_path: Path) -> None:
    # Patch the member's declared size (local header and central directory) to 1 byte:
    # extraction must fail or stay within what is counted, never write past the limit.
    path = _zip(tmp_path / "liar.zip", {"a.txt": bytes(4 * MiB)})
    raw = bytearray(path.read_bytes())
    real = (4 * MiB).to_bytes(4, "little")
    raw = raw.replace(real, (1).to_bytes(4, "little"))
    path.write_bytes(bytes(raw))
    with pytest.raises(FeedFetchError):
        unzip(path, tmp_path / "out", max_bytes=MiB)
    assert sum(f.stat().st_size for f in (tmp_path / "out").rglob("*") if f.is_file()) <= MiB


def test_zip_skips_directories_links_and_macos_metadata(tmp_path: Path) -> None:
    path = tmp_path / "mixed.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("dir/", b"")
        archive.writestr("dir/list.txt", DATA)
        archive.writestr("__MACOSX/dir/._list.txt", b"junk")
        archive.writestr("dir/.DS_Store", b"junk")
        link = zipfile.ZipInfo("dir/link")
        link.external_attr = (0o120777 << 16)
        archive.writestr(link, "/etc/passwd")
    report = FeedReport()
    files = unzip(path, tmp_path / "out", max_bytes=MiB, report=report)
    assert files == [tmp_path / "out" / "dir" / "list.txt"]
    assert report.notes["zip_skipped_members"] == "3"


def test_corrupt_and_empty_zips(tmp_path: Path) -> None:
    (tmp_path / "cut.zip").write_bytes(_zip(tmp_path / "ok.zip", {"a": DATA}).read_bytes()[:30])
    with pytest.raises(FeedFetchError, match="cannot unzip"):
        unpack(tmp_path / "cut.zip", tmp_path / "w1", max_bytes=MiB)
    with zipfile.ZipFile(tmp_path / "empty.zip", "w"):
        pass
    with pytest.raises(FeedFetchError, match="holds no file"):
        unpack(tmp_path / "empty.zip", tmp_path / "w2", max_bytes=MiB)
