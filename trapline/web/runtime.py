"""Run-time settings edited from the web interface: what they are, how they are checked,
and the TOML snippet that applies them.

The first-run wizard and the Settings page keep their choices in the store
(``store.settings``) under the configuration file's own dotted names
(``service.listen``, ``output.templates``...), so the snippet is a plain
regrouping. Every value is checked by the configuration's own rules
(``trapline.config``: ``parse_address``, the ``[service]``/``[output]`` checks,
``check_http``; ``templates_from_config``; the rule set names of
``trapline.extract.presets``): what the page accepts, ``trapline serve`` loads.

The service reads its configuration file; the store settings take effect when
the admin applies the snippet and restarts (or reloads, SIGHUP, for the keys
that allow it: ``RELOAD``).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import msgspec

from trapline.config import (
    FrameHost,
    HttpSettings,
    OutputSettings,
    ServiceSettings,
    Settings,
    _check_service,
    check_http,
)
from trapline.errors import ConfigError
from trapline.extract.presets import PRESET_CLASSES
from trapline.index.verdict import Match
from trapline.service.templates import Renderer, Templates, templates_from_config

SETUP_DONE = "setup.completed"
SETUP_SIEM = "setup.siem"
PROXY = "feeds.proxy"
PROXY_USER = "feeds.proxy_user"
PROXY_PASSWORD = "feeds.proxy_password"  # a secret name: never shown (setting_out)
CUSTOM_FEEDS = "feeds.custom"
FEED_SECRETS = "feeds.secret."  # + a feed's name: its credentials (service/feed_credentials)

# Keys a SIGHUP applies (docs/service.md); the others take a restart.
RELOAD = frozenset({"service.rules", "service.max_line_bytes", "service.idle_timeout",
                    "service.max_connections", "service.update_interval", "output.templates",
                    PROXY, PROXY_USER, PROXY_PASSWORD, CUSTOM_FEEDS})

# The keys the Settings form edits, each (store key, label, kind).
FIELDS: list[tuple[str, str, str]] = [
    ("service.listen", "Event service listens on (HOST:PORT)", "str"),
    ("output.address", "Sends events to (HOST:PORT)", "str"),
    ("output.protocol", "Output protocol", "str"),
    ("output.framing", "Output framing", "str"),
    ("service.rules", "Default extraction preset", "str"),
    ("service.update_interval", "Feed scheduler tick (seconds)", "float"),
    ("service.max_line_bytes", "Longest event line (bytes)", "int"),
    ("service.idle_timeout", "Idle connection timeout (seconds)", "float"),
    ("service.max_connections", "Connections per worker", "int"),
    ("http.max_body_mb", "Largest API request (MiB)", "int"),
    ("http.allowed_frame_hosts", "Allowed hosts for embedding", "list"),
    ("output.templates", "Event formats", "templates"),
]
FIELD_KEYS = frozenset(key for key, _, _ in FIELDS)
TEMPLATE_KEYS = ("detection", "context_item", "alert", "alert_context_item", "finished")


@dataclass(frozen=True)
class Siem:
    key: str
    label: str
    rules: str
    templates: dict[str, str]
    note: str


SIEMS = [
    Siem("kuma", "Kaspersky KUMA", "kuma", {},
         "KUMA enrichment requests; the integration guide's event format."),
    Siem("splunk", "Splunk", "keyvalue",
         {"detection": "category=%Category% matched_indicator=%MatchedIndicator% "
                       "feed=%Feed%%RecordContext%",
          "context_item": " %ParamName%=%ParamValue%"},
         "key=value events (the Splunk app); key=value detections."),
    Siem("qradar", "IBM QRadar", "keyvalue",
         {"detection": "LEEF:2.0|trapline|trapline|1.0|%Category%|^|"
                       "matchedIndicator=%MatchedIndicator%^feed=%Feed%%RecordContext%",
          "context_item": "^%ParamName%=%ParamValue%"},
         "key=value events; LEEF 2.0 detections (delimiter ^)."),
    Siem("arcsight", "Micro Focus ArcSight", "cef",
         {"detection": "CEF:0|trapline|trapline|1.0|%Category%|Indicator matched|7|"
                       "cs1Label=indicator cs1=%MatchedIndicator% cs2Label=feed cs2=%Feed% "
                       "msg=%IndicatorInfo%"},
         "CEF events; CEF detections."),
    Siem("syslog", "Generic syslog", "generic", {},
         "Any text: every indicator found in an event is looked up."),
]
SIEM_BY_KEY = {s.key: s for s in SIEMS}

SAMPLE = Match(how="exact", pattern="fakess123.nu", feed="Demo_Botnet_CnC_URL.json",
               category="Demo_Botnet_CnC_URL",
               context={"first_seen": "2024-05-19T08:32:00Z", "popularity": 5,
                        "whois": {"country": "US"}})


class Refused(ValueError):
    """An invalid value, with a message for the page."""


def base_settings(settings: Settings | None) -> Settings:
    return settings if settings is not None else Settings(data_dir=Path("."))


def in_force(settings: Settings | None) -> dict[str, Any]:
    """The configuration file's values of the FIELDS keys."""
    s = base_settings(settings)
    out: dict[str, Any] = {}
    for key, _, _ in FIELDS:
        section, name = key.split(".", 1)
        out[key] = getattr(getattr(s, section), name)
    out["output.templates"] = dict(out["output.templates"])
    return out


