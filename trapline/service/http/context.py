"""What the HTTP face needs from the worker: lookups, users, counters, limits.

    context = AppContext(lookup_many=matcher.lookup_many, authenticate_basic=users.check)
    app = create_app(context)

The HTTP face imports no store and no snapshot: the worker hands it callables,
so the tenant-aware matcher and the store's users plug in without touching it.
Who is asking is a ``trapline.security.roles.Principal`` (name, role, tenant).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from trapline.index.verdict import Verdict
from trapline.security.roles import Principal, Role
from trapline.service.stats import Stats

DEFAULT_TENANT = "General"  # the vendor's default tenant (protocol.md section 2)

LookupMany = Callable[[list[str], str], list[Verdict]]
"""``lookup_many(values, tenant)``: one verdict per value, in order, for that tenant."""

Authenticate = Callable[[str, str], Principal | None]
"""``authenticate_basic(user, password)``: the principal, or None when refused."""


def may_act_in(principal: Principal, tenant: str) -> bool:
    """Administrators act in every tenant; anyone else only in their own."""
    return principal.role == Role.ADMINISTRATOR or principal.tenant == tenant


@dataclass
class AppContext:
    """Everything ``create_app`` needs; the worker builds one.

    ``authenticate_basic`` may be slow (password hashing): it runs in a thread,
    and a success is remembered for ``auth_cache_seconds``.
    ``snapshot_version()`` may raise ``SnapshotError`` before the first snapshot.
    """

    lookup_many: LookupMany
    authenticate_basic: Authenticate
    stats: Stats = field(default_factory=Stats)
    snapshot_version: Callable[[], int] | None = None
    max_body_bytes: int = 64 << 20
    auth_cache_seconds: float = 60.0
    worker: int = 0
    started: float = field(default_factory=time.monotonic)
