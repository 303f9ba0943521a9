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

import ipaddress
import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any

import msgspec

from trapline.errors import ConfigError, FeedConfigError
from trapline.feeds.config import FeedConfig, feed_from_dict, folder_name

DEFAULT_DATA_DIR = "trapline-data"
DATA_DIR_ENV = "TRAPLINE_DATA_DIR"
CONFIG_ENV = "TRAPLINE_CONFIG"
DEFAULT_CONFIG = "trapline.toml"
DEMO_FEEDS = Path(__file__).resolve().parent / "demo"
_TOP_LEVEL = {"data_dir", "feeds", "service", "output", "rule_sets", "http", "store"}
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class ServiceSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``[service]``: the event service of ``trapline serve``."""

    listen: str = "0.0.0.0:9999"          # HOST:PORT of the TCP event service
    workers: int = 0                      # processes sharing the port; 0 = one per CPU
    max_line_bytes: int = 65536           # longer event lines are dropped and counted
    idle_timeout: float = 300.0           # seconds without data before a connection closes
    max_connections: int = 10000          # per worker process
    rules: str = "generic"                # the rule set for events no rule set's match claims
    update_interval: float = 60.0         # seconds between feed scheduler ticks
    event_loop: str = "uvloop"            # uvloop | asyncio (uvloop falls back if missing)


class OutputSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``[output]``: where detections and service alerts go (docs/output.md)."""

    address: str = "127.0.0.1:9998"       # HOST:PORT of the syslog receiver
    protocol: str = "tcp"                 # tcp | udp
    framing: str = "raw"                  # raw | rfc5424 | rfc3164
    retries: int = 3                      # 0-10
    retry_interval: float = 10.0          # seconds, at most 60
    queue_size: int = 100_000
    spool_dir: str = ""                   # a folder for at-least-once delivery; "" = none
    spool_max_mb: int = 1024
    facility: int = 1                     # syslog facility (user)
    severity: int = 4                     # of detections (warning)
    alert_severity: int = 5               # of service alerts (notice)
    app_name: str = "trapline"
    hostname: str = ""                    # "" = this machine's name
    templates: dict[str, Any] = msgspec.field(default_factory=dict)


FrameHost = Annotated[str, msgspec.Meta(
    pattern=r"^(https?://)?[A-Za-z0-9.-]+(:[0-9]{1,5})?$|^(https?://)?\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$",
    max_length=300)]


class HttpSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``[http]``: the HTTP face of ``trapline serve`` (docs/http-api.md)."""

    enabled: bool = True
    listen: str = "0.0.0.0:8443"          # HOST:PORT, shared by every worker
    tls: bool = True                      # false only on a loopback address
    certificate: str = ""                 # PEM; "" = self-signed, made once in DATA_DIR/tls/
    private_key: str = ""                 # PEM, with `certificate`
    max_body_mb: int = 64                 # largest lookup request body (the vendor's 64 MB)
    max_connections: int = 1000           # per worker; more are answered 503
    keep_alive_timeout: int = 60          # seconds an idle connection stays open
    auth_cache_seconds: float = 60.0      # how long a checked user and password is trusted
    # Origins whose pages may show the web interface in a frame (a SIEM console):
    # "host[:port]" or "https://host[:port]"; docs/web.md.
    allowed_frame_hosts: list[FrameHost] = msgspec.field(default_factory=list)


class StoreSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """``[store]``: where users, lists, detections and the audit log live (docs/store.md)."""

    url: str = ""                         # "" = SQLite at DATA_DIR/trapline.db; or postgresql://
    detections_queue: int = 100_000       # detections waiting to be written, per worker
    keep_detections_days: float = 90.0    # older detections are deleted; 0 = keep forever


class Settings(msgspec.Struct, kw_only=True):
    """The settings in force: where data lives, feeds, the service and its output."""

    data_dir: Path
    feeds: list[FeedConfig] = msgspec.field(default_factory=list)
    service: ServiceSettings = msgspec.field(default_factory=ServiceSettings)
    output: OutputSettings = msgspec.field(default_factory=OutputSettings)
    rule_sets: list[dict[str, Any]] = msgspec.field(default_factory=list)  # trapline.extract
    http: HttpSettings = msgspec.field(default_factory=HttpSettings)
    store: StoreSettings = msgspec.field(default_factory=StoreSettings)
    path: Path | None = None  # the file they came from

    @property
    def feeds_or_demo(self) -> list[FeedConfig]:
        """The configured feeds, or the demo feeds when none is configured."""
        return self.feeds or demo_feeds()

    @property
    def store_target(self) -> str | Path:
        """What ``trapline.store.open_store`` opens: the URL, else the data directory."""
        return self.store.url or self.data_dir


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
    try:
        service = msgspec.convert(data.get("service", {}), ServiceSettings)
        output = msgspec.convert(data.get("output", {}), OutputSettings)
        http = msgspec.convert(data.get("http", {}), HttpSettings)
        store = msgspec.convert(data.get("store", {}), StoreSettings)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{file}: {exc}") from exc
    _check_service(service, output, file)
    if store.detections_queue < 1 or store.keep_detections_days < 0:
        raise ConfigError(f"{file}: store.detections_queue must be 1 or more and "
                          "store.keep_detections_days 0 or more")
    http = msgspec.structs.replace(
        http, certificate=str(_resolve(base, http.certificate)) if http.certificate else "",
        private_key=str(_resolve(base, http.private_key)) if http.private_key else "")
    check_http(http, f"{file}: " if file else "")
    rule_sets = data.get("rule_sets", [])
    if not isinstance(rule_sets, list) or not all(isinstance(t, dict) for t in rule_sets):
        raise ConfigError(f"{file}: rule_sets must be [[rule_sets]] tables")
    return Settings(data_dir=Path(directory), feeds=feeds, service=service, output=output,
                    rule_sets=rule_sets, http=http, store=store, path=file)


def parse_address(text: str, what: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` too) as a pair; ConfigError naming ``what`` if invalid."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{what}: {text!r} is not HOST:PORT")
    return host, int(port)


def _check_service(service: ServiceSettings, output: OutputSettings, file: Path | None) -> None:
    where = f"{file}: " if file else ""
    parse_address(service.listen, f"{where}service.listen")
    parse_address(output.address, f"{where}output.address")
    checks = [
        (service.workers >= 0, "service.workers must be 0 (one per CPU) or more"),
        (1024 <= service.max_line_bytes <= 64 << 20, "service.max_line_bytes: 1 KiB to 64 MiB"),
        (service.idle_timeout >= 0, "service.idle_timeout must be 0 (none) or more"),
        (service.max_connections >= 1, "service.max_connections must be 1 or more"),
        (service.update_interval >= 1, "service.update_interval must be 1 s or more"),
        (service.event_loop in ("uvloop", "asyncio"), "service.event_loop is uvloop or asyncio"),
        (output.protocol in ("tcp", "udp"), "output.protocol is tcp or udp"),
        (output.framing in ("raw", "rfc5424", "rfc3164"),
         "output.framing is raw, rfc5424 or rfc3164"),
        (0 <= output.retries <= 10, "output.retries: 0 to 10"),
        (0 <= output.retry_interval <= 60, "output.retry_interval: 0 to 60 seconds"),
        (output.queue_size >= 1, "output.queue_size must be 1 or more"),
        (0 <= output.facility <= 23, "output.facility: 0 to 23"),
        (0 <= output.severity <= 7 and 0 <= output.alert_severity <= 7,
         "output.severity and output.alert_severity: 0 to 7"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(where + message)


def check_http(http: HttpSettings, where: str = "") -> None:
    """Refuse an invalid ``[http]``; plain HTTP only on a loopback address."""
    host, _ = parse_address(http.listen, f"{where}http.listen")
    checks = [
        (bool(http.certificate) == bool(http.private_key),
         "http.certificate and http.private_key go together"),
        (1 <= http.max_body_mb <= 1024, "http.max_body_mb: 1 to 1024"),
        (http.max_connections >= 1, "http.max_connections must be 1 or more"),
        (http.keep_alive_timeout >= 1, "http.keep_alive_timeout must be 1 s or more"),
        (http.auth_cache_seconds >= 0, "http.auth_cache_seconds must be 0 (none) or more"),
        (not http.enabled or http.tls or is_loopback(host),
         f"http.tls = false is allowed only on a loopback address, not {http.listen!r}"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(where + message)


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


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
