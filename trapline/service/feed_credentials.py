"""Feed source credentials kept in the store, encrypted with a key derived from the node's
secret key, and applied over the configuration file's.

    value = seal(data_dir, username="svc", password="...")     # what the store keeps
    store.settings.set(actor, credential_key("Vendor.json"), value)
    feeds = apply_credentials(feeds, stored_settings, data_dir)  # at start and SIGHUP

One store setting per feed, ``feeds.secret.<feed name>``: the key names a secret,
so the store's audit rows and every listing (API, Settings page) mask its value.
The value is ``{"kind": "basic", "username": ..., "sealed": ...}`` or
``{"kind": "bearer", "sealed": ...}``; ``sealed`` is a Fernet token (AES-128-CBC
with HMAC-SHA256) of the JSON ``{"password": ...}`` or ``{"token": ...}``, made
with a key derived by HKDF-SHA256 from ``DATA_DIR/secret.key`` (the session
key, docs/security.md): a copy of the database alone does not reveal the
secret. The user name is not a secret and stays readable, for the page.

A kept credential replaces every credential of the file's feed (``username``,
``password``, ``password_env``, ``token``, ``token_env``); without one the file's
stay. A credential that cannot be opened (the secret key changed, a value written
by hand) is logged, by feed name only, and ignored: the file's values stay.
"""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any

import msgspec
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from trapline.errors import TraplineError
from trapline.feeds.config import FeedConfig
from trapline.security.secret_key import load_or_create_secret

log = logging.getLogger("trapline.service")

PREFIX = "feeds.secret."
SECRET_FILE = "secret.key"  # trapline.service.http.wiring.SESSION_KEY
KINDS = ("basic", "bearer")
LONGEST_USER = 256
LONGEST_SECRET = 4096
_INFO = b"trapline feed source credentials v1"


class CredentialError(TraplineError):
    """A kept credential cannot be opened, or a new one is refused (the message says why)."""


def credential_key(feed: str) -> str:
    """The store setting that keeps ``feed``'s credentials."""
    return PREFIX + feed


def is_credential_key(key: str) -> bool:
    return key.startswith(PREFIX)


def _fernet(secret: bytes) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(secret)
    return Fernet(base64.urlsafe_b64encode(key))


def check(username: str, password: str, token: str) -> str:
    """The kind of credential given (``basic`` or ``bearer``); CredentialError if the
    fields do not make exactly one, or hold what an HTTP header cannot carry."""
    if token and (username or password):
        raise CredentialError("give a user name and password, or a token, not both")
    if not token and not (username and password):
        raise CredentialError("give a user name and a password, or a token")
    for what, value, longest in (("user name", username, LONGEST_USER),
                                 ("password", password, LONGEST_SECRET),
                                 ("token", token, LONGEST_SECRET)):
        if len(value) > longest:
            raise CredentialError(f"the {what} is longer than {longest} characters")
        if any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise CredentialError(f"the {what} holds a control character")
    if ":" in username:
        raise CredentialError("a user name for Basic authentication has no ':'")
    if token and not token.isascii():
        raise CredentialError("a bearer token is ASCII text")
    return "bearer" if token else "basic"


def seal(data_dir: Path, *, username: str = "", password: str = "",
         token: str = "") -> dict[str, Any]:
    """The store value for these credentials (checked, the secret encrypted)."""
    kind = check(username, password, token)
    fernet = _fernet(load_or_create_secret(Path(data_dir) / SECRET_FILE))
    secret = {"token": token} if kind == "bearer" else {"password": password}
    sealed = fernet.encrypt(json.dumps(secret).encode("utf-8")).decode("ascii")
    value: dict[str, Any] = {"kind": kind, "sealed": sealed}
    if kind == "basic":
        value["username"] = username
    return value


def describe(value: Any) -> dict[str, str]:
    """What a page may show of a kept value: its kind and user name, never the secret."""
    if not isinstance(value, dict) or value.get("kind") not in KINDS:
        return {"kind": "invalid", "username": ""}
    username = value.get("username")
    return {"kind": value["kind"], "username": username if isinstance(username, str) else ""}


def unseal(value: Any, secret: bytes) -> tuple[str, str, str]:
    """(username, password, token) of a kept value; CredentialError if it cannot be opened."""
    if not isinstance(value, dict) or value.get("kind") not in KINDS \
            or not isinstance(value.get("sealed"), str):
        raise CredentialError("not a kept credential")
    try:
        opened = json.loads(_fernet(secret).decrypt(value["sealed"].encode("ascii")))
    except (InvalidToken, ValueError, UnicodeError):
        raise CredentialError("cannot be decrypted (was the secret key replaced?)") from None
    if value["kind"] == "bearer":
        token = opened.get("token") if isinstance(opened, dict) else None
        if not isinstance(token, str) or not token:
            raise CredentialError("holds no token")
        return "", "", token
    username, password = value.get("username"), \
        opened.get("password") if isinstance(opened, dict) else None
    if not isinstance(username, str) or not username or not isinstance(password, str):
        raise CredentialError("holds no user name and password")
    return username, password, ""


def _secret(data_dir: Path) -> bytes | None:
    path = Path(data_dir) / SECRET_FILE
    if not path.exists():  # never made here: a new key would open nothing anyway
        return None
    try:
        return load_or_create_secret(path)
    except TraplineError as exc:
        log.error("feed credentials kept in the store not applied: %s", exc)
        return None


def apply_credentials(feeds: list[FeedConfig], stored: dict[str, Any],
                      data_dir: Path) -> list[FeedConfig]:
    """``feeds`` with the store's credentials over the file's, for the HTTP(S) feeds."""
    kept = {key[len(PREFIX):]: value for key, value in stored.items()
            if is_credential_key(key)}
    if not kept:
        return feeds
    secret = _secret(data_dir)
    if secret is None:
        log.error("feed credentials kept in the store not applied: no secret key in %s",
                  data_dir)
        return feeds
    out = []
    for feed in feeds:
        value = kept.get(feed.name)
        if value is None or not feed.is_remote:
            out.append(feed)
            continue
        try:
            username, password, token = unseal(value, secret)
        except CredentialError as exc:
            log.error("credentials kept for feed %s not applied, the file's stay: %s",
                      feed.name, exc)
            out.append(feed)
            continue
        http = msgspec.structs.replace(
            feed.http, username=username or None, password=password or None,
            password_env=None, token=token or None, token_env=None)
        out.append(msgspec.structs.replace(feed, http=http))
    return out
