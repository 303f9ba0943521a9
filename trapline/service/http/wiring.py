"""One factory for the HTTP face of a worker: the store's users, sessions, limits, feeds.

    context = build_app_context(settings, store, matcher.lookup_many, stats,
                                lambda: follower.get().version, index + 1,
                                matcher=matcher, alerts=sink)
    http = await start_http(settings, context)

It makes (or reads) the node's session key ``DATA_DIR/session.key``, opens the
login ledger ``DATA_DIR/login-attempts.db`` shared by the workers, and builds
the authenticator (argon2 passwords through the limiter, API tokens, current
roles), the session codec and cookie policy (Secure and ``__Host-`` when the
face serves HTTPS), and the feed actions. Call it in each worker, after the
store is open; nothing here blocks for long (two small files).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from trapline.alerts import AlertSink
from trapline.config import Settings
from trapline.security.login_limiter import LoginLimits, open_login_limiter
from trapline.security.secret_key import load_or_create_secret
from trapline.security.sessions import CookiePolicy, SessionCodec
from trapline.service.feed_actions import FeedActions
from trapline.service.http.auth import refuse_everyone
from trapline.service.http.context import AppContext, LookupMany
from trapline.service.http.identity import Authenticator
from trapline.service.stats import Stats
from trapline.store import Store

SESSION_KEY = "secret.key"  # docs/security.md


def build_app_context(settings: Settings, store: Store, lookup_many: LookupMany, stats: Stats,
                      snapshot_version: Callable[[], int] | None, worker: int, *,
                      matcher: Any = None, alerts: AlertSink | None = None,
                      allowed_origins: Sequence[str] = (), embedded: bool = False,
                      limits: LoginLimits | None = None) -> AppContext:
    """The AppContext of one worker's HTTP face, with the management API mounted.

    ``matcher`` (a ``trapline.index.matcher.Matcher``): the API lookup reports the
    snapshot and lists version it used; ``alerts``: where feed updates started through
    the API raise their alerts (the worker's output sink; default: the log);
    ``allowed_origins``: origins besides the server's own that may make changes with a
    session cookie (a SIEM console embedding the UI; ``embedded`` makes the cookie
    ``SameSite=None`` for its iframe).
    """
    data_dir = Path(settings.data_dir)
    secret = load_or_create_secret(data_dir / SESSION_KEY)
    limiter = open_login_limiter(data_dir, limits)
    https = settings.http.tls
    context = AppContext(
        lookup_many=lookup_many, authenticate_basic=refuse_everyone, stats=stats,
        snapshot_version=snapshot_version, worker=worker,
        max_body_bytes=settings.http.max_body_mb << 20,
        auth_cache_seconds=settings.http.auth_cache_seconds,
        store=store, authenticator=Authenticator(store, limiter),
        sessions=SessionCodec(secret),
        cookie_policy=CookiePolicy(https=https, embedded=embedded and https),
        limiter=limiter, settings=settings, allowed_origins=tuple(allowed_origins),
        lists_version=store.lists_version,
        feed_actions=FeedActions(settings, store, alerts))
    if matcher is not None:
        context.matcher_view = matcher.view
    return context
