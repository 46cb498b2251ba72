"""Dash callback requests made well-formed, or refused (issue #18, finding 8).

A fuzzer got 500s from /_dash-update-component for 186 of 528 calls: wrongly typed values,
unknown outputs, deep nesting, drill codes out of scope. Two general controls, so that a
callback added tomorrow is covered without remembering to be:

- **Shape** (`check`, called by the guard in geo/web/auth.py before any callback runs): the
  body must name a registered callback and send exactly the inputs and states it declares
  (same ids and properties, in order; lists for pattern-matching ALL inputs), nested no
  deeper than MAX_DEPTH. Anything else is a 400 naming the problem.
- **Values** (`_bad_value`): a callback that fails on a value it did not expect (TypeError,
  ValueError, LookupError, AttributeError, ArithmeticError, or a value PostgreSQL refuses) is
  a 400 "bad input" for that request, logged with its traceback for the developers; the
  page keeps what it shows. A lost database is a 503. Everything else stays a 500: it is a
  bug, not bad input.
"""

from __future__ import annotations

import json

import flask
import psycopg2
import psycopg2.errors
from werkzeug.exceptions import HTTPException

bp = flask.Blueprint("callback_guard", __name__)

DASH_UPDATE = "/_dash-update-component"
MAX_DEPTH = 32  # Dash's own bodies nest a handful of levels; figure data a few more
INPUT_ERRORS = (
    TypeError,
    ValueError,
    LookupError,
    AttributeError,
    ArithmeticError,
    RecursionError,
    psycopg2.DataError,  # a value PostgreSQL cannot read as the column's type
    psycopg2.errors.UndefinedFunction,  # an operator for the wrong type: id = false
    psycopg2.errors.DatatypeMismatch,
    psycopg2.errors.InvalidParameterValue,
)


class Malformed(ValueError):
    """A callback request that does not match the callback it names."""


def depth(value, limit: int = MAX_DEPTH) -> int:
    """How deeply `value` nests (lists and dicts), counting no further than limit + 1."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, level)
            if level > limit:
                return level
            stack.extend((v, level + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def _same_id(sent, declared) -> bool:
    if isinstance(declared, str) and declared.startswith("{"):
        declared = json.loads(declared)
    if isinstance(declared, dict):  # a pattern: the keys match, wildcard values are anything
        return (
            isinstance(sent, dict)
            and set(sent) == set(declared)
            and all(isinstance(v, list) or sent[k] == v for k, v in declared.items())
        )
    return sent == declared


def _check_items(kind: str, sent, declared: list[dict]) -> None:
    if sent is None:
        sent = []
    if not isinstance(sent, list) or len(sent) != len(declared):
        raise Malformed(f"{kind} must be a list of the callback's {len(declared)} {kind}")
    for k, (item, spec) in enumerate(zip(sent, declared)):
        group = item if isinstance(item, list) else [item]
        wildcard = isinstance(spec["id"], str) and spec["id"].startswith("{")
        if isinstance(item, list) and not wildcard:
            raise Malformed(f"{kind}[{k}] must be one value, not a list")
        for one in group:
            if not isinstance(one, dict) or one.get("property") != spec["property"] or not _same_id(one.get("id"), spec["id"]):
                raise Malformed(f"{kind}[{k}] must be {spec['id']}.{spec['property']}")


def declared_outputs(key: str) -> list[tuple[str, str]]:
    """(id, property) of each output named by a callback-map key ("..a.children...b.style..")."""
    parts = key[2:-2].split("...") if key.startswith("..") and key.endswith("..") else [key]
    return [tuple(part.split("@")[0].rsplit(".", 1)) for part in parts]


def _check_outputs(sent, key: str) -> None:
    declared = declared_outputs(key)
    items = sent if isinstance(sent, list) else [sent]
    if len(declared) == 1 and isinstance(sent, list) and not declared[0][0].startswith("{"):
        raise Malformed("outputs must be the callback's one output")
    if len(items) != len(declared):
        raise Malformed(f"outputs must be the callback's {len(declared)} outputs")
    for k, (item, (ident, prop)) in enumerate(zip(items, declared)):
        group = item if isinstance(item, list) else [item]
        for one in group:
            # an output shared with another callback (allow_duplicate) is sent as "children@<hash>"
            sent_prop = one.get("property") if isinstance(one, dict) else None
            if not isinstance(sent_prop, str) or sent_prop.split("@")[0] != prop or not _same_id(one.get("id"), ident):
                raise Malformed(f"outputs[{k}] must be {ident}.{prop}")


def check(body: dict, entry: dict) -> None:
    """Raise Malformed unless `body` is a well-formed call of the callback `entry`."""
    if depth(body) > MAX_DEPTH:
        raise Malformed(f"the request nests deeper than {MAX_DEPTH} levels")
    _check_outputs(body.get("outputs"), body.get("output", ""))
    _check_items("inputs", body.get("inputs"), entry.get("inputs") or [])
    _check_items("state", body.get("state"), entry.get("state") or [])
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) and len(c) < 1000 for c in changed):
        raise Malformed("changedPropIds must be a list of component.property names")


def _unadaptable(exc) -> bool:
    """psycopg2 refusing to send a Python value (a dict where a number belongs): bad input."""
    return isinstance(exc, psycopg2.ProgrammingError) and exc.pgcode is None and "can't adapt" in str(exc)


@bp.app_errorhandler(Exception)
def _bad_value(exc):
    """Input-shaped failures of a callback are a 400; the rest keep Flask's own answer."""
    if isinstance(exc, HTTPException):
        return exc
    if flask.request.path != DASH_UPDATE:
        raise exc
    if isinstance(exc, psycopg2.OperationalError) and not isinstance(exc, psycopg2.errors.QueryCanceled):
        flask.current_app.logger.error("callback: database unavailable: %s", exc)
        return flask.jsonify({"error": "unavailable", "message": "数据库暂不可用，请稍后重试 (database unavailable)"}), 503
    if isinstance(exc, INPUT_ERRORS) or _unadaptable(exc):
        flask.current_app.logger.warning("callback refused a value it did not expect", exc_info=exc)
        return flask.jsonify({"error": "bad input", "message": "输入值无效 (a value of this request is not valid)"}), 400
    raise exc
