"""Settings kept in the store by the web interface, applied over the configuration file.

    settings = with_stored_settings(load_settings(path))

The Settings page and the first-run wizard keep their values in the store
(docs/web.md); ``trapline serve`` applies them at start and at every SIGHUP, over
the file and under the command-line flags: the service keys of the form
(listen and output addresses, protocol, framing, preset, limits, event formats,
allowed frame hosts), the custom feeds (``feeds.custom``, added to the
configured feeds, or to the demo feeds when none is configured) and the proxy
for feed downloads (``feeds.proxy``, for every HTTP feed without its own), and
the feed source credentials (``feeds.secret.<feed>``, encrypted, over the file's:
trapline.service.feed_credentials). The
values are checked again by the configuration's own rules; a value that no
longer passes (the file changed under it) is refused with a log line and the
file's value stays.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import msgspec

from trapline.config import Settings, demo_feeds
from trapline.errors import TraplineError
from trapline.feeds.config import FeedConfig, feed_from_dict
from trapline.service.feed_credentials import apply_credentials
from trapline.store import open_store
from trapline.store.engine import DB_FILE
from trapline.web import runtime

log = logging.getLogger("trapline.service")


def with_stored_settings(settings: Settings) -> Settings:
    """``settings`` with the store's kept values applied (unchanged without a store)."""
    stored = read_stored(settings)
    if not stored:
        return settings
    sections: dict[str, Any] = {"service": settings.service, "output": settings.output,
                                "http": settings.http}
    fields = {key: value for key, value in stored.items() if key in runtime.FIELD_KEYS}
    if fields:
        try:
            accepted = runtime.validate(settings, fields)
        except runtime.Refused as exc:
            log.error("settings kept in the store not applied, the file's stay: %s", exc)
            accepted = {}
        for key, value in accepted.items():
            section, name = key.split(".", 1)
            sections[section] = msgspec.structs.replace(sections[section], **{name: value})
    feeds = _with_custom(settings.feeds, stored.get(runtime.CUSTOM_FEEDS))
    proxy = _proxy(stored)
    if proxy:  # (the demo feeds are local files: no proxy to give them)
        feeds = [_with_proxy(feed, proxy) for feed in feeds]
    feeds = apply_credentials(feeds, stored, settings.data_dir)
    return msgspec.structs.replace(settings, feeds=feeds, **sections)


def read_stored(settings: Settings) -> dict[str, Any]:
    """Every setting the store keeps ({} before the store exists or when unreadable)."""
    if not settings.store.url and not (settings.data_dir / DB_FILE).exists():
        return {}
    try:
        store = open_store(settings.store_target)
    except TraplineError as exc:
        log.error("settings kept in the store not read: %s", exc)
        return {}
    try:
        return {s.key: s.value for s in store.settings.all()}
    finally:
        store.close()


def _with_custom(feeds: list[FeedConfig], custom: Any) -> list[FeedConfig]:
    if not isinstance(custom, list) or not custom:
        return feeds
    base = list(feeds or demo_feeds())
    names = {feed.name for feed in base}
    for table in custom:
        try:
            feed = feed_from_dict(table)
        except (TraplineError, TypeError, ValueError) as exc:
            log.error("custom feed kept in the store not applied: %s", exc)
            continue
        if feed.name in names:
            log.error("custom feed %s not applied: the configuration has a feed of that name",
                      feed.name)
            continue
        names.add(feed.name)
        base.append(feed)
    return base


def _proxy(stored: dict[str, Any]) -> str:
    """The proxy URL for feed downloads, with its credentials when kept."""
    url = stored.get(runtime.PROXY)
    if not isinstance(url, str) or not url:
        return ""
    user, password = stored.get(runtime.PROXY_USER), stored.get(runtime.PROXY_PASSWORD)
    if not isinstance(user, str) or not user:
        return url
    parts = urlsplit(url)
    secret = f":{quote(password, safe='')}" if isinstance(password, str) and password else ""
    return urlunsplit(parts._replace(netloc=f"{quote(user, safe='')}{secret}@{parts.netloc}"))


def _with_proxy(feed: FeedConfig, proxy: str) -> FeedConfig:
    if feed.http.proxy or not feed.source.startswith(("http://", "https://")):
        return feed
    return msgspec.structs.replace(feed, http=msgspec.structs.replace(feed.http, proxy=proxy))
