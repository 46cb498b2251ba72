"""The sign-in page (issue #18, findings 3, 5 and 8): redirects stay on this site, every
refusal looks the same, and no `next` makes a 500. Fuzzed with hypothesis."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo.web.auth import _safe_next
from tests.support.webapp import TEST_PASSWORD, ensure_account


@pytest.fixture(scope="module")
def server(demo_server):
    return demo_server


def as_browser_reads(location: str) -> str:
    """What a browser makes of a Location header: tabs and newlines dropped, \\ read as /."""
    return re.sub(r"[\t\n\r]", "", location).replace("\\", "/")


def same_origin(location: str) -> bool:
    seen = as_browser_reads(location)
    try:
        parts = urlsplit(seen)
    except ValueError:
        return False
    return seen.startswith("/") and not seen.startswith("//") and not parts.scheme and not parts.netloc


ATTACKS = [
    "/%09/evil.example/x",
    "/\t/evil.example/x",
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\n/evil.example",
    "/\r\n/evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "/ /evil.example",
    "/\x0b/evil.example",
    "//%2Fevil.example",
    "/%5Cevil.example",
]


def sign_in(server, demo_url, next_value):
    username = ensure_account(demo_url, "leader")
    c = server.test_client()
    form = c.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    return c.post("/login", data={"username": username, "password": TEST_PASSWORD, "csrf_token": token, "next": next_value})


@pytest.mark.parametrize("target", ATTACKS)
def test_sign_in_redirects_only_to_this_site(server, demo_url, target):
    from urllib.parse import unquote

    resp = sign_in(server, demo_url, unquote(target))
    assert resp.status_code == 302, resp.status_code
    assert same_origin(resp.headers["Location"]), resp.headers["Location"]
    # and through the query string of the sign-in page, as the finding was reported
    page = server.test_client().get("/login?next=" + target.replace("\t", "%09").replace("\n", "%0A"))
    assert page.status_code == 200
    hidden = re.search(r'name="next" value="([^"]*)"', page.get_data(as_text=True)).group(1)
    assert same_origin(hidden), hidden


def test_a_path_on_this_site_is_kept(server, demo_url):
    assert sign_in(server, demo_url, "/drill?code=620802").headers["Location"] == "/drill?code=620802"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.text(st.characters(codec="utf-8"), max_size=60)
    | st.builds(lambda a, b: a + b, st.sampled_from(["/", "//", "/\\", "\\"]), st.text(max_size=30))
)
def test_safe_next_never_leaves_the_site(target):
    assert same_origin(_safe_next(target))


def test_every_refusal_answers_alike(server, demo_url):
    """Unknown name, wrong password and a throttled name: the same status and message."""
    username = ensure_account(demo_url, "auditor")

    def attempt(name, password):
        c = server.test_client()
        c.environ_base["REMOTE_ADDR"] = "10.77.0.1"  # not the loopback every other test signs in from
        form = c.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        resp = c.post("/login", data={"username": name, "password": password, "csrf_token": token})
        body = resp.get_data(as_text=True)
        return resp.status_code, re.search(r'role="alert">([^<]*)<', body).group(1)

    unknown = attempt("no-such-user-here", "wrong-password-1")
    wrong = attempt(username, "wrong-password-1")
    for _ in range(6):
        attempt(username, "wrong-password-1")
    throttled = attempt(username, TEST_PASSWORD)  # right password, throttled address
    assert unknown == wrong == throttled and unknown[0] == 401
    ensure_account(demo_url, "auditor")  # unlock for the other tests


def test_a_newline_in_next_is_not_a_500(server, demo_url):
    for value in ("/\n", "/a\r\nSet-Cookie: x=1", "\x00", "/" + "a" * 5000):
        resp = sign_in(server, demo_url, value)
        assert resp.status_code == 302 and "\n" not in resp.headers["Location"], value
