"""Feed sources: turn a FeedConfig into local file(s) a format parser reads.

    path = fetch(feed, workdir, report, state=state)

- a local file or folder is returned as it is; a gzip or zip local file is
  unpacked into ``workdir`` first;
- an ``http(s)://`` URL is downloaded into ``workdir`` through
  trapline.feeds.http_fetch (address policy, redirects, limits, credentials),
  then unpacked the same way;
- a ``format = "taxii"`` feed is polled by trapline.feeds.taxii into a STIX
  bundle file.

Any other scheme (``file:``, ``ftp:``, ``gopher:``...) is refused: a local
feed is configured as a plain path. ``workdir`` is a scratch folder the caller
creates, one per feed update, and removes afterwards.

Errors: FeedFetchError (network, HTTP status, a missing file, a corrupt
archive) and its subclass FeedRefused (policy: address, scheme, size,
redirects). Messages never hold credentials.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from trapline.errors import FeedFetchError, FeedRefused
from trapline.feeds.address_policy import AddressPolicy
from trapline.feeds.config import FeedConfig, MiB, redact_url
from trapline.feeds.http_fetch import SafeHttpClient
from trapline.feeds.report import FeedReport
from trapline.feeds.unpack import unpack

__all__ = ["download_name", "fetch", "fetch_http", "fetch_local"]

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]+):")


def fetch(feed: FeedConfig, workdir: Path, report: FeedReport, *,
          state: dict[str, Any] | None = None, previous: Path | None = None,
          policy: AddressPolicy | None = None) -> Path:
    """A local file or folder holding ``feed``'s current content, ready to parse.

    ``state`` and ``previous`` matter to TAXII feeds only (see
    trapline.feeds.taxii.fetch_taxii): the cursor of incremental polls and the
    bundle the last update kept. ``policy`` overrides the address policy
    (tests, embedding).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    if feed.format == "taxii":
        from trapline.feeds.taxii import fetch_taxii
        return fetch_taxii(feed, workdir, report, state=state, previous=previous,
                           policy=policy)
    if feed.is_remote:
        return fetch_http(feed, workdir, report, policy=policy)
    scheme = _SCHEME.match(feed.source)
    if scheme and not Path(feed.source).exists():
        raise FeedRefused(f"feed {feed.name}: {scheme.group(1)}: sources are not fetched; "
                          "give a local path or an http(s) URL")
    return fetch_local(feed, workdir, report)


def fetch_local(feed: FeedConfig, workdir: Path, report: FeedReport) -> Path:
    """The local file or folder ``feed.source``; a gzip or zip file is unpacked first."""
    path = Path(feed.source).expanduser()
    if not path.exists():
        raise FeedFetchError(f"feed {feed.name}: {path} does not exist")
    if path.is_dir():
        return path
    try:
        return unpack(path, workdir, max_bytes=feed.http.max_unpacked_mb * MiB, report=report)
    except PermissionError as exc:
        raise FeedFetchError(f"feed {feed.name}: cannot read {path}: {exc.strerror}") from None


def fetch_http(feed: FeedConfig, workdir: Path, report: FeedReport, *,
               policy: AddressPolicy | None = None) -> Path:
    """Download ``feed.source`` into ``workdir`` and unpack it; the file or folder."""
    folder = workdir / "download"
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / download_name(feed.source)
    with SafeHttpClient(feed.http, policy=policy) as client:
        download = client.download(feed.source, dest)
    report.notes["http_status"] = str(download.status)
    report.notes["content_type"] = download.content_type
    report.notes["downloaded_bytes"] = str(download.size)
    if download.url != redact_url(feed.source):
        report.notes["final_url"] = download.url
    return unpack(dest, workdir, max_bytes=feed.http.max_unpacked_mb * MiB, report=report)


def download_name(url: str) -> str:
    """A safe local file name for ``url``: its last path segment, or ``feed``."""
    path = url.split("#", 1)[0].split("?", 1)[0]
    path = path.split("://", 1)[-1]
    tail = path.split("/", 1)[1].rstrip("/").rsplit("/", 1)[-1] if "/" in path else ""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", tail)[:100].lstrip("._-")
    return name or "feed"
