"""Browser tests: every test that starts Chromium (marker `browser`, set by conftest.py here)."""
