"""A callback whose output another callback shares (allow_duplicate) is sent by Dash's
renderer with the property as "children@<hash>": the callback guard must accept it (the
数据导入 page's progress poll and the intake's version counter are such callbacks)."""

from __future__ import annotations

import pytest

from geo.web import callback_guard


def body(prop: str) -> dict:
    return {
        "output": "..imp-bar.style...imp-result.children@18e7ba86..",
        "outputs": [{"id": "imp-bar", "property": "style"}, {"id": "imp-result", "property": prop}],
        "inputs": [{"id": "imp-poll", "property": "n_intervals", "value": 3}],
        "state": [],
    }


ENTRY = {"inputs": [{"id": "imp-poll", "property": "n_intervals"}], "state": []}


def test_a_shared_output_sent_with_its_hash_is_well_formed():
    callback_guard.check(body("children@18e7ba86"), ENTRY)
    callback_guard.check(body("children"), ENTRY)


def test_another_property_is_still_refused():
    with pytest.raises(callback_guard.Malformed, match="outputs\\[1\\] must be imp-result.children"):
        callback_guard.check(body("style@18e7ba86"), ENTRY)
