"""The Kongtong demo jurisdiction: its generator and its sign-in accounts. Never imported by domain code."""
