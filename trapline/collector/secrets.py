"""Credentials for the service's HTTP API, kept apart from the configuration.

Either a file (``secret_file``) holding ``user = "..."`` and ``password = "..."``
(TOML) that only its owner may read (a group- or world-readable file is
refused), or two environment variables (``user_env``, ``password_env``). A
``Credentials`` never shows its password in ``repr`` or logs.
"""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from trapline.errors import ConfigError


@dataclass(frozen=True)
class Credentials:
    user: str
    password: str = field(repr=False)

    def __str__(self) -> str:
        return f"{self.user}:***"


def check_secret_file(path: Path) -> str | None:
    """Why ``path`` cannot hold a secret, or None when it can."""
    try:
        info = path.stat()
    except OSError as exc:
        return f"cannot read {path}: {exc.strerror or exc}"
    if not stat.S_ISREG(info.st_mode):
        return f"{path} is not a regular file"
    if info.st_mode & 0o077:
        return (f"{path} is readable or writable by group or others "
                f"(mode {stat.filemode(info.st_mode)}); chmod 600 it")
    if info.st_uid != os.geteuid():
        return f"{path} belongs to another user (uid {info.st_uid})"
    return None


def read_secret_file(path: Path) -> Credentials:
    problem = check_secret_file(path)
    if problem:
        raise ConfigError(problem)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: not a TOML secret file ({type(exc).__name__})") from None
    user, password = data.get("user"), data.get("password")
    if not isinstance(user, str) or not isinstance(password, str) or not user:
        raise ConfigError(f"{path}: needs string keys 'user' and 'password'")
    return Credentials(user, password)


def read_secret_env(user_env: str, password_env: str) -> Credentials:
    user, password = os.environ.get(user_env), os.environ.get(password_env)
    missing = [name for name, value in ((user_env, user), (password_env, password))
               if value is None]
    if missing:
        raise ConfigError(f"environment variable(s) not set: {', '.join(missing)}")
    return Credentials(user or "", password or "")
