"""Everything in tests/fuzz/ is marked `fuzz` and runs under one hypothesis profile.

Why one place: the fuzz suites must agree on how hard they push: 30 examples per test in
CI (`ci`, the default), 100 with HYPOTHESIS_PROFILE=dev, 1000 with HYPOTHESIS_PROFILE=long.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

HERE = Path(__file__).resolve().parent

# The fuzz tests share one database fixture across the examples of a test (each example
# compares row counts before and after itself), hence function_scoped_fixture is fine.
_COMMON = dict(
    deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.register_profile("ci", max_examples=30, **_COMMON)
settings.register_profile("long", max_examples=1000, **_COMMON)
settings.register_profile("dev", max_examples=100, **_COMMON)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_modifyitems(items):
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.fuzz)
