"""Administrators' pages: Users, Audit log, Settings.

    GET  /users                 every user; add one
    POST /users                 name, password, role, tenant
    POST /users/{name}          action = role | disable | enable | password | delete
    GET  /audit?actor=&action=&target=&cursor=
    GET  /settings              the configuration in force, and the run-time settings
    POST /settings              key, value (JSON): set one run-time setting
    POST /settings/delete       key: remove one (its default applies again)
    POST /settings/restart      check the configuration and the new ports, then restart
    GET  /settings/restart/status   {"boot": ...}: which start of the service answers
    POST /settings/feed-credentials feed, action = set | clear, username, password, token

The rules are the API's: the last enabled Administrator stays, passwords are
hashed off the event loop, secret settings are never shown. Feed source
credentials are kept encrypted (trapline.service.feed_credentials): the pages
show whether one is set, never the secret.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

from starlette.background import BackgroundTask
from starlette.responses import JSONResponse, Response

from trapline.errors import TraplineError
from trapline.security.passwords import hash_password_async
from trapline.security.roles import Permission, Role
from trapline.service import feed_credentials
from trapline.service.http.admin_api import _keeps_an_administrator, setting_out
from trapline.service.http.errors import ApiError
from trapline.service.http.operations import Operation, needs
from trapline.web import setup_pages
from trapline.web.guard import PageCall

USER_NOTICES = {"created": "User created.", "role": "Role changed.", "disable": "User disabled.",
                "enable": "User enabled.", "password": "Password reset; the user must "
                "change it at the next sign-in.", "delete": "User deleted."}
SETTING_NOTICES = {"saved": "Setting saved.", "deleted": "Setting removed.",
                   "reloading": "The service is reloading its configuration: the settings "
                                "marked reload apply within seconds; those marked restart "
                                "at the next restart (Restart now).",
                   "restarted": "The service restarted: every setting kept here is in force.",
                   "credentials": "Feed credentials saved (encrypted). They apply at the next "
                                  "reload (Apply now) or restart.",
                   "credentials-cleared": "Feed credentials removed: the configuration "
                                          "file's apply again at the next reload."}
SERVICE_NOTICE = ("Saved in the store. The service applies it at its next reload (SIGHUP, "
                  "or Apply now below) or restart, as marked.")
ROLES = [Role.ANALYST.value, Role.ADMINISTRATOR.value]


async def users(call: PageCall, *, error: str = "", status: int = 200) -> Response:
    found = await call.run(call.store.users.all)
    tenants = [t.name for t in await call.run(call.store.tenants.all)]
    return call.render("users.html", status, title="Users", users=found, tenants=tenants,
                       roles=ROLES, error=error,
                       notice=USER_NOTICES.get(call.arg("notice"), ""))


async def create_user(call: PageCall) -> Response:
    name, password = call.field("name"), call.form.get("password", "")
    role, tenant = call.field("role", Role.ANALYST.value), call.field("tenant", "General")
    if not name or len(name) > 128:
        return await users(call, error="A user name has 1 to 128 characters.", status=400)
    if not 8 <= len(password) <= 1024:
        return await users(call, error="A password has 8 to 1,024 characters.", status=400)
    if role not in ROLES:
        return await users(call, error=f"Unknown role {role!r}.", status=400)
    hashed = await hash_password_async(password)
    await call.run(call.store.users.create, call.actor, name, hashed, role=role,
                   tenant=tenant, must_change_password=call.field("must_change") == "on")
    return call.redirect("/users?notice=created")


async def change_user(call: PageCall) -> Response:
    name = call.path("name")
    action = call.field("action")
    store = call.store
    if action == "role":
        role = call.field("role")
        if role not in ROLES:
            raise ApiError(400, f"unknown role {role[:40]!r}")
        await call.run(_keeps_an_administrator, store, name, role=role)
        await call.run(store.users.update, call.actor, name, role=role)
    elif action in ("disable", "enable"):
        if action == "disable":
            await call.run(_keeps_an_administrator, store, name, disabled=True)
        await call.run(store.users.update, call.actor, name, disabled=action == "disable")
    elif action == "password":
        password = call.form.get("password", "")
        if not 8 <= len(password) <= 1024:
            return await users(call, error="A password has 8 to 1,024 characters.",
                               status=400)
        hashed = await hash_password_async(password)
        await call.run(store.users.set_password, call.actor, name, hashed,
                       must_change_password=True)
        if call.context.limiter is not None:
            await call.run(call.context.limiter.reset, name)
    elif action == "delete":
        if name == call.user.name:
            raise ApiError(409, "you cannot delete yourself")
        await call.run(_keeps_an_administrator, store, name, deleted=True)
        await call.run(store.users.delete, call.actor, name)
    else:
        raise ApiError(400, f"unknown action {action[:40]!r}")
    call.forget_user(name)
    return call.redirect(f"/users?notice={action}")


async def audit(call: PageCall) -> Response:
    wanted = {name: call.arg(name).strip()[:128] for name in ("actor", "action", "target")}
    cursor = call.arg("cursor")[:64] or None
    page = await call.run(call.store.audit.search, actor=wanted["actor"] or None,
                          action=wanted["action"] or None, target=wanted["target"] or None,
                          limit=50, cursor=cursor)
    base = {k: v for k, v in wanted.items() if v}
    next_url = f"/audit?{urlencode({**base, 'cursor': page.next_cursor})}" \
        if page.next_cursor else ""
    return call.render("audit.html", title="Audit log", items=page.items, filters=wanted,
                       next_url=next_url, first_url=f"/audit?{urlencode(base)}",
                       paged=cursor is not None)


def _configuration(call: PageCall) -> list[tuple[str, list[tuple[str, Any]]]]:
    """The configuration file's settings in force, by section (secrets left out)."""
    settings = call.context.settings
    if settings is None:
        return []
    http = settings.http
    return [
        ("Event service", [("Listens on", settings.service.listen),
                           ("Workers", settings.service.workers or "one per CPU"),
                           ("Default extraction rules", settings.service.rules),
                           ("Feed scheduler tick (s)", settings.service.update_interval)]),
        ("Output", [("Sends events to", f"{settings.output.address} "
                                        f"({settings.output.protocol}, "
                                        f"{settings.output.framing})"),
                    ("Retries", settings.output.retries),
                    ("Disk spool", settings.output.spool_dir or "none")]),
        ("Web interface and API", [("Listens on", http.listen), ("HTTPS", http.tls),
                                   ("Largest request (MiB)", http.max_body_mb),
                                   ("Allowed hosts for embedding",
                                    ", ".join(http.allowed_frame_hosts) or "none")]),
        ("Feeds", [("Configured feeds", len(settings.feeds) or "the demo feeds")]),
        ("Store", [("Database", "SQLite in the data directory" if not settings.store.url
                    else "PostgreSQL"),
                   ("Detections kept (days)", settings.store.keep_detections_days)]),
    ]


