"""Unpacking gzip and zip feed files, with limits a decompression bomb cannot pass.

A file is recognised by its magic bytes, never its name. Decompressed bytes
are counted as they are written, in 1 MiB chunks, so memory stays flat and a
bomb is refused as soon as it passes the limit; sizes declared in archive
headers are never trusted. Zip member names that would escape the output
folder (``../x``, ``/etc/x``, ``C:\\x``) are refused.
"""

from __future__ import annotations

import gzip
import re
import stat
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from trapline.errors import FeedFetchError, FeedRefused
from trapline.feeds.config import MiB
from trapline.feeds.report import FeedReport

__all__ = ["MAX_LAYERS", "MAX_ZIP_MEMBERS", "gunzip", "sniff", "unpack", "unzip"]

CHUNK = MiB
MAX_LAYERS = 3            # a .gz inside a .zip inside a .gz, at most
MAX_ZIP_MEMBERS = 10_000
_GZIP = b"\x1f\x8b"
_ZIP = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header; an empty archive
_SKIPPED_MEMBER = re.compile(r"(^|/)(__MACOSX/|\._|\.DS_Store$)")


def sniff(path: Path) -> str | None:
    """``"gzip"``, ``"zip"`` or None (anything else), from the first bytes of ``path``."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head.startswith(_GZIP):
        return "gzip"
    if head in _ZIP:
        return "zip"
    return None


def _copy_limited(src: BinaryIO, dest: BinaryIO, written: int, max_bytes: int,
                  what: str) -> int:
    while chunk := src.read(CHUNK):
        written += len(chunk)
        if written > max_bytes:
            raise FeedRefused(f"{what} unpacks to more than {max_bytes // MiB} MB "
                              "(http.max_unpacked_mb): refused as a decompression bomb")
        dest.write(chunk)
    return written


def gunzip(src: Path, dest: Path, *, max_bytes: int) -> int:
    """Decompress gzip ``src`` (every member) into ``dest``; the bytes written."""
    try:
        with gzip.open(src, "rb") as packed, open(dest, "wb") as out:
            return _copy_limited(packed, out, 0, max_bytes, src.name)
    except (OSError, EOFError, zlib.error) as exc:
        raise FeedFetchError(f"{src.name}: corrupt or truncated gzip data ({exc})") from None


def _member_path(root: Path, name: str) -> Path:
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if (not parts or name.startswith(("/", "\\")) or ".." in parts or "\x00" in name
            or re.match(r"^[A-Za-z]:", parts[0])):
        raise FeedRefused(f"zip member {name[:200]!r} would be written outside the "
                          "unpack folder: refused")
    return root.joinpath(*parts)


def unzip(src: Path, dest: Path, *, max_bytes: int,
          report: FeedReport | None = None) -> list[Path]:
    """Extract every file of zip ``src`` into folder ``dest``; the files written.

    Directories, symbolic links and macOS metadata (``__MACOSX/``, ``._*``)
    are skipped. ``max_bytes`` bounds the sum of the members' actual sizes.
    """
    written, files, skipped = 0, [], 0
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(src) as archive:
            members = archive.infolist()
            if len(members) > MAX_ZIP_MEMBERS:
                raise FeedRefused(f"{src.name}: {len(members)} zip members, more than "
                                  f"{MAX_ZIP_MEMBERS}: refused")
            for info in members:
                target = _member_path(dest, info.filename)
                mode = info.external_attr >> 16
                if info.is_dir() or stat.S_ISLNK(mode) or _SKIPPED_MEMBER.search(
                        info.filename.replace("\\", "/")):
                    skipped += not info.is_dir()
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as packed, open(target, "wb") as out:
                    written = _copy_limited(packed, out, written, max_bytes, src.name)
                if target not in files:
                    files.append(target)
    except FeedFetchError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, zlib.error,
            NotImplementedError, RuntimeError, ValueError) as exc:
        # RuntimeError: an encrypted member; NotImplementedError: an unknown compression
        raise FeedFetchError(f"{src.name}: cannot unzip ({exc})") from None
    if report is not None and skipped:
        report.notes["zip_skipped_members"] = str(skipped)
    return files


def _unpacked_name(name: str) -> str:
    for suffix in (".gz", ".gzip", ".tgz"):
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)] + (".tar" if suffix == ".tgz" else "")
    return name


def unpack(path: Path, workdir: Path, *, max_bytes: int,
           report: FeedReport | None = None) -> Path:
    """``path`` with its gzip and zip layers removed, unpacked into ``workdir``.

    A plain file is returned as it is. A zip of one file gives that file, a zip
    of several gives their folder. Each layer's output is limited to
    ``max_bytes``; FeedRefused beyond it, FeedFetchError for a corrupt archive.
    """
    layers: list[str] = []
    while path.is_file() and (kind := sniff(path)) is not None:
        if len(layers) == MAX_LAYERS:
            raise FeedRefused(f"{path.name}: more than {MAX_LAYERS} nested archives: refused")
        out = workdir / f"unpacked-{len(layers) + 1}"
        out.mkdir(parents=True, exist_ok=True)
        layers.append(kind)
        if kind == "gzip":
            target = out / _unpacked_name(path.name)
            size = gunzip(path, target, max_bytes=max_bytes)
            path = target
        else:
            files = unzip(path, out, max_bytes=max_bytes, report=report)
            if not files:
                raise FeedFetchError(f"{path.name}: the zip archive holds no file")
            size = sum(f.stat().st_size for f in files)
            path = files[0] if len(files) == 1 else out
        if report is not None:
            report.notes["unpacked"] = "+".join(layers)
            report.notes["unpacked_bytes"] = str(size)
    return path
