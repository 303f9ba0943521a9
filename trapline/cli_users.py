"""``trapline users``: manage the accounts of the web interface and the HTTP API.

    trapline users add alice --role Analyst            # asks for the password twice
    printf '%s\\n' "$PW" | trapline users add bot --role Analyst   # or reads it from stdin
    trapline users list | passwd NAME | disable NAME | enable NAME | unlock NAME

Every change is written to the audit log as made by ``cli`` (with the login name of
the operating-system user).
"""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from trapline.cli_options import CONFIG_OPTION, DATA_DIR_OPTION
from trapline.config import Settings, load_settings
from trapline.errors import TraplineError
from trapline.security.login_limiter import open_login_limiter
from trapline.security.passwords import hash_password
from trapline.security.roles import Role
from trapline.store import Actor, Store, open_store

ROLES = [role.value for role in Role]


@click.group("users")
def users() -> None:
    """Accounts of the web interface and the HTTP API."""


def _actor() -> Actor:
    try:
        login = getpass.getuser()
    except (KeyError, OSError):
        login = str(os.getuid())
    return Actor(name="cli", address=f"local:{login}")


@contextmanager
def _store(config: Path | None, data_dir: Path | None) -> Iterator[tuple[Settings, Store]]:
    try:
        settings = load_settings(config, data_dir=data_dir)
        store = open_store(settings.store_target)
    except TraplineError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        yield settings, store
    except TraplineError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        store.close()


def _read_password() -> str:
    """From standard input when it is not a terminal (one line), else asked twice."""
    if not sys.stdin.isatty():
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        raise click.ClickException("empty password")
    return password


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--tenant", default="General", show_default=True)
@CONFIG_OPTION
@DATA_DIR_OPTION
def add(name: str, role: str, tenant: str, config: Path | None, data_dir: Path | None) -> None:
    """Create user NAME; the password comes from standard input or a prompt."""
    password = _read_password()
    with _store(config, data_dir) as (_, store):
        store.users.create(_actor(), name, hash_password(password), role=role, tenant=tenant)
    click.echo(f"user {name!r} created ({role}, tenant {tenant})")


@users.command("passwd")
@click.argument("name")
@CONFIG_OPTION
@DATA_DIR_OPTION
def passwd(name: str, config: Path | None, data_dir: Path | None) -> None:
    """Set a new password for NAME (from standard input or a prompt)."""
    password = _read_password()
    with _store(config, data_dir) as (_, store):
        store.users.set_password(_actor(), name, hash_password(password))
    click.echo(f"password of {name!r} changed")


@users.command("list")
@CONFIG_OPTION
@DATA_DIR_OPTION
def list_users(config: Path | None, data_dir: Path | None) -> None:
    """Every user with role, tenant and state."""
    with _store(config, data_dir) as (_, store):
        table = Table("user", "role", "tenant", "state")
        for user in store.users.all():
            state = "disabled" if user.disabled else (
                "must change password" if user.must_change_password else "active")
            table.add_row(user.name, user.role, user.tenant, state)
    Console().print(table)


def _set_disabled(name: str, disabled: bool, config: Path | None,
                  data_dir: Path | None) -> None:
    with _store(config, data_dir) as (_, store):
        store.users.update(_actor(), name, disabled=disabled)
    click.echo(f"user {name!r} {'disabled' if disabled else 'enabled'}")


@users.command("disable")
@click.argument("name")
@CONFIG_OPTION
@DATA_DIR_OPTION
def disable(name: str, config: Path | None, data_dir: Path | None) -> None:
    """Refuse every sign-in and API call of NAME from now on."""
    _set_disabled(name, True, config, data_dir)


@users.command("enable")
@click.argument("name")
@CONFIG_OPTION
@DATA_DIR_OPTION
def enable(name: str, config: Path | None, data_dir: Path | None) -> None:
    """Let NAME sign in again."""
    _set_disabled(name, False, config, data_dir)


@users.command("unlock")
@click.argument("name")
@CONFIG_OPTION
@DATA_DIR_OPTION
def unlock(name: str, config: Path | None, data_dir: Path | None) -> None:
    """Lift the sign-in lock of NAME after too many wrong passwords (on this node)."""
    try:
        settings = load_settings(config, data_dir=data_dir)
        limiter = open_login_limiter(settings.data_dir)
        limiter.reset(name)
    except TraplineError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"sign-in lock of {name!r} lifted")