def effective(settings: Settings | None, stored: dict[str, Any]) -> dict[str, Any]:
    """The values the next start will use once the stored ones are applied."""
    values = in_force(settings)
    values.update({k: v for k, v in stored.items() if k in values})
    return values


def rule_set_names(settings: Settings | None) -> list[str]:
    names = list(PRESET_CLASSES)
    for table in base_settings(settings).rule_sets:
        name = table.get("name")
        if isinstance(name, str) and name not in names:
            names.append(name)
    return names


def validate(settings: Settings | None, changes: dict[str, Any]) -> dict[str, Any]:
    """``changes`` (store key -> value) checked against the configuration's rules, merged
    with the configuration in force. The accepted values; ``Refused`` with the reason."""
    s = base_settings(settings)
    sections: dict[str, dict[str, Any]] = {
        "service": msgspec.to_builtins(s.service), "output": msgspec.to_builtins(s.output),
        "http": msgspec.to_builtins(s.http)}
    for key, value in changes.items():
        section, name = key.split(".", 1)
        if section not in sections:
            raise Refused(f"{key}: not a setting of this page")
        sections[section][name] = value
    for host in sections["http"].get("allowed_frame_hosts") or []:
        try:
            msgspec.convert(host, FrameHost)  # the configuration's own pattern
        except msgspec.ValidationError:
            raise Refused(f"Refused: http.allowed_frame_hosts: {str(host)[:100]!r} is not "
                          "host[:port] or https://host[:port].") from None
    structs: dict[str, Any] = {}
    for section, kind in (("service", ServiceSettings), ("output", OutputSettings),
                          ("http", HttpSettings)):
        try:
            structs[section] = msgspec.convert(sections[section], kind, strict=False)
        except msgspec.ValidationError as exc:
            where = str(exc).rpartition("`$.")[2].rstrip("`")
            raise Refused(f"Refused: {section}.{where}: {str(exc).partition(' - at')[0]}.") \
                from None
    service, output, http = structs["service"], structs["output"], structs["http"]
    for number in (service.idle_timeout, service.update_interval):
        if not math.isfinite(number):
            raise Refused("Refused: a number must be finite.")
    try:
        _check_service(service, output, None)
        check_http(http)
        templates_from_config(output.templates)
    except ConfigError as exc:
        raise Refused(f"Refused: {exc}.") from None
    if service.rules not in rule_set_names(settings):
        raise Refused(f"Refused: service.rules: no rule set named {service.rules!r} "
                      f"(presets: {', '.join(rule_set_names(settings))}).")
    accepted: dict[str, Any] = {}
    for key in changes:
        section, name = key.split(".", 1)
        value = getattr({"service": service, "output": output, "http": http}[section], name)
        accepted[key] = dict(value) if isinstance(value, dict) else \
            list(value) if isinstance(value, list) else value
    return accepted


