"""The API driven by a published Open311 client, unchanged: `georeport` 0.3.1 (PyPI,
Apache-2.0), over real HTTP to a server on 127.0.0.1 with an ephemeral port.

georeport reads (services, definitions, requests, one request) in JSON and XML but does
not post; posting goes through `requests` exactly as the specification describes it
(form-encoded). The other Python clients on PyPI (`open311` 1.1, `three` 0.8) are Python 2
only and do not import on Python 3.
"""

from __future__ import annotations

import os
import threading

import flask
import pytest
import requests
from werkzeug.serving import make_server

from geo import db
from geo.incidents import lifecycle
from geo.security import apikeys
from geo.web.api import open311
from tests.support.loop import GRID_SW, IN_SW

georeport = pytest.importorskip("georeport")


@pytest.fixture
def server(loop_world):
    app = flask.Flask("open311-client-test")
    app.config["QUANYU_DATABASE_URL"] = os.environ.get("TEST_DATABASE_URL") or db.cluster.database_url(test=True)
    app.register_blueprint(open311.bp)
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}/open311/v2"
    srv.shutdown()
    thread.join(timeout=5)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_georeport_client_reads_what_was_posted(server, loop_world, fmt):
    key = apikeys.create(loop_world, "georeport test")
    resp = requests.post(
        f"{server}/requests.json",
        timeout=10,
        data={
            "api_key": key,
            "service_code": "0401",  # a published category: anonymous clients read it back
            "lat": IN_SW[1],
            "long": IN_SW[0],
            "description": "楼上漏水",
            "attribute[people_involved]": "2",
        },
    )
    assert resp.status_code == 200, resp.text
    rid = resp.json()[0]["service_request_id"]
    lifecycle.transition(loop_world, int(rid), "registered", "值班员")

    client = georeport.GeoReport(server, output_format=fmt)
    services = client.get_service_list()
    assert len(services) == 177
    assert {"service_code": "0401", "service_name": "暴露垃圾"}.items() <= dict(
        next(s for s in services if s["service_code"] == "0401")
    ).items()
    definition = client.get_service_definition("0401")
    assert definition["service_code"] == "0401"
    one = client.get_service_request(rid)
    assert (one["service_request_id"], one["status"], one["status_notes"]) == (rid, "open", "已立案 registered")
    assert one["agency_responsible"] == "环卫所"
    listed = client.get_service_requests(service_request_id=rid)
    if fmt == "xml":  # xmltodict gives a lone <request> as a dict, several as a list
        listed = [listed] if isinstance(listed, dict) else listed
    assert [r["service_request_id"] for r in listed] == [rid]
    with pytest.raises(requests.HTTPError):
        client.get_service_request("999999")
    grid = db.scalar(loop_world, "SELECT grid_code FROM incident WHERE id = %s", (int(rid),))
    assert grid == GRID_SW
