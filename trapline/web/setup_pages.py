"""The first-run wizard and the service settings form (Administrators).

    GET  /setup                 the wizard: SIEM, connection, proxy for feed downloads
    POST /setup                 check and keep the choices as run-time settings
    GET  /setup/done            what was kept, the TOML snippet, how to apply it
    POST /setup/skip            mark the wizard done without changing anything
    POST /settings/service      action = preview | save: listeners, output, event
                                formats (with a sample detection), limits, frame hosts,
                                proxy
    GET  /settings/config.toml  the run-time settings as a configuration file snippet

Every value is checked by the configuration's own rules (``trapline.web.runtime``);
an invalid one is refused with the reason and nothing is kept. The choices are kept
in the store (``store.settings``); the service applies them once the snippet is in
its configuration file and it is restarted (or reloaded, SIGHUP, for the keys that
allow it). An Administrator who signs in before the wizard is done is sent to it.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from trapline.config import parse_address
from trapline.errors import ConfigError
from trapline.security.roles import Permission
from trapline.service.http.operations import Operation, needs
from trapline.web import runtime
from trapline.web.guard import PageCall
from trapline.web.runtime import Refused

DEFAULT_LISTEN = ("0.0.0.0", "9999")
DEFAULT_OUTPUT = ("127.0.0.1", "9998")


async def _stored(call: PageCall) -> dict[str, Any]:
    return {s.key: s.value for s in await call.run(call.store.settings.all)}


async def setup_pending(call: PageCall) -> bool:
    """Whether an Administrator still has the first-run wizard to go through."""
    principal = call.principal
    if principal is None or not principal.can(Permission.SETTINGS_MANAGE) \
            or call.context.store is None:
        return False
    return await call.run(call.store.settings.get, runtime.SETUP_DONE) is None


def _split(address: str, default: tuple[str, str]) -> tuple[str, str]:
    try:
        host, port = parse_address(address, "address")
    except ConfigError:
        return default
    return host, str(port)


def _join(host: str, port: str) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# -- the wizard -----------------------------------------------------------------------------


async def wizard(call: PageCall, *, error: str = "", status: int = 200,
                 form: dict[str, str] | None = None) -> Response:
    stored = await _stored(call)
    values = runtime.effective(call.context.settings, stored)
    listen = _split(values["service.listen"], DEFAULT_LISTEN)
    output = _split(values["output.address"], DEFAULT_OUTPUT)
    defaults = {"siem": stored.get(runtime.SETUP_SIEM, "kuma"),
                "listen_host": listen[0], "listen_port": listen[1],
                "output_host": output[0], "output_port": output[1],
                "proxy": stored.get(runtime.PROXY, ""),
                "proxy_user": stored.get(runtime.PROXY_USER, "")}
    return call.render("setup.html", status, title="First-run setup", siems=runtime.SIEMS,
                       form={**defaults, **(form or {})}, error=error,
                       done=runtime.SETUP_DONE in stored)


def _wizard_changes(call: PageCall) -> dict[str, Any]:
    """The wizard's form as store settings; Refused when a value is invalid."""
    siem = runtime.SIEM_BY_KEY.get(call.field("siem"))
    if siem is None:
        raise Refused("Refused: choose the SIEM that sends the events.")
    listen = _join(call.field("listen_host"), call.field("listen_port"))
    output = _join(call.field("output_host"), call.field("output_port"))
    try:
        parse_address(listen, "The service listens on")
        parse_address(output, "The service sends events to")
    except ConfigError as exc:
        raise Refused(f"Refused: {exc} (a port is 1 to 65535).") from None
    changes = runtime.validate(call.context.settings, {
        "service.listen": listen, "output.address": output, "service.rules": siem.rules,
        "output.templates": dict(siem.templates)})
    proxy = runtime.check_proxy(call.field("proxy"), call.field("proxy_user"))
    return {**changes, runtime.SETUP_SIEM: siem.key, runtime.PROXY: proxy,
            runtime.PROXY_USER: call.field("proxy_user") if proxy else ""}


