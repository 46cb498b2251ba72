"""Read-your-own-writes across requests, and no failed request when a replica goes away.

Why (issue #17 item 2): with QUANYU_REPLICA_URLS set, geo.db.reading() serves reads from a
streaming replica, which may lag. Two things make that invisible to the people using the app:

* A browser that wrote (an intake, a dispatch, a publish) must see its write on its next
  screens, whichever worker serves them. geo.db records the WAL position after each commit
  that wrote; this module sends it back as the `quanyu_wrote` cookie and restores it from the
  cookie on the session's next requests, so geo.read_routing keeps that session on the primary
  until a replica has replayed past it. A forged value can only send its own reads to the
  primary (or to a replica sooner): it grants no data, row-level security applies either way.
* A replica that dies while it serves a read raises read_routing.ReplicaLost (it is marked down
  first); the request is then dispatched once more, and the primary answers it. Only requests
  that wrote nothing are re-run (a read path never writes), so nothing is done twice.
"""

from __future__ import annotations

import flask

from geo import db, read_routing
from geo.read_routing import ReplicaLost

bp = flask.Blueprint("replica_retry", __name__)

COOKIE = "quanyu_wrote"
COOKIE_MAX_AGE_S = 3600  # a replica further behind than this is beyond any maximum lag anyway


@bp.before_app_request
def _restore_written_lsn():
    if not db.replica_urls():
        return None
    read_routing.start_request()
    # The cookie's position replaces whatever the sign-in guard (which runs first) wrote for its
    # own bookkeeping (a session's idle clock): no screen reads that, so it need not pin reads.
    try:
        lsn = int(flask.request.cookies.get(COOKIE, "0"), 16)
    except ValueError:
        lsn = 0
    db.set_written_lsn(lsn)
    flask.g.replica_lsn_in = lsn
    return None


@bp.after_app_request
def _remember_written_lsn(response: flask.Response) -> flask.Response:
    lsn_in = flask.g.get("replica_lsn_in")
    if lsn_in is None:
        return response
    # which servers answered this request's reads (primary, replica): for operators and the tests
    response.headers["X-Quanyu-Read"] = ",".join(sorted(read_routing.served_by())) or "none"
    if db.written_lsn() > lsn_in:
        response.set_cookie(COOKIE, format(db.written_lsn(), "x"), max_age=COOKIE_MAX_AGE_S, httponly=True, samesite="Lax")
    return response


@bp.teardown_app_request
def _forget_written_lsn(_exc=None):
    db.set_written_lsn(0)  # the thread's next request starts from its own cookie


@bp.record_once
def _retry_lost_replica(state) -> None:
    app = state.app
    dispatch = app.dispatch_request

    def dispatch_request(*args, **kwargs):
        before = db.written_lsn()
        try:
            return dispatch(*args, **kwargs)
        except ReplicaLost:
            if db.written_lsn() != before:
                raise
            app.logger.warning("replica lost during %s %s: served by the primary", flask.request.method, flask.request.path)
            return dispatch(*args, **kwargs)

    app.dispatch_request = dispatch_request
