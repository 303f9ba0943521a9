"""The collector's configuration: ``[collector]``, ``[[input]]``, ``[[rule]]``,
``[[output]]`` and ``[api]``.

One table per section (``KEYS``: name, default, meaning) drives validation and
the test that every key is documented in docs/collector.md. ``load_collector_config``
checks the whole file and raises one ``CollectorConfigError`` listing every
problem, field by field (``rule[0].rps: must be an integer >= 1, got 'fast'``),
so an operator fixes the file in one pass. Enrichment rules follow the KUMA
guide: name of 1-128 Unicode characters, description up to 4,000, tenant
``General``, connections = CPUs, RPS 1000, timeout 30 s, a mapping of at least
one row, queue limit 1,000,000.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec

from trapline.collector.filters import FilterError, parse_filter
from trapline.collector.parsers import PARSERS
from trapline.collector.schema import PRESETS
from trapline.collector.secrets import check_secret_file
from trapline.errors import ConfigError

INPUT_TYPES = ("tcp", "udp", "http", "file", "nats")
OUTPUT_TYPES = ("stdout", "file", "tcp", "udp", "http", "nats")
NATS_URL = "nats://127.0.0.1:4222"  # the default broker of the nats input and output
RULE_KINDS = ("cybertrace", "cybertrace-http")
INDICATOR_TYPES = ("ip", "url", "hash", "domain")
FORMATS = tuple(PARSERS)


class CollectorConfigError(ConfigError):
    """The collector's configuration is invalid; ``errors`` lists every problem."""

    def __init__(self, source: str, errors: list[str]) -> None:
        self.errors = errors
        super().__init__(f"{source}: {len(errors)} error(s):\n" +
                         "\n".join(f"  {error}" for error in errors))


class Mapping(msgspec.Struct, frozen=True):
    field: str
    type: str


class CollectorSettings(msgspec.Struct, frozen=True, kw_only=True):
    queue: int = 10_000
    log_level: str = "info"
    stats_interval: float = 60.0
    drain_timeout: float = 60.0


class InputConfig(msgspec.Struct, frozen=True, kw_only=True):
    type: str
    name: str
    listen: str = ""
    path: str = ""
    format: str = "syslog"
    preset: str = ""
    framing: str = "auto"
    max_line_bytes: int = 1 << 20
    max_connections: int = 1000
    receive_buffer: int = 4 << 20
    start_at: str = "beginning"
    poll_interval: float = 0.2
    url: str = NATS_URL
    stream: str = ""
    subject: str = ""
    durable: str = ""
    batch: int = 100
    ack_wait: float = 30.0


class RuleConfig(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    kind: str
    url: str
    mapping: tuple[Mapping, ...]
    description: str = ""
    tenant: str = "General"
    connections: int = 1
    rps: int = 1000
    timeout: float = 30.0
    debug: bool = False
    filter: str = ""
    queue_limit: int = 1_000_000
    cache_ttl: float = 5.0
    cache_size: int = 100_000
    batch: int = 100
    secret_file: str = ""
    user_env: str = ""
    password_env: str = ""
    tls: bool = True
    ca_file: str = ""
    verify: bool = True


class OutputConfig(msgspec.Struct, frozen=True, kw_only=True):
    type: str
    name: str
    path: str = ""
    address: str = ""
    url: str = ""
    max_bytes: int = 100 << 20
    backups: int = 5
    framing: str = "lf"
    syslog_header: bool = True
    queue: int = 10_000
    retries: int = 5
    retry_interval: float = 1.0
    batch: int = 500
    timeout: float = 10.0
    spool: str = ""
    spool_max_bytes: int = 1 << 30
    subject: str = ""
    stream: str = ""


class ApiConfig(msgspec.Struct, frozen=True, kw_only=True):
    url: str = ""
    tenant: str = "General"
    secret_file: str = ""
    user_env: str = ""
    password_env: str = ""
    ca_file: str = ""
    verify: bool = True
    timeout: float = 30.0


class CollectorConfig(msgspec.Struct, frozen=True, kw_only=True):
    collector: CollectorSettings
    inputs: tuple[InputConfig, ...]
    rules: tuple[RuleConfig, ...]
    outputs: tuple[OutputConfig, ...]
    api: ApiConfig | None = None
    source: str = ""


Check = Callable[[Any], str | None]  # the problem with a value, or None


def _int(low: int, high: int | None = None) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return f"must be an integer, got {value!r}"
        if value < low or (high is not None and value > high):
            bound = f"from {low} to {high}" if high is not None else f">= {low}"
            return f"must be {bound}, got {value}"
        return None
    return check


def _seconds_or_zero(high: float) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"must be a number of seconds, got {value!r}"
        if not 0 <= value <= high:
            return f"must be from 0 to {high:g}, got {value}"
        return None
    return check


def _number(low: float, high: float) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"must be a number of seconds, got {value!r}"
        if not low < value <= high:
            return f"must be over {low:g} and at most {high:g}, got {value}"
        return None
    return check


def _text(low: int, high: int) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, str):
            return f"must be a string, got {value!r}"
        if not low <= len(value) <= high:
            return (f"must be {low} to {high} Unicode characters, got {len(value)}"
                    if low else f"must be at most {high} Unicode characters, got {len(value)}")
        return None
    return check


