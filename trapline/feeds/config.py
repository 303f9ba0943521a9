"""What a feed is, as configured: its source, format, mapping, schedule and limits.

Feeds are configured as ``[[feeds]]`` tables of the TOML configuration file
(docs/configuration.md); every key has a default so that ``source`` alone is a
feed. Secrets (a password, a token) may be given inline or, better, through an
environment variable (``password_env``, ``token_env``); ``public()`` shows the
configuration with every secret replaced, and is what logs, the API and the UI see.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import msgspec

from trapline.errors import FeedConfigError
from trapline.indicators import Kind

SCHEDULES = (0, 30, 60, 120, 240, 480, 960, 1440)  # minutes; 0 = never (protocol.md)
DEFAULT_SCHEDULE = 30
FORMATS = ("auto", "vendor-json", "stix", "taxii", "misp", "csv", "plain", "warninglist",
           "openioc", "suricata")
MiB = 1 << 20
REDACTED = "***"
_KINDS = {kind.value for kind in Kind}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,127}$")


class FieldMap(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One vendor-JSON field read as indicators: its kind (None: detect) and category."""

    kind: str | None = None
    category: str | None = None


class CsvOptions(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How a CSV feed's columns are read. Columns are header names or 0-based numbers."""

    delimiter: str = ","
    header: bool | None = None            # None: detect (a first row naming the columns)
    comment: str = "#"
    value_column: str | int | None = None  # None: the first column holding indicators
    kind_column: str | int | None = None   # a column naming each row's kind
    category_column: str | int | None = None
    context_columns: list[str | int] | None = None  # None: every other column


class HttpOptions(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How an HTTP(S) or TAXII source is fetched, and the limits that protect the service."""

    username: str | None = None
    password: str | None = None
    password_env: str | None = None
    token: str | None = None               # sent as ``Authorization: Bearer ...``
    token_env: str | None = None
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    ca_file: str | None = None             # a PEM bundle to trust instead of the system's
    proxy: str | None = None
    allow_private: bool = False            # allow loopback, private, link-local addresses
    timeout: float = 60.0                  # seconds, per connect and per read
    max_download_mb: int = 512             # body size limit, compressed
    max_unpacked_mb: int = 2048            # size limit after gunzip / unzip
    max_redirects: int = 5

    def secret_password(self) -> str | None:
        """The password, from the environment variable if one is named."""
        return _secret(self.password, self.password_env, "password_env")

    def secret_token(self) -> str | None:
        """The bearer token, from the environment variable if one is named."""
        return _secret(self.token, self.token_env, "token_env")


class FeedConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One feed. Only ``source`` is required; see docs/configuration.md for each key."""

    source: str                            # a path (file or folder) or an http(s) URL
    name: str = ""                         # default: the source's file name
    format: str = "auto"
    category: str = ""                     # default: the name without its extension
    kind: str | None = None                # plain and CSV feeds: read every value as this
    enabled: bool = True
    schedule: int = DEFAULT_SCHEDULE       # minutes between updates; 0 = never
    allow: bool = False                    # an allow list: suppresses, never detects
    verify: list[str] = msgspec.field(default_factory=list)
    allow_shrink: bool = False             # accept an update under half the previous size
    fields: dict[str, FieldMap] = msgspec.field(default_factory=dict)  # vendor JSON
    context_fields: list[str] | None = None  # vendor JSON: None = every unmapped field
    csv: CsvOptions = msgspec.field(default_factory=CsvOptions)
    to_ids_only: bool = True               # MISP: only attributes marked to_ids
    http: HttpOptions = msgspec.field(default_factory=HttpOptions)

    def __post_init__(self) -> None:
        if not self.source:
            raise FeedConfigError("a feed needs a source")
        if not self.name:
            self.name = _default_name(self.source)
        if not _NAME.match(self.name):
            raise FeedConfigError(f"feed name {self.name!r}: use letters, digits, '.', '_', "
                                  "'-' and spaces, at most 128 characters")
        if not self.category:
            self.category = Path(self.name).stem if "." in self.name else self.name
        if self.format not in FORMATS:
            raise FeedConfigError(f"feed {self.name}: format {self.format!r} is not one of "
                                  + ", ".join(FORMATS))
        if self.schedule not in SCHEDULES:
            raise FeedConfigError(f"feed {self.name}: schedule {self.schedule} is not one of "
                                  + ", ".join(map(str, SCHEDULES)) + " (minutes)")
        kinds = [self.kind] + [m.kind for m in self.fields.values()]
        for kind in kinds:
            if kind is not None and kind not in _KINDS:
                raise FeedConfigError(f"feed {self.name}: unknown kind {kind!r}")
        if self.format == "warninglist":
            self.allow = True

    @property
    def is_remote(self) -> bool:
        """True for an http(s) source (a TAXII collection is one too)."""
        return self.source.split(":", 1)[0].lower() in ("http", "https")

    def public(self) -> dict[str, Any]:
        """The configuration as a dict with every secret replaced by ``***``."""
        data = msgspec.to_builtins(self)
        http = data["http"]
        for key in ("password", "token"):
            if http.get(key):
                http[key] = REDACTED
        http["headers"] = {k: REDACTED for k in http.get("headers", {})}
        data["source"] = redact_url(self.source)
        return data

    def __repr__(self) -> str:
        return f"FeedConfig(name={self.name!r}, source={redact_url(self.source)!r})"


def redact_url(url: str) -> str:
    """``url`` with any ``user:password@`` replaced, safe for logs."""
    return re.sub(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@", rf"\1{REDACTED}@", url)


def feed_from_dict(data: dict[str, Any]) -> FeedConfig:
    """A FeedConfig from a TOML table; FeedConfigError with the reason if invalid."""
    try:
        return msgspec.convert(data, FeedConfig)
    except msgspec.ValidationError as exc:
        name = data.get("name") or data.get("source") or "?"
        raise FeedConfigError(f"feed {name}: {exc}") from exc


def feed_for_path(path: Path | str, *, format: str = "auto", **settings: Any) -> FeedConfig:
    """A feed for a local file or folder given on the command line."""
    return feed_from_dict({"source": str(path), "format": format, **settings})


def folder_name(name: str) -> str:
    """The file-system name of a feed's folder under ``DATA_DIR/feeds/``."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def _default_name(source: str) -> str:
    tail = source.rstrip("/").rsplit("/", 1)[-1].split("?", 1)[0]
    name = re.sub(r"[^A-Za-z0-9._ -]", "_", tail)[:128].lstrip("._ -")
    return name or "feed"


def _secret(inline: str | None, env: str | None, key: str) -> str | None:
    if env:
        value = os.environ.get(env)
        if value is None:
            raise FeedConfigError(f"{key}: environment variable {env} is not set")
        return value
    return inline