def check_proxy(url: str, user: str) -> str:
    """A proxy for feed downloads: ``http(s)://host:port`` without credentials in it."""
    if not url:
        if user:
            raise Refused("Refused: a proxy user needs a proxy address.")
        return ""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise Refused(f"Refused: proxy: {url[:200]!r} is not a URL ({exc}).") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise Refused("Refused: proxy: give http://HOST:PORT or https://HOST:PORT.")
    if parsed.userinfo:
        raise Refused("Refused: proxy: put the user and password in their own fields.")
    if parsed.path not in ("", "/") or parsed.query:
        raise Refused("Refused: proxy: an address has no path or query.")
    if len(user) > 256:
        raise Refused("Refused: proxy user: at most 256 characters.")
    return str(parsed).rstrip("/")


def preview(templates: dict[str, Any]) -> tuple[str, str]:
    """A sample detection and a sample alert rendered with ``templates`` (no validation
    here: the caller checked them)."""
    from trapline.alerts import Alert

    renderer = Renderer(msgspec.convert(templates, Templates, strict=False))
    now = 1_716_107_520.0
    return (renderer.detection(SAMPLE, observable="http://fakess123.nu/a", now=now),
            renderer.alert(Alert("KL_ALERT_UpdatedFeed", {"feed": SAMPLE.feed,
                                                          "records": "1024"})))


def try_preview(templates: dict[str, Any]) -> tuple[str, str, str]:
    """``preview`` or the reason the templates are refused."""
    try:
        templates_from_config(templates)
    except ConfigError as exc:
        return "", "", f"Refused: {exc}."
    return (*preview(templates), "")


# -- the TOML snippet ----------------------------------------------------------------------


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(type(value))


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name)


def _table(path: str, table: dict[str, Any], *, array: bool = False) -> list[str]:
    """A TOML table and its sub-tables (``[feeds.csv]``, ``[feeds.fields.MD5]``)."""
    lines = [f"[[{path}]]" if array else f"[{path}]"]
    lines += [f"{_key(k)} = {_toml(v)}" for k, v in table.items() if not isinstance(v, dict)]
    lines.append("")
    for k, v in table.items():
        if isinstance(v, dict):
            lines += _table(f"{path}.{_key(k)}", v)
    return lines


def snippet(stored: dict[str, Any]) -> str:
    """The store's run-time settings as configuration file TOML (secrets left out)."""
    tables: dict[str, dict[str, Any]] = {}
    for key, value in sorted(stored.items()):
        section, _, name = key.partition(".")
        if section in ("service", "output", "http") and name and name != "templates":
            tables.setdefault(section, {})[name] = value
    lines: list[str] = []
    for section in ("service", "output", "http"):
        if section in tables:
            lines.append(f"[{section}]")
            lines += [f"{k} = {_toml(v)}" for k, v in tables[section].items()]
            lines.append("")
        if section == "output" and isinstance(stored.get("output.templates"), dict) \
                and stored["output.templates"]:
            lines.append("[output.templates]")
            lines += [f"{k} = {_toml(v)}" for k, v in stored["output.templates"].items()]
            lines.append("")
    for feed in stored.get(CUSTOM_FEEDS) or []:
        if isinstance(feed, dict):
            lines += _table("feeds", feed, array=True)
    proxy = stored.get(PROXY)
    if proxy:
        user = stored.get(PROXY_USER) or ""
        shown = proxy.replace("://", f"://{user}:<password>@", 1) if user else proxy
        lines.append("# Feed downloads through a proxy: in each [[feeds]] with a URL source,")
        lines.append("# [feeds.http]")
        lines.append(f"# proxy = {_toml(shown)}")
        lines.append("")
    return "\n".join(lines).strip() + "\n" if lines else ""


def applies_at_reload(key: str) -> bool:
    return key in RELOAD or key.startswith(FEED_SECRETS)


def needs_restart(keys: list[str]) -> bool:
    return any(not applies_at_reload(k) for k in keys)
