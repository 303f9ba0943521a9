"""Settings shared by the commands; later issues grow this into the one settings table."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_DATA_DIR = "trapline-data"
DATA_DIR_ENV = "TRAPLINE_DATA_DIR"
DEMO_FEEDS = Path(__file__).resolve().parent / "demo"


def default_data_dir() -> Path:
    """``$TRAPLINE_DATA_DIR``, else ``./trapline-data``."""
    return Path(os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)


def demo_feed_paths() -> list[Path]:
    """The plain-list demo feeds shipped in the package (docs/feeds.md)."""
    return sorted(DEMO_FEEDS.glob("*.txt"))
