"""The hostile values shared by the fuzz tests (tests/fuzz/; their profiles are in conftest.py).

Why one place: the fuzz suites must agree on what "hostile" means (SQL and HTML
injection, NUL and control characters, non-finite numbers, huge values), so that
docs/fuzzing.md can say what was tried in one table.
"""

from __future__ import annotations

from hypothesis import strategies as st

INJECTIONS = (
    "'; DROP TABLE household; --",
    "Robert'); DROP TABLE incident;--",
    "1 OR 1=1",
    "' OR ''='",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '"><svg/onload=alert(1)>',
    "${jndi:ldap://x/a}",
    "{{7*7}}",
    "%s%s%s%n",
    "../../../../etc/passwd",
    "\\x00",
    "$(reboot)",
    "SELECT pg_sleep(10)",
    "\u202etxt.exe",
    "ＮＵＬＬ",
    "NULL",
    "None",
    "nan",
    "NaN",
    "-inf",
    "Infinity",
    "1e309",
    "-0",
    "0x10",
    "１２３",
    "٣",
    "　",
    "\ufeff",
    "长" * 300,
    "\\N",
    "\\.",
    "2024-03-01",
    "13:45",
)
NASTY_CHARS = "\x00\x01\x07\x08\x0b\x0c\x1b\x7f\u2028\u2029\ufeff\ufffe\u200b\r\n\t\"',;<>&%\\"

# Any text except lone surrogates (which no file or URL can carry as UTF-8 anyway).
any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=40)
short_nasty = st.one_of(
    any_text, st.sampled_from(INJECTIONS), st.text(st.sampled_from(NASTY_CHARS + "a长1"), min_size=1, max_size=12)
)
huge_text = st.integers(min_value=1, max_value=5).map(lambda k: "长" * (10**k))  # up to 100,000 characters
nasty_text = st.one_of(short_nasty, huge_text)
numberish = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(("", " ", "1,5", "1_000", "+1", "1.0e2", "0x1F", "∞", "NaN", "-nan", "inf", "9" * 5000)),
)
hostile = st.one_of(nasty_text, numberish)
short_hostile = st.one_of(short_nasty, numberish)  # for query strings, which stop at 8 KB (414)