async def _keep(call: PageCall, changes: dict[str, Any]) -> None:
    """Keep the values that differ from the configuration in force; an empty proxy
    removes the proxy settings."""
    stored = await _stored(call)
    in_force = runtime.in_force(call.context.settings)
    for key, value in changes.items():
        if (key in (runtime.PROXY, runtime.PROXY_USER) and not value) \
                or (key in in_force and value == in_force[key]):
            if key in stored:  # nothing to apply: the configuration file's value stays
                await call.run(call.store.settings.delete, call.actor, key)
            continue
        if stored.get(key) != value:
            await call.run(call.store.settings.set, call.actor, key, value)


async def wizard_submit(call: PageCall) -> Response:
    form = {k: call.field(k) for k in ("siem", "listen_host", "listen_port", "output_host",
                                       "output_port", "proxy", "proxy_user")}
    try:
        changes = _wizard_changes(call)
    except Refused as exc:
        return await wizard(call, error=str(exc), status=400, form=form)
    password = call.form.get("proxy_password", "")
    if len(password) > 1024:
        return await wizard(call, error="Refused: the proxy password is too long.",
                            status=400, form=form)
    await _keep(call, changes)
    if changes[runtime.PROXY] and password:
        await call.run(call.store.settings.set, call.actor, runtime.PROXY_PASSWORD, password)
    elif not changes[runtime.PROXY] and runtime.PROXY_PASSWORD in await _stored(call):
        await call.run(call.store.settings.delete, call.actor, runtime.PROXY_PASSWORD)
    await call.run(call.store.settings.set, call.actor, runtime.SETUP_DONE, True)
    return call.redirect("/setup/done")


async def wizard_done(call: PageCall) -> Response:
    stored = await _stored(call)
    siem = runtime.SIEM_BY_KEY.get(stored.get(runtime.SETUP_SIEM, ""))
    values = runtime.effective(call.context.settings, stored)
    detection, _, _ = runtime.try_preview(values["output.templates"])
    return call.render("setup_done.html", title="Setup complete", siem=siem, values=values,
                       proxy=stored.get(runtime.PROXY, ""), detection=detection,
                       snippet=runtime.snippet(stored), config_path=_config_path(call))


async def wizard_skip(call: PageCall) -> Response:
    await call.run(call.store.settings.set, call.actor, runtime.SETUP_DONE, "skipped")
    return call.redirect("/")


def _config_path(call: PageCall) -> str:
    settings = call.context.settings
    return str(settings.path) if settings is not None and settings.path else ""


# -- the service settings form --------------------------------------------------------------


def _number(text: str, kind: str, key: str) -> int | float:
    try:
        return int(text) if kind == "int" else float(text)
    except ValueError:
        whole = "a whole number" if kind == "int" else "a number"
        raise Refused(f"Refused: {key}: {text[:40]!r} is not {whole}.") from None


def _form_values(call: PageCall) -> dict[str, Any]:
    """The Settings form as store settings (not yet checked)."""
    values: dict[str, Any] = {}
    for key, _, kind in runtime.FIELDS:
        if kind == "templates":
            found = {name: call.form.get(f"tpl_{name}", "").strip("\r\n")
                     for name in runtime.TEMPLATE_KEYS}
            values[key] = {name: text for name, text in found.items() if text}
        elif kind == "list":
            values[key] = [line.strip() for line in call.form.get(key, "").splitlines()
                           if line.strip()]
        else:
            values[key] = call.field(key)
    return values


def _checked(call: PageCall, values: dict[str, Any]) -> dict[str, Any]:
    converted = dict(values)
    for key, _, kind in runtime.FIELDS:
        if kind in ("int", "float"):
            converted[key] = _number(values[key], kind, key)
    return runtime.validate(call.context.settings, converted)