def _feed_credentials(call: PageCall, kept: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per HTTP(S)/TAXII feed in force, and per kept credential of a feed that is
    no longer configured: what authenticates it (never the secret)."""
    settings = call.context.settings
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for feed in settings.feeds if settings is not None else []:
        if not feed.is_remote or feed.name in seen:
            continue
        seen.add(feed.name)
        http = feed.http
        in_file = "bearer token" if http.token or http.token_env else \
            f"user {http.username}" if http.username else "none"
        rows.append({"name": feed.name, "configured": True, "file": in_file,
                     "kept": _kept(kept, feed.name)})
    for name in sorted(kept):
        if name not in seen:
            rows.append({"name": name, "configured": False, "file": "",
                         "kept": _kept(kept, name)})
    return rows


def _kept(kept: dict[str, Any], name: str) -> dict[str, str] | None:
    return feed_credentials.describe(kept[name]) if name in kept else None


async def settings_page(call: PageCall, *, error: str = "", status: int = 200,
                        key: str = "", value: str = "",
                        service: dict[str, Any] | None = None,
                        credentials_error: str = "", credentials_feed: str = "") -> Response:
    raw = await call.run(call.store.settings.all)
    stored = [setting_out(s) for s in raw]
    kept = {s.key[len(feed_credentials.PREFIX):]: s.value for s in raw
            if feed_credentials.is_credential_key(s.key)}
    if service is None:
        service = await setup_pages.service_form(
            call, notice=SERVICE_NOTICE if call.arg("notice") == "service" else "")
    return call.render("settings.html", status, title="Settings", stored=stored, **service,
                       configuration=_configuration(call), error=error, key=key, value=value,
                       notice=SETTING_NOTICES.get(call.arg("notice"), ""),
                       can_reload=call.context.request_reload is not None,
                       can_restart=call.context.request_restart is not None,
                       feed_credentials=_feed_credentials(call, kept),
                       credentials_error=credentials_error,
                       credentials_feed=credentials_feed,
                       config_path=str(call.context.settings.path or "")
                       if call.context.settings is not None else "")


async def set_setting(call: PageCall) -> Response:
    key, text = call.field("key"), call.form.get("value", "")
    if not key or len(key) > 128 or not all(c.isalnum() or c in "._-" for c in key):
        return await settings_page(call, status=400, key=key, value=text,
                                   error="Refused: a key has 1 to 128 letters, digits, dots, "
                                         "dashes or underscores.")
    try:
        value = json.loads(text)
    except ValueError as exc:
        return await settings_page(call, status=400, key=key, value=text,
                                   error=f"Refused: the value is not JSON ({exc}). Strings "
                                         "take quotes: \"text\".")
    await call.run(call.store.settings.set, call.actor, key, value)
    return call.redirect("/settings?notice=saved")


async def delete_setting(call: PageCall) -> Response:
    await call.run(call.store.settings.delete, call.actor, call.field("key"))
    return call.redirect("/settings?notice=deleted")


async def apply_settings(call: PageCall) -> Response:
    reload = call.context.request_reload
    if reload is None:
        return await settings_page(call, status=503,
                                   error="This server is not run by `trapline serve`: "
                                         "nothing to reload.")
    reload()
    return call.redirect("/settings?notice=reloading")


async def restart_service(call: PageCall) -> Response:
    """Check that a restart can start, answer at once, then ask the supervisor for it."""
    check, restart = call.context.check_restart, call.context.request_restart
    if check is None or restart is None:
        return await settings_page(call, status=503,
                                   error="This server is not run by `trapline serve`: "
                                         "nothing to restart.")
    try:
        settings = await call.run(check)
    except TraplineError as exc:
        return await settings_page(call, status=409,
                                   error=f"Restart refused, the service keeps running: {exc}")
    await call.run(call.store.audit.note, call.actor, "service.restart", "service", details={
        "listen": settings.service.listen,
        "http": settings.http.listen if settings.http.enabled else None})
    moved = _moved_to(call, settings)
    response = call.render("restarting.html", title="Restarting", boot=call.context.boot,
                           moved=moved, listen=settings.service.listen,
                           next_url="/settings?notice=restarted")
    response.background = BackgroundTask(restart)  # once the answer has left
    return response


def _moved_to(call: PageCall, settings: Any) -> str:
    """The web interface's new address when the restart moves it ("" when it stays)."""
    if not settings.http.enabled:
        return ""
    from trapline.config import parse_address

    port = parse_address(settings.http.listen, "http.listen")[1]
    scheme = "https" if settings.http.tls else "http"
    url = call.request.url
    before = call.context.started_with
    if before is not None and before.http.enabled:  # (behind a proxy the URL may differ)
        if parse_address(before.http.listen, "http.listen")[1] == port \
                and before.http.tls == settings.http.tls:
            return ""
    elif url.port == port and url.scheme == scheme:
        return ""
    host = url.hostname or "localhost"
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}:{port}/settings?notice=restarted"


