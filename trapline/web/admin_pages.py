"""Administrators' pages: Users, Audit log, Settings.

    GET  /users                 every user; add one
    POST /users                 name, password, role, tenant
    POST /users/{name}          action = role | disable | enable | password | delete
    GET  /audit?actor=&action=&target=&cursor=
    GET  /settings              the configuration in force, and the run-time settings
    POST /settings              key, value (JSON): set one run-time setting
    POST /settings/delete       key: remove one (its default applies again)

The rules are the API's: the last enabled Administrator stays, passwords are
hashed off the event loop, secret settings are never shown.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlencode

from starlette.responses import Response

from trapline.security.passwords import hash_password_async
from trapline.security.roles import Permission, Role
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
                                "at the next restart."}
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


async def settings_page(call: PageCall, *, error: str = "", status: int = 200,
                        key: str = "", value: str = "",
                        service: dict[str, Any] | None = None) -> Response:
    stored = [setting_out(s) for s in await call.run(call.store.settings.all)]
    if service is None:
        service = await setup_pages.service_form(
            call, notice=SERVICE_NOTICE if call.arg("notice") == "service" else "")
    return call.render("settings.html", status, title="Settings", stored=stored, **service,
                       configuration=_configuration(call), error=error, key=key, value=value,
                       notice=SETTING_NOTICES.get(call.arg("notice"), ""),
                       can_reload=call.context.request_reload is not None,
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
]
