"""Debian's Chromium driven by Playwright, and a real ``trapline serve`` to point it at.

    with chromium() as browser:                 # skips without /usr/bin/chromium (fails in CI)
        page = browser.new_page()

``launch`` starts ``trapline serve`` on loopback (plain HTTP, ``--http 127.0.0.1:PORT``)
after making the test users in its store; ``stop`` ends it with SIGTERM.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from subprocesses import terminate
from syslog_receivers import free_port, wait_listening

from trapline.security.passwords import hash_password
from trapline.store import SYSTEM, open_store

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
USERS = {"admin1": ("admin1-secret", "Administrator"), "ana": ("ana-secret", "Analyst")}


def require_chromium() -> None:
    """Skip (with the reason) when Debian's Chromium is missing; in CI, fail instead."""
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} is missing (apt-get install chromium)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium with a fresh profile."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    profile = tempfile.mkdtemp(prefix="trapline-chromium-")
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile, executable_path=str(CHROMIUM), headless=True, args=FLAGS,
                viewport={"width": 1360, "height": 900})
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


@dataclass
class Service:
    process: subprocess.Popen[str]
    url: str
    tcp: int
    data: Path


def make_users(data: Path) -> None:
    store = open_store(data)
    try:
        for name, (password, role) in USERS.items():
            store.users.create(SYSTEM, name, hash_password(password), role=role)
    finally:
        store.close()


def launch(folder: Path, config: str, http: int) -> Service:
    """``trapline serve`` with ``config``, once its TCP and HTTP ports accept connections."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "trapline.toml").write_text(config)
    tcp, output = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "trapline", "serve", "--config", str(folder / "trapline.toml"),
         "--data-dir", str(folder / "data"), "--listen", f"127.0.0.1:{tcp}",
         "--output", f"127.0.0.1:{output}", "--workers", "1", "--http", f"127.0.0.1:{http}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"))
    wait_listening(process, tcp, http)
    return Service(process, f"http://127.0.0.1:{http}", tcp, folder / "data")


def stop(service: Service) -> None:
    terminate(service.process, 30)


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)
