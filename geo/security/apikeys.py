"""API keys of Open311 clients (12345 platform, mini-programs, partner systems).

The key is shown once, at creation; the database keeps only its SHA-256. Keys are 256-bit
random tokens, so a fast hash is as strong as a slow one (argon2 protects guessable
passwords, which these are not) and checking one costs nothing per request.
"""

from __future__ import annotations

import hashlib
import secrets

from geo import db

PREFIX = "qy_"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


# What a key may read beyond Open311's anonymous view (geo/incidents/open311.py): every
# key may report; reading unpublished categories or exact places is granted one by one.
SCOPES = ("read:restricted", "read:precise")


def create(conn, name: str, scopes=()) -> str:
    """A new key for client `name` with read `scopes`; returns the key itself (not stored anywhere)."""
    name = (name or "").strip()
    if not name:
        raise ValueError("须为密钥命名 a key needs a name (the client it is for)")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise ValueError(f"未知权限范围 unknown scope {', '.join(unknown)}; scopes: {', '.join(SCOPES)}")
    key = PREFIX + secrets.token_urlsafe(32)
    with db.transaction(conn) as cur:
        cur.execute("INSERT INTO api_key (name, key_hash, scopes) VALUES (%s, %s, %s)", (name, _digest(key), sorted(set(scopes))))
    return key


def verify(conn, key: str | None) -> dict | None:
    """The key's row (id, name, scopes) if the key is known and not revoked, else None."""
    if not key or len(key) > 200:
        return None
    return db.one(conn, "SELECT id, name, scopes FROM api_key WHERE key_hash = %s AND revoked_at IS NULL", (_digest(key),))


def list_keys(conn) -> list[dict]:
    return db.rows(conn, "SELECT id, name, scopes, created_at, revoked_at FROM api_key ORDER BY id")


def revoke(conn, key_id: int) -> bool:
    with db.transaction(conn) as cur:
        cur.execute("UPDATE api_key SET revoked_at = now() WHERE id = %s AND revoked_at IS NULL", (key_id,))
        return cur.rowcount == 1
