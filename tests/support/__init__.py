"""Helpers shared by test modules: small worlds built in the test database, the demo
database, and the app run as a process or a signed-in Flask client.

Fixtures live in tests/conftest.py; what a test module imports (constants, builders,
clients) lives here, so no test module imports another."""
