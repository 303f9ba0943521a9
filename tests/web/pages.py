"""Helpers of the in-process page tests: sign in through the form, read the CSRF token."""

from __future__ import annotations

import re

import httpx
from api_env import ORIGIN, PASSWORD

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


async def sign_in(client: httpx.AsyncClient, user: str, password: str = PASSWORD) -> str:
    """Sign in with the form; the client's jar keeps the cookie. Returns a CSRF token."""
    response = await client.post("/login", data={"user": user, "password": password,
                                                 "next": "/lookup"},
                                 headers={"Origin": ORIGIN})
    assert response.status_code == 303, response.text
    page = await client.get("/lookup")
    assert page.status_code == 200
    found = TOKEN.search(page.text)
    assert found
    return found.group(1)


def form_headers() -> dict[str, str]:
    return {"Origin": ORIGIN}
