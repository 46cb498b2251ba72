"""Everything in tests/browser/ is marked `browser`: each test starts a headless Chromium
(tests/browser/chromium.py) against the app run as a process, so `pytest -m "not browser"`
leaves them out of the fast suite."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items):
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)