def _choice(choices: tuple[str, ...]) -> Check:
    def check(value: Any) -> str | None:
        if value not in choices:
            return f"must be one of {', '.join(choices)}; got {value!r}"
        return None
    return check


def _bool(value: Any) -> str | None:
    return None if isinstance(value, bool) else f"must be true or false, got {value!r}"


def _address(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"must be 'host:port', got {value!r}"
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        return f"must be 'host:port' with a port from 1 to 65535, got {value!r}"
    return None


def _listen(value: Any) -> str | None:
    if isinstance(value, str) and value.endswith(":0") and value[:-2]:
        return None  # port 0: the system picks a free one (logged at start)
    return _address(value)


def _filter(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"must be a string, got {value!r}"
    if not value.strip():
        return None
    try:
        parse_filter(value)
    except FilterError as exc:
        return str(exc)
    return None


def _secret_file(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"must be a path, got {value!r}"
    return check_secret_file(Path(value)) if value else None


def _env_name(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"must be an environment variable's name, got {value!r}"
    return None


def _url(value: Any) -> str | None:
    if not isinstance(value, str) or not value.startswith(("http://", "https://")):
        return f"must be an http:// or https:// URL, got {value!r}"
    return None


def _nats_url(value: Any) -> str | None:
    """One broker URL or several, comma-separated (nats-py tries them in turn)."""
    if not isinstance(value, str) or not value.strip():
        return f"must be a nats:// or tls:// URL, got {value!r}"
    for url in value.split(","):
        url = url.strip()
        scheme, sep, rest = url.partition("://")
        if not sep or scheme not in ("nats", "tls") or not rest.strip("/"):
            return f"must be a nats:// or tls:// URL (several: comma-separated), got {url!r}"
    return None


def _output_url(value: Any) -> str | None:
    """http: an http(s):// URL; nats: a nats:// or tls:// one (checked per type later)."""
    if isinstance(value, str) and value.startswith(("nats://", "tls://")):
        return _nats_url(value)
    return _url(value)


_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _nats_name(what: str) -> Check:
    """A JetStream stream or durable consumer name: letters, digits, - and _ (NATS also
    refuses spaces, '.', '*', '>' and path separators in them)."""
    def check(value: Any) -> str | None:
        if not isinstance(value, str) or not value:
            return f"must be a {what} name, got {value!r}"
        if len(value) > 128 or not set(value) <= _NAME_CHARS:
            return (f"must be a {what} name of 1 to 128 letters, digits, '-' or '_' "
                    f"(no spaces, '.', '*', '>', '/'), got {value!r}")
        return None
    return check


def _subject(value: Any) -> str | None:
    """A NATS subject: dot-separated non-empty tokens without spaces; '*' and a last
    '>' are wildcards (allowed in an input's subject only, checked later)."""
    if not isinstance(value, str) or not value:
        return f"must be a non-empty NATS subject (e.g. 'events.suricata'), got {value!r}"
    tokens = value.split(".")
    if any(not token or any(c.isspace() for c in token) for token in tokens):
        return (f"must be dot-separated non-empty tokens without spaces "
                f"(e.g. 'events.suricata'), got {value!r}")
    for index, token in enumerate(tokens):
        if ("*" in token and token != "*") or (">" in token and token != ">") or \
                (token == ">" and index != len(tokens) - 1):
            return f"'*' must be a whole token and '>' the last one, got {value!r}"
    return None


def _path(value: Any) -> str | None:
    return None if isinstance(value, str) and value else f"must be a path, got {value!r}"


def _spool(value: Any) -> str | None:
    if not isinstance(value, str):
        return f"must be a directory's path, got {value!r}"
    if not value:
        return None
    if "\0" in value:
        return "must be a directory's path, got a NUL character"
    path = Path(value)
    if path.exists() and not path.is_dir():
        return f"{value!r} exists and is not a directory"
    existing = next(p for p in (path.absolute(), *path.absolute().parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        return f"{str(existing)!r} is not a directory this user can write"
    return None


# name: (default, check, meaning) -- docs/collector.md documents every one.
KEYS: dict[str, dict[str, tuple[Any, Check | None, str]]] = {
    "collector": {
        "queue": (10_000, _int(1, 10_000_000), "Events between the inputs and enrichment; "
                  "when full, TCP and HTTP inputs stop reading, UDP drops and counts."),
        "log_level": ("info", _choice(("debug", "info", "warning", "error")), "Log level."),
        "stats_interval": (60.0, _number(-0.001, 86400), "Seconds between counter log lines; "
                           "0 for none."),
        "drain_timeout": (60.0, _number(0, 3600), "On SIGTERM, seconds to finish the events "
                          "in flight before stopping."),
    },
    "input": {
        "type": (None, _choice(INPUT_TYPES), "tcp | udp | http | file | nats (required)."),
        "name": ("input[N]", _text(1, 128), "A name for logs and counters."),
        "listen": ("", _listen, "host:port to listen on (tcp, udp, http; required)."),
        "path": ("", _path, "The file to follow (file; required)."),
        "format": ("syslog (tcp, udp), json (http, file, nats)", _choice(FORMATS),
                   "How a line is parsed: json | syslog | cef | keyvalue | raw."),
        "preset": ("", _choice(("", *PRESETS)), "Field mapping: eve | sysmon | cef | apache."),
        "framing": ("auto", _choice(("auto", "lf", "octet")), "tcp: LF-terminated lines, "
                    "RFC 6587 octet counting, or either per message (auto)."),
        "max_line_bytes": (1 << 20, _int(64, 64 << 20), "Longer lines are dropped "
                           "and counted."),
        "max_connections": (1000, _int(1, 100_000), "tcp, http: connections at once."),
        "receive_buffer": (4 << 20, _int(4096, 1 << 30), "udp: the socket's receive buffer "
                           "in bytes (the kernel caps it at net.core.rmem_max)."),
        "start_at": ("beginning", _choice(("beginning", "end")), "file: read what is "
                     "already there, or only what is appended."),
        "poll_interval": (0.2, _number(0, 60), "file: seconds between checks for new data "
                          "and rotation."),
        "url": (NATS_URL, _nats_url, "nats: the broker, nats:// or tls:// (several: "
                "comma-separated)."),
        "stream": ("", _nats_name("stream"), "nats: the JetStream stream; created with "
                   "subjects = [subject] if missing (required)."),
        "subject": ("", _subject, "nats: the subject read (wildcards allowed) (required)."),
        "durable": ("", _nats_name("durable consumer"), "nats: the durable pull consumer; "
                    "collectors with the same durable share the messages (required)."),
        "batch": (100, _int(1, 10_000), "nats: messages fetched at once at most (never more "
                  "than the collector queue has room for)."),
        "ack_wait": (30.0, _number(0, 86400), "nats: seconds the broker waits for a "
                     "message's ack before it redelivers it."),
    },
    "rule": {
        "name": (None, _text(1, 128), "1 to 128 Unicode characters, unique (required)."),
        "description": ("", _text(0, 4000), "Up to 4,000 Unicode characters."),
        "tenant": ("General", _text(1, 128), "The tenant (cybertrace-http: in the 1.3 path)."),
        "kind": (None, _choice(RULE_KINDS), "cybertrace (TCP event protocol) | "
                 "cybertrace-http (HTTP lookup API) (required)."),
        "url": (None, _address, "The service, host:port (required)."),
        "connections": ("the number of CPUs", _int(1, 1024), "Connections at most."),
        "rps": (1000, _int(1, 1_000_000), "Requests per second at most, in every "
                "one-second window."),
        "timeout": (30.0, _number(0, 3600), "Seconds an event waits for its answer."),
        "mapping": (None, None, "At least one { field, type }; type ip | url | hash | "
                    "domain (required)."),
        "debug": (False, _bool, "Log every request and answer."),
        "filter": ("", _filter, "Which events the rule enriches (the filter language); "
                   "empty: all."),
        "queue_limit": (1_000_000, _int(1, 100_000_000), "Events waiting for this rule at "
                        "most; when reached, the inputs slow down."),
        "cache_ttl": (5.0, _seconds_or_zero(86400), "Seconds an answer is reused for the same "
                      "request (and a request on its way is shared); 0: no cache."),
        "cache_size": (100_000, _int(1, 100_000_000), "Answers kept in the cache at most "
                       "(the oldest goes first)."),
        "batch": (100, _int(1, 10_000), "cybertrace-http: events looked up in one POST at "
                  "most (only events already waiting are grouped; each still counts "
                  "against rps)."),
        "secret_file": ("", _secret_file, "cybertrace-http: TOML file with user and "
                        "password, mode 600."),
        "user_env": ("", _env_name, "cybertrace-http: variable holding the user."),
        "password_env": ("", _env_name, "cybertrace-http: variable holding the password."),
        "tls": (True, _bool, "cybertrace-http: HTTPS (false: plain HTTP)."),
        "ca_file": ("", _path, "cybertrace-http: PEM bundle to trust (e.g. the service's "
                    "self-signed certificate)."),
        "verify": (True, _bool, "cybertrace-http: check the certificate."),
    },
    "output": {
        "type": (None, _choice(OUTPUT_TYPES), "stdout | file | tcp | udp | http | nats "
                 "(required)."),
        "name": ("output[N]", _text(1, 128), "A name for logs and counters."),
        "path": ("", _path, "file: where (required)."),
        "address": ("", _address, "tcp, udp: the receiver, host:port (required)."),
        "url": ("", _output_url, "http: where events are POSTed as a JSON array "
                "(required); nats: the broker, nats:// or tls:// (default "
                f"{NATS_URL})."),
        "max_bytes": (100 << 20, _int(0, 1 << 40), "file: rotate past this size; 0 never."),
        "backups": (5, _int(0, 1000), "file: rotated files kept (path.1 ... path.N)."),
        "framing": ("lf", _choice(("lf", "octet")), "tcp: LF or RFC 6587 octet counting."),
        "syslog_header": (True, _bool, "tcp, udp: an RFC 5424 header before the JSON."),
        "queue": (10_000, _int(1, 10_000_000), "Events waiting for this output; when full, "
                  "the pipeline waits (backpressure)."),
        "retries": (5, _int(0, 1000), "Attempts after a failed send before the batch is "
                    "dropped and counted, or spooled (-1 not allowed)."),
        "retry_interval": (1.0, _number(0, 600), "Seconds before the first retry (doubles, "
                           "at most 30 s)."),
        "batch": (500, _int(1, 100_000), "Events per write or POST at most."),
        "timeout": (10.0, _number(0.1, 600), "Seconds a connect and a write (tcp) or a "
                    "POST (http) may take before the attempt counts as failed."),
        "spool": ("", _spool, "A directory (created mode 0700) where a batch that still "
                  "fails after its retries is kept, and replayed once the receiver is back; "
                  "empty: none (the batch is dropped)."),
        "spool_max_bytes": (1 << 30, _int(4096, 1 << 50), "spool: its size at most; when "
                            "full, a batch is dropped and counted (spool_full)."),
        "subject": ("", _subject, "nats: the subject every event is published to, no "
                    "wildcards (required)."),
        "stream": ("", _nats_name("stream"), "nats: a stream created with subjects = "
                   "[subject] if missing; empty: a stream must already hold the subject."),
    },
    "api": {
        "url": ("", _url, "The service's HTTP API, for `trapline internal-ti add`."),
        "tenant": ("General", _text(1, 128), "The tenant of the InternalTI list."),
        "secret_file": ("", _secret_file, "TOML file with user and password, mode 600."),
        "user_env": ("", _env_name, "Variable holding the user."),
        "password_env": ("", _env_name, "Variable holding the password."),
        "ca_file": ("", _path, "PEM bundle to trust."),
        "verify": (True, _bool, "Check the certificate."),
        "timeout": (30.0, _number(0, 3600), "Seconds for the request."),
    },
}

SECTION_NAMES = {"collector": "collector", "input": "input", "rule": "rule",
                 "output": "output", "api": "api"}


def _check_table(where: str, table: Any, keys: dict[str, tuple[Any, Check | None, str]],
                 errors: list[str]) -> dict[str, Any]:
    if not isinstance(table, dict):
        errors.append(f"{where}: must be a table, got {type(table).__name__}")
        return {}
    good: dict[str, Any] = {}
    for key, value in table.items():
        if key not in keys:
            errors.append(f"{where}.{key}: unknown key (known: {', '.join(keys)})")
            continue
        check = keys[key][1]
        problem = check(value) if check else None
        if problem:
            errors.append(f"{where}.{key}: {problem}")
        else:
            good[key] = value
    return good


def _required(where: str, table: dict[str, Any], raw: dict[str, Any], names: list[str],
              errors: list[str]) -> bool:
    ok = True
    for name in names:
        if name not in raw:
            errors.append(f"{where}.{name}: required")
            ok = False
        elif name not in table:
            ok = False
    return ok


def _mapping(where: str, value: Any, errors: list[str]) -> tuple[Mapping, ...]:
    if not isinstance(value, list) or not value:
        errors.append(f"{where}.mapping: must hold at least one row "
                      '{ field = "...", type = "ip|url|hash|domain" }')
        return ()
    rows: list[Mapping] = []
    for index, row in enumerate(value):
        here = f"{where}.mapping[{index}]"
        if not isinstance(row, dict):
            errors.append(f"{here}: must be a table {{ field, type }}, got {row!r}")
            continue
        for key in row:
            if key not in ("field", "type"):
                errors.append(f"{here}.{key}: unknown key (known: field, type)")
        field, kind = row.get("field"), row.get("type")
        if not isinstance(field, str) or not field.strip():
            errors.append(f"{here}.field: must name an event field, got {field!r}")
        if kind not in INDICATOR_TYPES:
            errors.append(f"{here}.type: must be one of {', '.join(INDICATOR_TYPES)}; "
                          f"got {kind!r}")
        if isinstance(field, str) and field.strip() and kind in INDICATOR_TYPES:
            rows.append(Mapping(field.strip(), kind))
    return tuple(rows)


def _tables(data: dict[str, Any], name: str, errors: list[str]) -> list[Any]:
    value = data.get(name, [])
    if isinstance(value, dict):
        return [value]
    if not isinstance(value, list):
        errors.append(f"{name}: must be an array of tables ([[{name}]])")
        return []
    return value


def validate(data: dict[str, Any], source: str = "<config>") -> CollectorConfig:
    """Check a parsed TOML document; ``CollectorConfigError`` lists every problem."""
    errors: list[str] = []
    for key in data:
        if key not in SECTION_NAMES:
            errors.append(f"{key}: unknown section (known: [collector], [[input]], [[rule]], "
                          "[[output]], [api])")
    settings = CollectorSettings(**_check_table(
        "collector", data.get("collector", {}), KEYS["collector"], errors))

    inputs: list[InputConfig] = []
    raw_inputs = _tables(data, "input", errors)
    if not raw_inputs:
        errors.append("input: at least one [[input]] is required")
    for index, raw in enumerate(raw_inputs):
        where = f"input[{index}]"
        table = _check_table(where, raw, KEYS["input"], errors)
        if not isinstance(raw, dict) or not _required(where, table, raw, ["type"], errors):
            continue
        kind = table["type"]
        needs = {"file": ["path"], "nats": ["stream", "subject", "durable"]}.get(
            kind, ["listen"])
        if not _required(where, table, raw, needs, errors):
            continue
        nats_only = ("url", "stream", "subject", "durable", "batch", "ack_wait")
        if kind == "nats":
            extra = [key for key in ("listen", "path") if key in raw]
        else:
            extra = [key for key in nats_only if key in raw]
        if extra:
            errors.append(f"{where}.{extra[0]}: not used by an input of type {kind!r}")
            continue
        table.setdefault("name", f"{where}:{kind}")
        table.setdefault("format", "json" if kind in ("http", "file", "nats") else "syslog")
        inputs.append(InputConfig(**table))

    rules: list[RuleConfig] = []
    names: dict[str, int] = {}
    for index, raw in enumerate(_tables(data, "rule", errors)):
        where = f"rule[{index}]"
        keys = {k: v for k, v in KEYS["rule"].items() if k != "mapping"}
        table = _check_table(where, {k: v for k, v in raw.items() if k != "mapping"}
                             if isinstance(raw, dict) else raw, keys, errors)
        if not isinstance(raw, dict):
            continue
        mapping = _mapping(where, raw.get("mapping"), errors)
        ok = _required(where, table, raw, ["name", "kind", "url"], errors) and bool(mapping)
        if "name" in table:
            if table["name"] in names:
                errors.append(f"{where}.name: {table['name']!r} is already the name of "
                              f"rule[{names[table['name']]}]")
                ok = False
            names.setdefault(table["name"], index)
        if table.get("kind") == "cybertrace-http":
            has_file = bool(table.get("secret_file"))
            has_env = bool(table.get("user_env")) or bool(table.get("password_env"))
            if has_file and has_env:
                errors.append(f"{where}.secret_file: give a secret file or user_env and "
                              "password_env, not both")
            elif has_env and not (table.get("user_env") and table.get("password_env")):
                errors.append(f"{where}.password_env: user_env and password_env go together")
            elif not has_file and not has_env and not any(
                    key in raw for key in ("secret_file", "user_env", "password_env")):
                errors.append(f"{where}.secret_file: kind 'cybertrace-http' needs a secret: "
                              "secret_file, or user_env and password_env")
        elif any(key in table for key in ("secret_file", "user_env", "password_env")):
            errors.append(f"{where}.secret_file: a secret is only used by kind "
                          "'cybertrace-http'")
        if ok:
            table.setdefault("connections", os.cpu_count() or 1)
            rules.append(RuleConfig(mapping=mapping, **table))

    outputs: list[OutputConfig] = []
    spools: dict[tuple[str, str], int] = {}
    raw_outputs = _tables(data, "output", errors)
    if not raw_outputs:
        errors.append("output: at least one [[output]] is required")
    for index, raw in enumerate(raw_outputs):
        where = f"output[{index}]"
        table = _check_table(where, raw, KEYS["output"], errors)
        if not isinstance(raw, dict) or not _required(where, table, raw, ["type"], errors):
            continue
        kind = table["type"]
        needs = {"file": ["path"], "tcp": ["address"], "udp": ["address"],
                 "http": ["url"], "nats": ["subject"]}.get(kind, [])
        if not _required(where, table, raw, needs, errors):
            continue
        if kind == "nats":
            table.setdefault("url", NATS_URL)
            if not table["url"].startswith(("nats://", "tls://")):
                errors.append(f"{where}.url: type 'nats' needs a nats:// or tls:// URL, got "
                              f"{table['url']!r}")
                continue
            if any(token in ("*", ">") for token in table["subject"].split(".")):
                errors.append(f"{where}.subject: an output publishes to one subject: no "
                              f"wildcards, got {table['subject']!r}")
                continue
        else:
            if kind == "http" and table["url"].startswith(("nats://", "tls://")):
                errors.append(f"{where}.url: type 'http' needs an http:// or https:// URL, "
                              f"got {table['url']!r}")
                continue
            extra = [key for key in ("subject", "stream") if key in raw]
            if extra:
                errors.append(f"{where}.{extra[0]}: not used by an output of type {kind!r}")
                continue
        table.setdefault("name", f"{where}:{kind}")
        if "spool_max_bytes" in table and not table.get("spool"):
            errors.append(f"{where}.spool_max_bytes: only used with a spool (set spool to a "
                          "directory)")
        if table.get("spool"):
            key = (os.path.abspath(table["spool"]), table["name"])
            if key in spools:
                errors.append(f"{where}.name: output[{spools[key]}] has the same name and "
                              "spool; outputs that share a spool need distinct names")
            spools.setdefault(key, index)
        outputs.append(OutputConfig(**table))

    api = None
    if "api" in data:
        table = _check_table("api", data["api"], KEYS["api"], errors)
        if isinstance(data["api"], dict) and _required("api", table, data["api"], ["url"],
                                                       errors):
            api = ApiConfig(**table)
    if errors:
        raise CollectorConfigError(source, errors)
    return CollectorConfig(collector=settings, inputs=tuple(inputs), rules=tuple(rules),
                           outputs=tuple(outputs), api=api, source=source)


def load_collector_config(path: Path) -> CollectorConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the configuration: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CollectorConfigError(str(path), [f"not valid TOML: {exc}"]) from None
    return validate(data, str(path))
