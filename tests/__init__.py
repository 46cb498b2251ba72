"""Quanyu's test suite (a package, so test modules in tests/browser/ and tests/fuzz/ may share names with those here)."""
