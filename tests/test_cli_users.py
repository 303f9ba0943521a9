"""``trapline users``: accounts made from the command line, passwords from standard input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from trapline.security.passwords import verify_password
from trapline.store import open_store


def trapline(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "trapline", *args], input=stdin,
                          capture_output=True, text=True, timeout=120)


def test_add_reads_the_password_from_stdin_and_audits(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    result = trapline("users", "add", "alice", "--role", "Analyst", "--data-dir", data,
                      stdin="correct horse battery\n")
    assert result.returncode == 0, result.stderr
    store = open_store(tmp_path / "data")
    try:
        user = store.users.get("alice")
        assert user.role == "Analyst" and user.tenant == "General" and not user.disabled
        stored = store.users.password_hash("alice")
        assert stored is not None and verify_password(stored, "correct horse battery")
        assert "correct horse" not in stored
        entry = store.audit.search(action="user.")
        assert [e.actor for e in entry.items] == ["cli"]
    finally:
        store.close()
    listed = trapline("users", "list", "--data-dir", data)
    assert "alice" in listed.stdout and "Analyst" in listed.stdout


def test_refusals_are_clear_errors(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    assert trapline("users", "add", "bob", "--role", "Analyst", "--data-dir", data,
                    stdin="pw-one\n").returncode == 0
    again = trapline("users", "add", "bob", "--role", "Analyst", "--data-dir", data,
                     stdin="pw-two\n")
    assert again.returncode != 0 and "bob" in again.stderr and "Traceback" not in again.stderr
    empty = trapline("users", "add", "carol", "--role", "Analyst", "--data-dir", data,
                     stdin="\n")
    assert empty.returncode != 0 and "empty password" in empty.stderr
    role = trapline("users", "add", "dave", "--role", "Root", "--data-dir", data, stdin="x\n")
    assert role.returncode != 0 and "Administrator" in role.stderr


def test_passwd_and_disable(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    trapline("users", "add", "erin", "--role", "Administrator", "--data-dir", data,
             stdin="first password\n")
    assert trapline("users", "passwd", "erin", "--data-dir", data,
                    stdin="second password\n").returncode == 0
    assert trapline("users", "disable", "erin", "--data-dir", data).returncode == 0
    store = open_store(tmp_path / "data")
    try:
        stored = store.users.password_hash("erin")
        assert stored is not None and verify_password(stored, "second password")
        assert store.users.get("erin").disabled
    finally:
        store.close()
    assert trapline("users", "unlock", "erin", "--data-dir", data).returncode == 0
