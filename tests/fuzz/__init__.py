"""Fuzz tests: hypothesis drives imports, Open311 and the APIs with hostile input (marker `fuzz`)."""
