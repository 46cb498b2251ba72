"""Uploads attacked through the running app's callbacks (the second attack on the app, after
issue #18): file names that leave the upload's folder, and workbooks that unpack to
gigabytes. Each test sends what a script would send to /_dash-update-component, signed in
through the real form, against the demo on PostGIS."""

from __future__ import annotations

import base64
import time

import pytest

from tests.support.webapp import signed_in_client


@pytest.fixture(scope="module")
def server(demo_server):
    return demo_server


def callback(client, output: str, inputs: list, state: list | None = None):
    """POST one Dash callback: `output` as Dash names it (or the start of that name: outputs
    with allow_duplicate carry a hash), inputs and state as (id, property, value)."""
    import dash

    output = next(k for k in dash.get_app().callback_map if k.startswith(output.rstrip(".")))
    outputs = [dict(zip(("id", "property"), o.rsplit(".", 1))) for o in output.strip(".").split("...")]
    body = {
        "output": output,
        "outputs": outputs if output.startswith("..") else outputs[0],
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state or []],
        "changedPropIds": [f"{inputs[0][0]}.{inputs[0][1]}"],
    }
    return client.post("/_dash-update-component", json=body, headers={"X-CSRFToken": client.csrf})


UPLOAD = "..imp-file.data...imp-upload-msg.children.."
INSPECT = (
    "..imp-report.data...imp-summary.children...imp-mapping.data...imp-mapping.dropdown...imp-problems.children"
    "...imp-source-layer.options...imp-map-data.data...imp-run.disabled.."
)
RUN = "..imp-job.data...imp-poll.disabled...imp-result.children.."


def upload(client, name: str, data: bytes) -> dict:
    content = "data:application/octet-stream;base64," + base64.b64encode(data).decode()
    resp = callback(client, UPLOAD, [("imp-upload", "contents", [content])], [("imp-upload", "filename", [name])])
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    stored = resp.get_json()["response"]["imp-file"]["data"]
    assert stored and stored["token"], resp.get_data(as_text=True)[:300]
    return stored


def inspect(client, stored: dict, layer: str = "incidents"):
    inputs = [
        ("imp-file", "data", stored),
        ("imp-layer", "value", layer),
        ("imp-encoding", "value", None),
        ("imp-crs", "value", None),
        ("imp-source-layer", "value", None),
        ("imp-mapping", "data_timestamp", None),
    ]
    return callback(client, INSPECT, inputs, [("imp-mapping", "data", None), ("imp-report", "data", None)])


def test_the_import_page_reads_and_deletes_only_files_of_the_upload(server, demo_url, tmp_path):
    """The page's store (imp-file) lives in the browser: a name like ../../x or /etc/x was read
    by the importer (a server file's header came back in the report) and, after the import,
    deleted with the upload. Now any name that is not a file of the upload is refused."""
    admin = signed_in_client(server, demo_url, "admin")
    stored = upload(admin, "台账.csv", "事件类型,经度,纬度\n路灯不亮,106.67,35.55\n".encode())
    secret = tmp_path / "secret.csv"
    secret.write_text("SERVER_SECRET_HEADER,other\nSERVER_SECRET_VALUE,2\n", encoding="utf-8")
    victim = tmp_path / "victim.csv"
    victim.write_text("keep me\n", encoding="utf-8")

    honest = inspect(admin, stored)
    assert honest.status_code == 200 and honest.get_json()["response"]["imp-report"]["data"]["rows"] == 1

    climb = "../" * 12 + str(secret).lstrip("/")
    for name in (str(secret), climb):
        for files in ([name], stored["files"] + [name]):
            resp = inspect(admin, dict(stored, name=name, files=files))
            assert resp.status_code == 200
            assert "SERVER_SECRET" not in resp.get_data(as_text=True), name
            assert resp.get_json()["response"]["imp-report"]["data"] is None

    # The import itself: a file outside the upload is neither imported nor deleted afterwards.
    report = honest.get_json()["response"]["imp-report"]["data"]
    for evil in (
        dict(stored, name=str(victim), files=[str(victim)]),
        dict(stored, files=stored["files"] + ["../" * 12 + str(victim).lstrip("/")]),
        dict(stored, files=stored["files"] + [str(victim)]),
    ):
        state = [("imp-file", "data", evil), ("imp-report", "data", report), ("imp-mode", "value", "append")]
        resp = callback(admin, RUN, [("imp-run", "n_clicks", 1)], state + [("imp-skip", "value", [])])
        assert resp.status_code == 200 and "imp-job" not in resp.get_json()["response"], evil  # no job started
    time.sleep(0.5)
    assert victim.read_text(encoding="utf-8") == "keep me\n" and secret.exists()


def test_a_town_account_cannot_inspect_an_upload(server, demo_url):
    """Importing is for jurisdiction-wide accounts (a file may hold rows anywhere); the dry run
    that reads the file is theirs too, not a town planner's who learnt an upload's token."""
    admin = signed_in_client(server, demo_url, "admin")
    stored = upload(admin, "台账.csv", "事件类型,经度,纬度\n路灯不亮,106.67,35.55\n".encode())
    town_planner = signed_in_client(server, demo_url, "planner", "620802002")
    resp = inspect(town_planner, stored)
    assert resp.status_code == 200 and resp.get_json()["response"]["imp-report"]["data"] is None
