"""The access matrix: every route x every kind of caller x own and another tenant.

The routes come from the app itself (Starlette's route table, plus the bare
lookup routes), so a route added tomorrow is in the matrix at once; a route
whose endpoint declares no access rule fails the test. What each caller may
do follows from the route's declared permission and tenant rule
(``trapline.security.roles``), not from a list kept here.

Requests carry no body (or an empty one) and name objects that do not exist,
so an allowed call answers 2xx, 400 or 404 and changes nothing; a refused one
answers 401 (nobody, a disabled user) or 403 (the role, another tenant).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_env import ORIGIN, ApiEnv, run
from databases import postgres_database
from starlette.routing import Route

from trapline.security.roles import Role, require
from trapline.service.http.operations import Operation
from trapline.store import SYSTEM

OWN, OTHER = "General", "Acme"
SAMPLES = {"version": "1.1", "supplier": "NoSuchSupplier", "tag": "NoSuchTag",
           "name": "no-such-name", "key": "matrix.key", "id": "999999",
           "value": "203.0.113.250"}
CALLERS = ("administrator", "analyst", "anonymous", "disabled", "disabled-session",
           "analyst-token", "analyst-session")


def operations(env: ApiEnv) -> list[Operation]:
    """Every route the app serves, each with its declared operation."""
    found = []
    for route in env.app.starlette.routes:
        assert isinstance(route, Route), f"{route!r}: not a declared route"
        operation = getattr(route.endpoint, "operation", None)
        assert isinstance(operation, Operation), \
            f"{route.path} {sorted(route.methods or ())}: no declared access rule"
        assert set(route.methods or ()) - {"HEAD"} == {operation.method}, route.path
        found.append(operation)
    bare = [op for op in env.app.operations if op.handler is None]
    assert {op.path for op in bare} == {"/api/{version:vendor}/lookup",
                                        "/api/1.3/{tenant}/lookup"}
    return found + bare


def url(operation: Operation, tenant: str) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        return tenant if name == "tenant" else SAMPLES.get(name, "matrix-sample")

    path = re.sub(r"\{(\w+)(?::\w+)?\}", fill, operation.path)
    if tenant != OWN and "{tenant}" not in operation.path:
        path += f"?tenant={tenant}"
    return path


def expected(operation: Operation, caller: str, tenant: str) -> int | None:
    """401 or 403 when the caller must be refused, None when it must be let through."""
    access = operation.access
    if access.public:
        return None
    if caller in ("anonymous", "disabled", "disabled-session"):
        return 401
    if caller.endswith("-session") and not access.session:
        return 401
    role = Role.ADMINISTRATOR if caller == "administrator" else Role.ANALYST
    if access.permission is not None and not require(role, access.permission):
        return 403
    if access.tenant and tenant != OWN and role != Role.ADMINISTRATOR:
        return 403
    return None


class Callers:
    """The headers (and cookies) of each kind of caller."""

    def __init__(self, env: ApiEnv, client: httpx.AsyncClient) -> None:
        self.env = env
        self.client = client
        self.cookies: dict[str, str] = {}
        self.headers: dict[str, dict[str, str]] = {}

    async def prepare(self) -> None:
        env, client = self.env, self.client
        name = env.context.cookie_policy.cookie_name
        for caller, user in (("analyst-session", "alice"), ("disabled-session", "dave")):
            headers = await env.login(client, user)
            self.cookies[caller] = client.cookies[name]
            self.headers[caller] = {**headers, "Cookie": f"{name}={client.cookies[name]}"}
            client.cookies.clear()
        dave = env.basic("dave")  # checked once (and remembered), then disabled
        assert (await client.get("/api/v1/session", headers=dave)).status_code == 200
        env.store.users.update(SYSTEM, "dave", disabled=True)
        env.context.authenticator.forget()  # type: ignore[union-attr]  # the 1 s has passed
        self.headers.update({
            "administrator": env.basic("root"), "analyst": env.basic("alice"),
            "anonymous": {}, "disabled": dave, "analyst-token": env.bearer("alice")})

    async def call(self, operation: Operation, caller: str, tenant: str) -> httpx.Response:
        headers = {"Origin": ORIGIN, **self.headers[caller]}
        if operation.body is not None:
            headers["Content-Type"] = "application/json"
        response = await self.client.request(operation.method, url(operation, tenant),
                                             headers=headers, content=b"")
        self.client.cookies.clear()
        return response


def check_matrix(env: ApiEnv) -> int:
    ops = operations(env)
    failures: list[str] = []
    audit_before = env.audit_count()

    async def go() -> int:
        count = 0
        async with env.client() as client:
            callers = Callers(env, client)
            await callers.prepare()
            for operation in ops:
                for caller in CALLERS:
                    for tenant in (OWN, OTHER):
                        response = await callers.call(operation, caller, tenant)
                        count += 1
                        want = expected(operation, caller, tenant)
                        got = response.status_code
                        ok = got == want if want is not None else \
                            got not in (401, 403) and got < 500
                        if not ok:
                            failures.append(f"{operation.method} {url(operation, tenant)} as "
                                            f"{caller}: {got} (want {want or 'allowed'}) "
                                            f"{response.text[:160]}")
                        elif want is not None:
                            assert response.json()[0]["status"] == "error"
        return count

    count = run(go())
    assert not failures, "\n".join(failures)
    # Nothing that was let through changed anything: only the test's own disable.
    assert env.audit_count() == audit_before + 1
    return count


def test_every_route_declares_its_access_and_the_matrix_holds(env: ApiEnv) -> None:
    count = check_matrix(env)
    assert count >= 60 * len(CALLERS) * 2


@pytest.fixture
def pg_env(tmp_path: Path) -> Iterator[ApiEnv]:
    with postgres_database() as database:
        api = ApiEnv.create(tmp_path, database)
        try:
            yield api
        finally:
            api.close()


def test_the_matrix_holds_on_postgresql(pg_env: ApiEnv) -> None:
    check_matrix(pg_env)


def test_a_route_without_a_declared_rule_fails_the_matrix(env: ApiEnv) -> None:
    async def sneaky(request: Any) -> None:
        return None

    env.app.starlette.router.routes.append(Route("/api/v1/sneaky", sneaky, methods=["POST"]))
    with pytest.raises(AssertionError, match=r"/api/v1/sneaky.*no declared access rule"):
        operations(env)


def test_the_table_and_the_openapi_document_agree(env: ApiEnv) -> None:
    document = env.app.openapi()
    table = {(op.method.lower(), re.sub(r"\{(\w+):\w+\}", r"{\1}", op.path))
             for op in env.app.operations}
    described = {(method, path) for path, item in document["paths"].items()
                 for method in item}
    assert table == described
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert operation["x-permission"], (method, path)
            if operation["x-permission"] != "public":
                assert {"basic": []} in operation["security"], (method, path)
                assert "401" in operation["responses"] and "403" in operation["responses"]


DOCS = Path(__file__).resolve().parents[3] / "docs" / "http-api.md"


def test_every_route_is_documented(env: ApiEnv) -> None:
    text = DOCS.read_text(encoding="utf-8")
    missing = []
    for operation in env.app.operations:
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", operation.path)
        if path == "/api/{version}/lookup":
            path = "/api/{1.0,1.1,1.2}/lookup"
        elif path != "/api/1.3/{tenant}/lookup":
            path = path.replace("/api/1.3/{tenant}/", "/api/{version}/")
        rule = operation.access.describe().replace(" (tenant)", ", tenant")
        if f"| {operation.method} | `{path}` | {rule} |" not in text:
            missing.append(f"{operation.method} {path} ({rule})")
    assert not missing, "not in docs/http-api.md's route table:\n" + "\n".join(missing)