async def service_form(call: PageCall, *, values: dict[str, Any] | None = None,
                       error: str = "", notice: str = "", status: int = 200,
                       proxy: tuple[str, str] | None = None) -> dict[str, Any]:
    """What settings.html needs for the service form (shown by admin_pages.settings_page)."""
    stored = await _stored(call)
    shown = values if values is not None else runtime.effective(call.context.settings,
                                                                stored)
    templates = {name: shown["output.templates"].get(name, getattr(
        runtime.Templates(), name)) for name in runtime.TEMPLATE_KEYS}
    detection, alert, preview_error = runtime.try_preview(
        {k: v for k, v in templates.items() if v})
    pending = sorted(k for k in stored if k in runtime.FIELD_KEYS or k.startswith("feeds."))
    return {"fields": runtime.FIELDS, "shown": shown, "templates": templates,
            "rule_sets": runtime.rule_set_names(call.context.settings),
            "sample_detection": detection, "sample_alert": alert,
            "preview_error": preview_error, "service_error": error,
            "service_notice": notice, "snippet": runtime.snippet(stored),
            "pending": pending, "restart": runtime.needs_restart(pending),
            "reload_keys": [k for k in pending if runtime.applies_at_reload(k)],
            "proxy": proxy if proxy is not None else (stored.get(runtime.PROXY, ""),
                                                      stored.get(runtime.PROXY_USER, ""))}


async def service_submit(call: PageCall) -> Response:
    from trapline.web.admin_pages import settings_page

    values = _form_values(call)
    proxy = (call.field("proxy"), call.field("proxy_user"))
    shown = dict(values)
    try:
        accepted = _checked(call, values)
        proxy_url = runtime.check_proxy(*proxy)
    except Refused as exc:
        return await settings_page(call, status=400, service=await service_form(
            call, values=shown, error=str(exc), proxy=proxy))
    if call.field("action") == "preview":
        return await settings_page(call, service=await service_form(
            call, values=shown, proxy=proxy,
            notice="Preview only: nothing is saved until you press Save."))
    stored = await _stored(call)
    in_force = runtime.in_force(call.context.settings)
    for key, value in accepted.items():
        if key == "output.templates":
            value = {k: v for k, v in value.items() if v != getattr(runtime.Templates(), k)}
        if value == in_force.get(key) or (key == "output.templates" and not value
                                          and not in_force[key]):
            if key in stored:  # back to the configuration file's value
                await call.run(call.store.settings.delete, call.actor, key)
        elif stored.get(key) != value:
            await call.run(call.store.settings.set, call.actor, key, value)
    await _keep(call, {runtime.PROXY: proxy_url,
                       runtime.PROXY_USER: proxy[1] if proxy_url else ""})
    return call.redirect("/settings?notice=service#service")


async def config_snippet(call: PageCall) -> Response:
    text = runtime.snippet(await _stored(call)) or "# No run-time setting to apply.\n"
    return Response(text, media_type="application/toml; charset=utf-8", headers={
        "Content-Disposition": 'attachment; filename="trapline-settings.toml"'})


SETTINGS = needs(Permission.SETTINGS_MANAGE)

OPERATIONS = [
    Operation("GET", "/setup", wizard, SETTINGS, "First-run wizard", "web"),
    Operation("POST", "/setup", wizard_submit, SETTINGS, "Complete the first-run wizard",
              "web"),
    Operation("GET", "/setup/done", wizard_done, SETTINGS, "First-run wizard: done", "web"),
    Operation("POST", "/setup/skip", wizard_skip, SETTINGS, "Skip the first-run wizard",
              "web"),
    Operation("POST", "/settings/service", service_submit, SETTINGS,
              "Preview or save the service settings", "web"),
    Operation("GET", "/settings/config.toml", config_snippet, SETTINGS,
              "The run-time settings as TOML", "web"),
]
