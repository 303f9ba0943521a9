"""Schema migrations with Alembic, run from code: no alembic.ini, scripts in the package.

``open_store`` calls ``upgrade`` at every start; it does nothing when the schema is at
head. Several processes starting together are safe: the migration runs in one transaction
that holds SQLite's write lock (``BEGIN IMMEDIATE``) or a PostgreSQL advisory lock, and
whoever comes second finds the schema at head.

A new migration, generated against the tables of ``schema.py`` (then read it over)::

    python -m trapline.store.migrate revision -m "add a column"
"""

from __future__ import annotations

import argparse
import functools
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import URL
from sqlalchemy.pool import NullPool

from trapline.store.engine import WRITE, make_engine, store_url
from trapline.store.errors import StoreUnavailable

SCRIPTS = Path(__file__).resolve().parent / "migrations"
_PG_LOCK = 0x7472_6170_6C69  # advisory lock key ("trapli") held while migrating


def config(connection: sa.Connection | None = None) -> Config:
    """An Alembic configuration pointing into the package, bound to ``connection``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPTS).replace("%", "%%"))
    cfg.attributes["connection"] = connection
    return cfg


@functools.cache
def head() -> str:
    """The newest revision the scripts know."""
    found = ScriptDirectory.from_config(config()).get_current_head()
    assert found is not None
    return found


def current(conn: sa.Connection) -> str | None:
    """The revision the database is at (None when empty)."""
    return MigrationContext.configure(conn).get_current_revision()


def upgrade(url: URL, *, revision: str = "head", busy_timeout: float = 30.0) -> None:
    """Upgrade the database to ``revision`` (default: the newest)."""
    _run(url, lambda cfg: command.upgrade(cfg, revision), busy_timeout)


def downgrade(url: URL, revision: str, *, busy_timeout: float = 30.0) -> None:
    """Downgrade the database to ``revision`` (``"base"``: drop everything)."""
    _run(url, lambda cfg: command.downgrade(cfg, revision), busy_timeout)


def _run(url: URL, action: Callable[[Config], None], busy_timeout: float) -> None:
    # A connection of its own: on SQLite foreign keys must be off while batch migrations
    # copy and drop tables (a drop would cascade), and the pragma cannot change inside
    # a transaction. They are checked before commit instead.
    engine = make_engine(url, busy_timeout=busy_timeout, foreign_keys=False,
                         poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execution_options(**{WRITE: True})
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"),
                                 {"key": _PG_LOCK})
                action(config(conn))
                if conn.dialect.name == "sqlite":
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").first()
                    if broken is not None:
                        raise StoreUnavailable(f"migration broke a foreign key: {broken}")
    except sa.exc.OperationalError as exc:
        raise StoreUnavailable(f"cannot migrate the database: {exc.orig}") from exc
    except CommandError as exc:  # e.g. a revision newer than this trapline knows
        raise StoreUnavailable(f"cannot migrate the database: {exc}") from exc
    finally:
        engine.dispose()


def main(argv: Sequence[str] | None = None) -> None:
    """``revision -m MESSAGE``: write versions/NNNN_message.py from the schema's changes."""
    parser = argparse.ArgumentParser(prog="python -m trapline.store.migrate")
    commands = parser.add_subparsers(dest="command", required=True)
    revision = commands.add_parser("revision", help="generate a migration from schema.py")
    revision.add_argument("-m", "--message", required=True)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        url = store_url(folder)
        upgrade(url)
        engine = make_engine(url, poolclass=NullPool)
        with engine.begin() as conn:
            command.revision(config(conn), message=args.message, autogenerate=True,
                             rev_id=f"{int(head()) + 1:04d}")
        engine.dispose()


if __name__ == "__main__":
    main()
