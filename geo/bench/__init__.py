"""The benchmark: a city in its own database, each target measured, peers compared. Never imported by domain code."""
