"""Roles: every permission x role gives the documented answer (docs/security.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from trapline.security.roles import PERMISSIONS, Permission, Principal, Role, require

# The table of docs/security.md: permission -> (Administrator, Analyst).
EXPECTED = {
    "lookup": (True, True),
    "read": (True, True),
    "internal_ti.add": (True, True),
    "internal_ti.delete": (True, False),
    "false_positive.write": (True, True),
    "feeds.manage": (True, False),
    "settings.manage": (True, False),
    "users.manage": (True, False),
    "tokens.own": (True, True),
    "tokens.manage": (True, False),
    "audit.read": (True, False),
}
CASES = [(permission, role, answer)
         for permission, answers in EXPECTED.items()
         for role, answer in zip(("Administrator", "Analyst"), answers, strict=True)]


def test_the_table_names_every_permission_and_role() -> None:
    assert set(EXPECTED) == {p.value for p in Permission}
    assert set(PERMISSIONS) == set(Role) == {Role("Administrator"), Role("Analyst")}


@pytest.mark.parametrize(("permission", "role", "answer"), CASES)
def test_every_permission_and_role(permission: str, role: str, answer: bool) -> None:
    assert require(role, permission) is answer
    assert require(Role(role), Permission(permission)) is answer
    principal = Principal(name="someone", role=role, tenant="default", via="session")
    assert principal.can(permission) is answer


def test_the_table_matches_the_documentation() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text()
    for permission, (admin, analyst) in EXPECTED.items():
        mark = {True: "yes", False: "no"}
        row = f"| `{permission}` | {mark[admin]} | {mark[analyst]} |"
        assert row in doc, row


@pytest.mark.parametrize("role", ["", "administrator", "Admin", "root", "Analyst "])
def test_an_unknown_role_holds_nothing(role: str) -> None:
    assert not any(require(role, permission) for permission in Permission)


def test_an_unknown_permission_fails_loudly() -> None:
    with pytest.raises(ValueError):
        require("Administrator", "feeds.manages")


def test_principal_is_immutable() -> None:
    principal = Principal(name="a", role="Analyst", tenant="t", via="token")
    with pytest.raises(AttributeError):
        principal.role = "Administrator"  # type: ignore[misc]
