"""Fixtures shared by the whole suite, and the hypothesis profiles.

``HYPOTHESIS_PROFILE=thorough pytest`` runs every property test with 100,000
examples; the default profile keeps the suite fast.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "default",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "thorough",
    max_examples=100_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

# The shared folder sits beside the project checkout: /work/main/tests/conftest.py
# -> parents[2] is /work, so this is /work/shared/data.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The folder of real public feeds and events (../shared/data beside the checkout)."""
    if not SHARED_DATA.is_dir():
        message = f"shared real-world data not found at {SHARED_DATA}"
        if _in_ci():
            pytest.fail(message + " (CI=true: the data must be present)")
        pytest.skip(message)
    return SHARED_DATA
