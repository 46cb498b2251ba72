"""What each layer derives from its parsed rows, before anything is written.

Why apart: these are the layers' rules (a division code's level and parent, an incident's
category, deadline and closing time, a place's kind from its type), separate from reading
files and from writing tables. Each takes the import context, the records (dicts, one per
row) and the problems, and completes the records in place.
"""

from __future__ import annotations

from datetime import datetime

from geo import db
from geo.incidents.dispatch import work_calendar
from geo.io import values
from geo.io.problems import Problems
from geo.worktime import CST, add_working_time

URBAN_KINDS = {"社区", "街道", "区", "市"}
_KIND_SUFFIXES = ("社区", "居委会", "街道", "村委会", "村", "镇", "乡", "区", "县", "市")


def duplicates(name: str, ctx, records: list[dict], problems: Problems) -> None:
    first: dict[str, int] = {}
    for i, rec in enumerate(records):
        value = rec.get(name) if rec else None
        if value is not None and first.setdefault(value, i) != i:
            problems.add(i, f"{name} {value} repeats {ctx.source.label(first[value])}")


def boundary(ctx, records: list[dict], problems: Problems) -> None:
    duplicates("code", ctx, records, problems)
    for rec in records:
        code, name = rec.get("code"), rec.get("name") or ""
        rec["kind"] = rec.get("kind") or next((s for s in _KIND_SUFFIXES if name.endswith(s)), None)
        rec["urban"] = rec["kind"] in URBAN_KINDS | {"居委会"} if rec.get("urban") is None else rec["urban"]
        rec["source"] = rec.get("source") or ctx.actor
        if code is None:
            rec["level"] = rec["parent"] = None  # found in SQL: the unit it lies in, by name or generated
            continue
        rec["level"] = (
            "community" if len(code) == 12 else "town" if len(code) == 9 else "city" if code.endswith("00") else "district"
        )
        rec["parent"] = {12: code[:9], 9: code[:6]}.get(len(code), None if rec["level"] == "city" else code[:4] + "00")


def incidents(ctx, records: list[dict], problems: Problems) -> None:
    """Category, title, deadline and closing time of each incident. Deadlines count on the
    same office calendar (holidays, make-up days) as incidents entered by hand; a limit in
    working days depends only on the local day, so it is computed once per day. A closed
    case without a 办结时间 is taken as closed at its deadline (or when reported, if the
    deadline is still ahead), and the output says how many."""
    steps_of_one_case(ctx, records, problems)
    calendar = work_calendar(ctx.conn)
    by_day: dict[tuple, datetime] = {}
    now = datetime.now(CST)
    derived = 0
    for i, rec in enumerate(records):
        if rec is None or i in problems.rows:
            continue
        category = ctx.categories[rec.pop("category")]
        rec["minor_code"] = category["minor_code"]
        rec["title"] = rec["title"] or category["minor_name"]
        limit, unit = category["time_limit"], category["time_unit"]
        if unit == "working_days":
            key = (rec["reported_at"].astimezone(CST).date(), limit)
            if key not in by_day:
                by_day[key] = add_working_time(rec["reported_at"], limit, unit, **calendar)
            rec["deadline"] = by_day[key]
        else:
            rec["deadline"] = add_working_time(rec["reported_at"], limit, unit, **calendar)
        if rec["status"] in values.CLOSED_STATUSES:
            if rec.get("closed_at") is None:
                rec["closed_at"] = rec["deadline"] if rec["deadline"] <= now else rec["reported_at"]
                derived += 1
            elif rec["closed_at"] < rec["reported_at"]:
                problems.add(i, f"办结时间 {rec['closed_at']:%Y-%m-%d %H:%M} is before the report time")
        else:
            rec["closed_at"] = None
    ctx.derived_closed = "closed_at" not in ctx.mapping.fields
    if derived:
        ctx.notes.append(
            f"{derived} closed case(s) without a 办结时间: taken as closed at their deadline (or when reported, if it is ahead)"
        )


