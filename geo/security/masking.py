"""Mask personal data (姓名、电话、证件号) before it leaves the database.

Why: key persons, household heads and reporters are sensitive personal data; an export is
a file that travels by e-mail and USB stick, so it shows only enough to recognise a record
(张*, 138****1234) unless the operator explicitly asks for the full values.
"""

from __future__ import annotations


def mask_name(name: str | None) -> str | None:
    """张三 -> 张*, 欧阳娜娜 -> 欧***: the family name's first character stays."""
    if not name:
        return name
    name = str(name).strip()
    return name[:1] + "*" * max(len(name) - 1, 1)


def mask_phone(phone: str | None) -> str | None:
    """13812341234 -> 138****1234; landlines keep their first 3 and last 4 digits too."""
    if not phone:
        return phone
    return _mask_middle(str(phone).strip(), keep_start=3, keep_end=4)


def mask_id(id_number: str | None) -> str | None:
    """620802199001011234 -> 620802********1234: the region stays, the birth date goes."""
    if not id_number:
        return id_number
    return _mask_middle(str(id_number).strip(), keep_start=6, keep_end=4)


def _mask_middle(text: str, keep_start: int, keep_end: int) -> str:
    if len(text) < keep_start + keep_end + 4:  # short values: hide at least half
        keep_start = keep_end = len(text) // 4
    hidden = len(text) - keep_start - keep_end
    return text[:keep_start] + "*" * hidden + text[len(text) - keep_end :]
