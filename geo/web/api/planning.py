"""JSON for the planner's workbench: coverage findings and partition proposals.

GET /api/coverage?community=CODE            the coverage report (whole jurisdiction without it)
GET /api/coverage/defects                   the stored defects (coverage_defect) as GeoJSON, refreshed if stale
GET /api/partition?community=CODE&target=300[&persons_limit=N]   a proposal with GeoJSON grids

Geometry is lon/lat (EPSG:4326). Bad input is a 400 with a message, never a 500.
"""

from __future__ import annotations

import re

import flask

from geo import db
from geo.coverage import report as coverage
from geo.planning import partition

bp = flask.Blueprint("planning_api", __name__)


def _bad(message: str, status: int = 400):
    return flask.jsonify(error=message), status


def _int_arg(name: str, default):
    value = flask.request.args.get(name)
    if value in (None, ""):
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, got {value!r}") from None


@bp.get("/api/coverage")
def coverage_report():
    community = flask.request.args.get("community") or None
    if community is not None and not re.fullmatch(r"[0-9]{6,12}", community):
        return _bad("community must be an administrative code of 6 to 12 digits")
    try:
        with db.pooled() as conn:
            report = coverage.analyse(conn, community)
    except ValueError as exc:
        return _bad(str(exc))
    return flask.jsonify(report.to_dict())


@bp.get("/api/coverage/defects")
def coverage_defects():
    with db.system() as conn:  # derived data for everyone: refreshed as the owner (a reader's role may not write it)
        run = coverage.refresh(conn)
    community = flask.request.args.get("community") or None
    if community is not None and not re.fullmatch(r"[0-9]{6,12}", community):
        return _bad("community must be an administrative code of 6 to 12 digits")
    with db.pooled() as conn:  # read in the caller's scope
        features = coverage.stored_defects(conn, community)
    summary = {k: run[k] for k in ("grid_version", "score", "computed_at", "refreshed")}
    scope = db.current_scope()
    if scope is not None:  # the stored run is the jurisdiction's: an account sees its own communities' scores only
        scores = {code: v for code, v in (run.get("scores") or {}).items() if code.startswith(scope.prefix)}
        if len(scores) != len(run.get("scores") or {}):
            summary["score"] = None
        summary["scores"] = scores
    return flask.jsonify(type="FeatureCollection", features=features, run=summary)


@bp.get("/api/partition")
def partition_proposal():
    community = flask.request.args.get("community")
    if not community:
        return _bad("community is required (12-digit code)")
    try:
        target = _int_arg("target", 300)
        limit = _int_arg("persons_limit", None)
        with db.pooled() as conn:
            proposal = partition.partition(conn, community, target, limit)
    except ValueError as exc:
        return _bad(str(exc))
    return flask.jsonify(proposal.to_dict())
