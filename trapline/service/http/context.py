"""What the HTTP face needs from the worker: lookups, users, counters, limits.

    context = build_app_context(settings, store, matcher.lookup_many, stats, version, worker)
    app = create_app(context)

The lookup face needs only ``lookup_many`` and an authenticator; the management
API (``/api/v1``, the vendor's suppliers and tags) is mounted when ``store`` is
set, and ``trapline.service.http.wiring.build_app_context`` fills in the rest
(sessions, the login limiter, the feed actions). Who is asking is a
``trapline.security.roles.Principal`` (name, role, tenant, how it was proved).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from trapline.index.verdict import Verdict
from trapline.security.roles import Principal, Role
from trapline.security.sessions import CookiePolicy
from trapline.service.stats import Stats

if TYPE_CHECKING:
    from trapline.config import Settings
    from trapline.index.matcher import MatchView
    from trapline.security.sessions import SessionCodec
    from trapline.service.feed_actions import FeedActions
    from trapline.service.http.identity import Authenticator
    from trapline.store import Store

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
    """Everything ``create_app`` needs; the worker builds one (``build_app_context``).

    ``authenticate_basic`` may be slow (password hashing): it runs in a thread,
    and a success is remembered for ``auth_cache_seconds``. When
    ``authenticator`` is set (the store's users, API tokens, the login
    limiter), it is used instead, on every route.
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
    # The management API and browser sessions (mounted when ``store`` is set).
    store: Store | None = None
    authenticator: Authenticator | None = None
    sessions: SessionCodec | None = None
    cookie_policy: CookiePolicy = field(default_factory=CookiePolicy)
    limiter: Any = None  # trapline.security.login_limiter.LoginLimiter
    matcher_view: Callable[[str], MatchView] | None = None
    lists_version: Callable[[str], int] | None = None
    settings: Settings | None = None
    allowed_origins: tuple[str, ...] = ()  # besides the server's own origin
    feed_actions: FeedActions | None = None
    # Ask the supervisor to re-read the configuration (SIGHUP); None outside `serve`.
    request_reload: Callable[[], None] | None = None
    # A restart (SIGUSR2): ``check_restart()`` gives the settings the new start would use,
    # or raises ConfigError when it could not start; ``request_restart()`` asks for it;
    # ``boot`` names this start of the service (the page waits for another one);
    # ``started_with``: the settings it started with (the addresses it listens on).
    check_restart: Callable[[], Settings] | None = None
    request_restart: Callable[[], None] | None = None
    boot: str = ""
    started_with: Settings | None = None
