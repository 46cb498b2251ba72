"""Photos attached to incidents (随手拍): checked, then stored beside the app.

Why magic bytes: the browser's file name and MIME type are whatever the client says; a
file is accepted only if its first bytes are those of a JPEG or PNG, and it is stored
under a random name with the extension its content proves, so an upload can never become
a page or a script served from our own origin.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from geo import config

ROOT = config.VAR_DIR / "uploads"
MAX_BYTES = 5 * 1024 * 1024
URL_PREFIX = "/uploads"
SIGNATURES = {"jpg": (b"\xff\xd8\xff",), "png": (b"\x89PNG\r\n\x1a\n",)}
MIME = {"jpg": "image/jpeg", "png": "image/png"}
NAME = re.compile(r"^[0-9a-f]{32}\.(jpg|png)$")


class PhotoRejected(ValueError):
    """Not a JPEG/PNG, too large or unreadable; the message says which."""


@dataclass(frozen=True)
class Photo:
    data: bytes
    ext: str  # proven by content: 'jpg' or 'png'


def sniff(data: bytes) -> str | None:
    for ext, heads in SIGNATURES.items():
        if any(data.startswith(h) for h in heads):
            return ext
    return None


def _name(filename) -> str:
    """The client's file name, fit to echo in a message: printable and short."""
    return re.sub(r"[\x00-\x1f\x7f]", "?", str(filename or ""))[:80]


def from_upload(contents: str | None, filename: str | None = None) -> Photo | None:
    """A dcc.Upload value ('data:<mime>;base64,<data>') as a checked Photo, or None if empty."""
    if not contents:
        return None
    filename = _name(filename)
    if not isinstance(contents, str) or not contents.startswith("data:") or "," not in contents:
        raise PhotoRejected(f"无法读取照片 (the upload is not a data: URL): {filename}")
    _, _, payload = contents.partition(",")
    if len(payload) > (MAX_BYTES * 4) // 3 + 8:
        raise PhotoRejected(f"照片超过 5 MB (photo larger than {MAX_BYTES // 1024 // 1024} MB): {filename or ''}")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise PhotoRejected(f"无法读取照片 (the upload is not valid base64): {filename or ''}") from None
    if len(data) > MAX_BYTES:
        raise PhotoRejected(f"照片超过 5 MB (photo larger than {MAX_BYTES // 1024 // 1024} MB): {filename or ''}")
    ext = sniff(data)
    if ext is None:
        raise PhotoRejected(f"只接受 JPEG/PNG 图片 (only JPEG or PNG images; the content of {filename or 'the file'} is neither)")
    return Photo(data, ext)


def store(incident_id: int, photo: Photo, root: Path | None = None) -> str:
    """Write the photo under <root>/<incident id>/ with a random name; returns the name."""
    folder = (root or ROOT) / str(int(incident_id))
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}.{photo.ext}"
    (folder / name).write_bytes(photo.data)
    return name


def url_path(incident_id: int, name: str) -> str:
    return f"{URL_PREFIX}/{int(incident_id)}/{name}"


def shown_path(incident_id: int, media_url: str | None, root: Path | None = None) -> str | None:
    """The same-site path of the incident's photo if it is a file we stored for this
    incident, else None (issue #18, finding 6).

    An Open311 client's media_url points wherever the client likes: shown as an image it
    would make every operator's browser fetch it, telling its owner when and from where the
    case was opened. Only our own files are shown, by a relative path (whatever host the
    stored URL names); anything else is offered as a link the operator chooses to open."""
    match = re.search(r"/uploads/([0-9]+)/([^/?#]+)$", urlsplit(media_url or "").path)
    if not match or match.group(1) != str(int(incident_id)):
        return None
    return url_path(incident_id, match.group(2)) if stored_file(match.group(1), match.group(2), root) else None


def stored_file(incident_id: str, name: str, root: Path | None = None) -> tuple[Path, str] | None:
    """The file and MIME type behind a /uploads URL, or None for anything we did not write."""
    if not (incident_id.isdigit() and NAME.match(name)):
        return None
    path = (root or ROOT) / incident_id / name
    return (path, MIME[name.rsplit(".", 1)[1]]) if path.is_file() else None