# How far along the closed loop a status is: of a case's rows, the furthest one is its state.
STATUS_RANK = {
    "received": 0,
    "registered": 1,
    "dispatched": 2,
    "returned": 2,
    "escalated": 2,
    "in_progress": 3,
    "verified": 4,
    "closed": 5,
    "cancelled": 5,
    "followed_up": 6,
}


def steps_of_one_case(ctx, records: list[dict], problems: Problems) -> None:
    """A 12345 export lists a case once per step (受理, 转办, 办结): the same 工单编号 with the same
    受理时间. Those rows are one case, whose state is the row furthest along the loop (the last
    of equals); the others are left out (None) and said, not refused. The same 工单编号 with
    another 受理时间 is two cases under one number: a problem of the later row, as before."""
    groups: dict[str, list[int]] = {}
    for i, rec in enumerate(records):
        if rec is not None and i not in problems.rows and rec.get("external_id") is not None:
            groups.setdefault(rec["external_id"], []).append(i)
    merged, examples = 0, []
    for number, rows in groups.items():
        if len(rows) < 2:
            continue
        first = records[rows[0]]
        if any(records[i].get("reported_at") != first.get("reported_at") for i in rows[1:]):
            for i in rows[1:]:
                problems.add(
                    i,
                    f"external_id {number} repeats {ctx.source.label(rows[0])} with another 受理时间: two cases "
                    "under one 工单编号? give one of them its own number",
                )
            continue
        keep = max(rows, key=lambda i: (STATUS_RANK.get(records[i].get("status"), 0), i))
        for i in rows:
            if i != keep:
                records[i] = None
                merged += 1
        if len(examples) < 3:
            examples.append(f"{number}: {', '.join(ctx.source.label(i) for i in rows)} → {ctx.source.label(keep)}")
    if merged:
        ctx.notes.append(
            f"{merged} row(s) were earlier steps of a case listed again (same 工单编号 and 受理时间): "
            f"the row furthest along kept ({'; '.join(examples)}{' …' if len(examples) < merged else ''})"
        )


def places(ctx, records: list[dict], problems: Problems) -> None:
    """kind from the place type (学校 -> sensitive_place) where the file has no kind column."""
    duplicates("external_id", ctx, records, problems)
    if "kind" in ctx.mapping.fields:
        return
    parse = values.place_kind(values.place_types())
    column = ctx.mapping.fields.get("category", "category")
    for i, rec in enumerate(records):
        if rec is None or rec.get("category") is None or i in problems.rows:
            continue
        try:
            rec["kind"] = parse(rec["category"])
        except values.Unknown as exc:
            problems.add_value(i, column, rec["category"], str(exc), exc.suggestion)


def staff(ctx, records: list[dict], problems: Problems) -> None:
    """Each person's grid: the 网格编码, or, where a roster names its grids (光义社区第1网格, as
    the 综治办 lists them), the current official grid of that name, when one grid has it."""
    mapping = ctx.mapping.fields
    if "grid_code" in mapping:
        return
    if "grid_name" not in mapping:
        problems.add(
            None, "missing required column: grid_code (网格编码/网格代码/网格编号) or 网格名称 (the grid's name as imported)"
        )
        return
    column = mapping["grid_name"]
    grids: dict[str, list[str]] = {}
    for r in db.rows(ctx.conn, "SELECT code, name FROM grid WHERE valid_to IS NULL AND layer = 'official' AND name IS NOT NULL"):
        grids.setdefault(values.key(r["name"]), []).append(r["code"])
    names = {values.key(r): r for r in grids}
    found = 0
    for i, rec in enumerate(records):
        name = rec.pop("grid_name", None) if rec else None
        if name is None or i in problems.rows:
            continue
        codes = grids.get(values.key(name), [])
        if len(codes) == 1:
            rec["grid_code"] = codes[0]
            found += 1
        elif codes:
            problems.add_value(i, column, name, f"{len(codes)} current grids have this name: give the 网格编码 instead")
        else:
            near = values.suggest(values.key(name), names)
            problems.add_value(i, column, name, "no current official grid has this name", near)
    if found:
        ctx.notes.append(f"网格编码 found by 网格名称 for {found} row(s)")


def households(ctx, records: list[dict], problems: Problems) -> None:
    duplicates("external_id", ctx, records, problems)
