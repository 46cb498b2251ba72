"""Media (issue #18, finding 6): an Open311 media_url was shown as <img src> on /intake, so a
key holder learnt when and from where an operator opened the case. Only files we stored
are shown as images; anything else is a link the operator chooses to open."""

from __future__ import annotations

from dash import html

from geo.incidents import media

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def walk(component):
    yield component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and hasattr(child, "_prop_names"):
            yield from walk(child)


def test_only_our_own_stored_files_are_shown(tmp_path):
    name = media.store(7, media.Photo(PNG, "png"), root=tmp_path)
    assert media.shown_path(7, f"http://127.0.0.1:8050/uploads/7/{name}", root=tmp_path) == f"/uploads/7/{name}"
    # the same file name under another host is still shown from here, never from there
    assert media.shown_path(7, f"https://evil.example/uploads/7/{name}", root=tmp_path) == f"/uploads/7/{name}"
    assert media.shown_path(8, f"http://127.0.0.1:8050/uploads/7/{name}", root=tmp_path) is None  # another incident's
    assert media.shown_path(7, "https://evil.example/uploads/7/" + "a" * 32 + ".png", root=tmp_path) is None
    assert media.shown_path(7, "https://evil.example/track.gif", root=tmp_path) is None
    assert media.shown_path(7, None, root=tmp_path) is None


def test_an_outsiders_url_is_a_link_not_an_image():
    import app  # noqa: F401  (pages register themselves with the app)
    from geo.web.pages import intake

    shown = intake.photo_view(7, "https://evil.example/track.gif?case=7")
    assert not [c for c in walk(shown) if isinstance(c, html.Img)]
    assert isinstance(shown, html.A) and shown.href == "https://evil.example/track.gif?case=7"
    assert "noreferrer" in shown.rel and shown.referrerPolicy == "no-referrer" and "evil.example" in shown.children
    odd = intake.photo_view(7, "javascript:alert(1)")
    assert odd.href is None  # never a script link


def test_pages_may_load_images_only_from_this_site(tmp_path):
    import flask

    from geo.web import auth

    app = flask.Flask("csp")
    app.register_blueprint(auth.bp)
    resp = app.test_client().get("/login")
    assert resp.headers["Content-Security-Policy"] == "img-src 'self' data: blob:"
