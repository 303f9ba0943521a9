"""The web interface in process: the API tests' environment (tests/service/http/api_env.py):
a real SQLite store with users root (Administrator), alice and bob (Analysts), the demo
feeds in a memory snapshot."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "service" / "http"))


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Any]:
    from api_env import ApiEnv

    api = ApiEnv.create(tmp_path)
    yield api
    api.close()
