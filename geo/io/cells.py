"""Values made safe to put in a spreadsheet cell (issue #18, finding 4: formula injection).

A description posted through Open311 as `=HYPERLINK("http://...")` became a live formula in
the risk-list workbook: spreadsheet programs run a cell that starts with =, +, - or @ (and
some start one after a tab or a carriage return). Every Excel and CSV file the product
writes passes its text through `safe()`, which follows OWASP's CSV-injection guidance:
such a text gets a leading apostrophe, which shows it as the text it is. Numbers, dates and
empty values pass unchanged, so sums and sorting still work.
"""

from __future__ import annotations

from typing import Any, Iterable

DANGEROUS_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def safe(value: Any) -> Any:
    """`value`, with a text that a spreadsheet would run as a formula turned into plain text."""
    if isinstance(value, str) and value.startswith(DANGEROUS_START):
        return "'" + value
    return value


def safe_row(values: Iterable[Any]) -> list:
    return [safe(v) for v in values]


def safe_frame(frame):
    """A pandas DataFrame with every text cell (and column name) made safe."""
    out = frame.map(safe) if hasattr(frame, "map") else frame.applymap(safe)
    out.columns = [safe(c) for c in out.columns]
    return out
