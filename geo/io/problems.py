"""Problems found in a file: per file, per distinct value, per row; and the error that lists them.

Why grouped: a ledger with 3,010 rows of `噪音扰民` has one problem (an unknown category,
with the nearest known one), not 3,010. Everything else is listed row by row, all of it:
the user fixes the file once, or imports the valid rows with --skip-invalid and gets the
others back in FILE.rejected.csv with a reason column.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROWS_NAMED = 5  # rows named on a per-value line ("row 3, row 9, … and 35 more")


class ImportFailed(Exception):
    """The file cannot be imported; nothing was written. The message names the file, the
    rows and the problems (all of them)."""

    def __init__(self, path, problems: list[str], crs_line: str | None = None, total: int | None = None):
        self.path, self.problems, self.crs_line = Path(path), problems, crs_line
        total = len(problems) if total is None else total
        lines = [f"{path}: {total} problem{'s' if total != 1 else ''}; nothing was imported (未导入任何数据):"]
        lines += ["  " + p for p in problems]
        if crs_line:
            lines.append(crs_line)
        super().__init__("\n".join(lines))


@dataclass
class ValueProblem:
    column: str
    value: Any
    message: str
    suggestion: str | None
    rows: list[int]


class Problems:
    """Problems found so far; `fail()` raises them (file-level, per value, then by row)."""

    def __init__(self, source, path: Path, crs_line: str | None):
        self.source, self.path, self.crs_line = source, path, crs_line
        self.file: list[str] = []
        self.by_row: dict[int, list[str]] = {}
        self.values: dict[tuple, ValueProblem] = {}

    @property
    def rows(self) -> set[int]:
        return set(self.by_row)

    def __bool__(self) -> bool:
        return bool(self.file or self.by_row)

    def add(self, i: int | None, text: str) -> None:
        if i is None:
            self.file.append(text)
        else:
            self.by_row.setdefault(int(i), []).append(text)

    def add_value(self, i: int, column: str, value: Any, message: str, suggestion: str | None = None) -> None:
        """A cell whose value is wrong: listed once per distinct (column, value, message)."""
        from geo.io.readers import shown

        k = (column, shown(value), message)
        if k not in self.values:
            self.values[k] = ValueProblem(column, value, message, suggestion, [])
        self.values[k].rows.append(int(i))
        self.by_row.setdefault(int(i), []).append(f"{column}={shown(value)}: {message}")

    def lines(self) -> list[str]:
        """Every problem, once: file-level, each distinct bad value with its rows, then the
        rows whose problems are not a repeated value."""
        from geo.io.readers import shown

        out = list(self.file)

        for p in self.values.values():
            if len(p.rows) > 1:
                named = ", ".join(self.source.label(i) for i in p.rows[:ROWS_NAMED])
                more = f" … and {len(p.rows) - ROWS_NAMED} more" if len(p.rows) > ROWS_NAMED else ""
                out.append(f"{p.column}={shown(p.value)} in {len(p.rows)} rows ({named}{more}): {p.message}")
        for i in sorted(self.by_row):
            out += [f"{self.source.label(i)}: {t}" for t in self._ungrouped(i)]
        return out

    def _ungrouped(self, i: int) -> list[str]:
        from geo.io.readers import shown

        repeated = {f"{p.column}={shown(p.value)}: {p.message}" for p in self.values.values() if len(p.rows) > 1 and i in p.rows}
        return [t for t in self.by_row[i] if t not in repeated]

    def reasons(self, i: int) -> str:
        return "; ".join(self.by_row.get(i, []))

    def fail(self) -> None:
        if self:
            lines = self.lines()
            exc = ImportFailed(self.path, lines, self.crs_line, total=len(lines))
            if self.by_row and not self.file:
                exc.args = (
                    exc.args[0]
                    + "\n修正后重试 fix these rows and import again, or import the other rows now with --skip-invalid: "
                    f"these {len(self.by_row)} row(s) are then written to FILE.rejected.csv with the reason",
                )
            raise exc

    def fail_file(self) -> None:
        """Raise if a file-level problem exists (no row could be read)."""
        if self.file:
            self.fail()

    def as_dict(self, limit: int = 500) -> dict:
        """For the inspection: problems per value (with suggestion and row count) and per row."""
        from geo.io.readers import shown

        return {
            "file": list(self.file),
            "values": [
                {
                    "column": p.column,
                    "value": shown(p.value),
                    "count": len(p.rows),
                    "rows": [self.source.label(i) for i in p.rows[:ROWS_NAMED]],
                    "problem": p.message,
                    "suggestion": p.suggestion,
                }
                for p in sorted(self.values.values(), key=lambda p: -len(p.rows))
            ],
            "rows": [
                {"row": i + 1, "label": self.source.label(i), "problems": self.by_row[i]} for i in sorted(self.by_row)[:limit]
            ],
            "rows_with_problems": len(self.by_row),
        }