async def restart_status(call: PageCall) -> Response:
    """Which start of the service answers: the restarting page waits for another one."""
    return JSONResponse({"boot": call.context.boot})


async def set_feed_credentials(call: PageCall) -> Response:
    name, action = call.field("feed"), call.field("action")
    settings = call.context.settings
    remote = {f.name for f in (settings.feeds if settings is not None else []) if f.is_remote}
    key = feed_credentials.credential_key(name)
    if action == "clear":
        if await call.run(call.store.settings.find, key) is not None:
            await call.run(call.store.settings.delete, call.actor, key)
        return call.redirect("/settings?notice=credentials-cleared#feed-credentials")
    if action != "set":
        raise ApiError(400, f"unknown action {action[:40]!r}")
    if name not in remote:
        return await settings_page(call, status=400, credentials_feed=name[:128],
                                   credentials_error="Refused: no HTTP(S) or TAXII feed of "
                                                     "that name is configured.")
    if settings is None:
        raise ApiError(503, "no configuration in force")
    try:
        value = await call.run(feed_credentials.seal, settings.data_dir,
                               username=call.field("username"),
                               password=call.form.get("password", ""),
                               token=call.form.get("token", "").strip())
    except TraplineError as exc:
        return await settings_page(call, status=400, credentials_feed=name,
                                   credentials_error=f"Refused: {exc}.")
    await call.run(call.store.settings.set, call.actor, key, value)
    return call.redirect("/settings?notice=credentials#feed-credentials")


def user_path(name: str) -> str:
    return "/users/" + quote(name, safe="")


USERS = needs(Permission.USERS_MANAGE)
SETTINGS = needs(Permission.SETTINGS_MANAGE)

OPERATIONS = [
    Operation("GET", "/users", users, USERS, "Users page", "web"),
    Operation("POST", "/users", create_user, USERS, "Create a user", "web"),
    Operation("POST", "/users/{name}", change_user, USERS, "Change a user", "web"),
    Operation("GET", "/audit", audit, needs(Permission.AUDIT_READ), "Audit log page", "web"),
    Operation("GET", "/settings", settings_page, SETTINGS, "Settings page", "web"),
    Operation("POST", "/settings", set_setting, SETTINGS, "Set a run-time setting", "web"),
    Operation("POST", "/settings/delete", delete_setting, SETTINGS,
              "Remove a run-time setting", "web"),
    Operation("POST", "/settings/apply", apply_settings, SETTINGS,
              "Apply the kept settings now (reload the service)", "web"),
    Operation("POST", "/settings/restart", restart_service, SETTINGS,
              "Restart the service (after checking it can start)", "web"),
    Operation("GET", "/settings/restart/status", restart_status, SETTINGS,
              "Which start of the service answers (the restarting page polls it)", "web"),
    Operation("POST", "/settings/feed-credentials", set_feed_credentials, SETTINGS,
              "Set or clear a feed's source credentials", "web"),
]
