"""Settings: the TOML configuration file, its defaults, and the demo feeds.

    data_dir = "/var/lib/trapline"

    [[feeds]]
    source = "https://feodotracker.abuse.ch/downloads/ipblocklist.csv"
    category = "Feodo_C2_IP"

Every key and its default is in docs/configuration.md. The file is found by
``--config``, else ``$TRAPLINE_CONFIG``, else ``./trapline.toml`` when present;
without one, the defaults apply and the demo feeds are loaded. Relative paths
in the file are relative to the file.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

import msgspec

from trapline.errors import ConfigError, FeedConfigError
from trapline.feeds.config import FeedConfig, feed_from_dict, folder_name

DEFAULT_DATA_DIR = "trapline-data"
DATA_DIR_ENV = "TRAPLINE_DATA_DIR"
CONFIG_ENV = "TRAPLINE_CONFIG"
DEFAULT_CONFIG = "trapline.toml"
DEMO_FEEDS = Path(__file__).resolve().parent / "demo"
_TOP_LEVEL = {"data_dir", "feeds"}
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class Settings(msgspec.Struct, kw_only=True):
    """The settings in force: where data lives, which feeds are configured."""

    data_dir: Path
    feeds: list[FeedConfig] = msgspec.field(default_factory=list)
    path: Path | None = None  # the file they came from

    @property
    def feeds_or_demo(self) -> list[FeedConfig]:
        """The configured feeds, or the demo feeds when none is configured."""
        return self.feeds or demo_feeds()


def default_data_dir() -> Path:
    """``$TRAPLINE_DATA_DIR``, else ``./trapline-data``."""
    return Path(os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)


def config_path(explicit: Path | None = None) -> Path | None:
    """The configuration file to read: ``explicit``, ``$TRAPLINE_CONFIG`` or ./trapline.toml."""
    if explicit is not None:
        return explicit
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    local = Path(DEFAULT_CONFIG)
    return local if local.is_file() else None


def load_settings(path: Path | None = None, *, data_dir: Path | None = None) -> Settings:
    """Read the settings; ``data_dir`` (a command-line flag) overrides everything.

    The data directory: the flag, else ``$TRAPLINE_DATA_DIR``, else the file's
    ``data_dir``, else ``./trapline-data``.
    """
    file = config_path(path)
    data: dict[str, Any] = {}
    if file is not None:
        data = _read_toml(file)
    base = file.parent if file is not None else Path.cwd()
    unknown = sorted(set(data) - _TOP_LEVEL)
    if unknown:
        raise ConfigError(f"{file}: unknown setting {', '.join(unknown)} "
                          "(see docs/configuration.md)")
    configured_dir = data.get("data_dir")
    if configured_dir is not None and not isinstance(configured_dir, str):
        raise ConfigError(f"{file}: data_dir must be a string")
    if data_dir is not None:
        directory = data_dir
    elif os.environ.get(DATA_DIR_ENV):
        directory = Path(os.environ[DATA_DIR_ENV])
    elif configured_dir:
        directory = _resolve(base, configured_dir)
    else:
        directory = Path(DEFAULT_DATA_DIR)
    tables = data.get("feeds", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(f"{file}: feeds must be [[feeds]] tables")
    try:
        feeds = feeds_from_tables(tables, base)
    except FeedConfigError as exc:
        raise ConfigError(f"{file}: {exc}") from exc
    return Settings(data_dir=Path(directory), feeds=feeds, path=file)


def feeds_from_tables(tables: list[dict[str, Any]], base: Path) -> list[FeedConfig]:
    """FeedConfigs from ``[[feeds]]`` tables; relative sources resolved against ``base``."""
    feeds = []
    for table in tables:
        source = table.get("source")
        if isinstance(source, str) and source and not _URL.match(source):
            table = {**table, "source": str(_resolve(base, source))}
        feeds.append(feed_from_dict(table))
    _check_unique(feeds)
    return feeds


def demo_feeds() -> list[FeedConfig]:
    """The demo feeds shipped in the package (trapline/demo/feeds.toml)."""
    tables = _read_toml(DEMO_FEEDS / "feeds.toml").get("feeds", [])
    return feeds_from_tables(tables, DEMO_FEEDS)


def demo_feed_paths() -> list[Path]:
    """The demo feed files."""
    return [Path(feed.source) for feed in demo_feeds()]


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


def _resolve(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _check_unique(feeds: list[FeedConfig]) -> None:
    seen: dict[str, str] = {}
    for feed in feeds:
        folder = folder_name(feed.name)
        if folder in seen:
            raise FeedConfigError(f"feeds {seen[folder]!r} and {feed.name!r} share a name; "
                                  "give each feed its own name")
        seen[folder] = feed.name
