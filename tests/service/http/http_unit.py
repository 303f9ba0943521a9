"""Helpers of the in-process HTTP face tests: demo users from a dict, Basic headers,
a recording ``lookup_many``.

The HTTP handler is tested here with its ``authenticate_basic`` seam only; the users of
the store go through it in the API tests (api_env.py) and the end-to-end tests. Kept
out of conftest.py so that test modules import it by a name no other folder uses.
"""

from __future__ import annotations

import base64
import hmac
from collections.abc import Callable
from typing import Any

import httpx

from trapline.index import Snapshot
from trapline.security.roles import Principal

USERS = {
    "kuma": ("kuma-secret", Principal(name="kuma", role="Analyst", tenant="General",
                                      via="password")),
    "acme": ("acme-secret", Principal(name="acme", role="Analyst", tenant="Acme",
                                      via="password")),
    "admin": ("admin-secret", Principal(name="admin", role="Administrator", tenant="General",
                                        via="password")),
    "nobody": ("nobody-secret", Principal(name="nobody", role="Guest", tenant="General",
                                          via="password")),
}


def authenticate(user: str, password: str) -> Principal | None:
    entry = USERS.get(user)
    if entry is None or not hmac.compare_digest(entry[0].encode(), password.encode()):
        return None
    return entry[1]


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


KUMA = basic("kuma", "kuma-secret")
ADMIN = basic("admin", "admin-secret")
ACME = basic("acme", "acme-secret")


class Lookups:
    """``lookup_many(values, tenant)`` over the demo snapshot, remembering the calls."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.calls: list[tuple[int, str]] = []

    def __call__(self, values: list[str], tenant: str) -> list[Any]:
        self.calls.append((len(values), tenant))
        return self.snapshot.lookup_many(values)


Call = Callable[..., httpx.Response]
