"""Accounts, passwords, sign-in throttling, sessions and the audit log.

Passwords are hashed with Argon2id (argon2-cffi, the OWASP first choice); a hash made with
older parameters is upgraded at the next successful sign-in. Sessions are rows (only the
token's SHA-256 is stored) so that sign-out, expiry and disabling an account take effect
at once on every worker. Everything here runs as the database owner: it is what decides
who the request is, before any scope exists.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg2.extras
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from geo import db
from geo.security import access

_hasher = PasswordHasher()  # Argon2id, argon2-cffi's RFC 9106 low-memory profile

MIN_PASSWORD_LENGTH = 10
# Throttling (issue #18, 5), counted from login_attempt within THROTTLE_WINDOW:
# - one address on one name: after MAX_FAILURES_PER_USER failures each further try waits
#   BACKOFF_START, doubling per failure up to the window (progressive delay, no CAPTCHA);
# - one address on any names: refused after MAX_FAILURES_PER_IP failures;
# - one name from many addresses: addresses that never signed in to it are refused after
#   MAX_FAILURES_PER_NAME failures, while the owner's own desks (addresses with a past
#   success) keep signing in: a distributed guesser slows down, the owner is not locked out.
# Every refusal answers exactly like a wrong password, after the same Argon2 verification.
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_IP = 20
MAX_FAILURES_PER_NAME = 50
BACKOFF_START = timedelta(seconds=30)
THROTTLE_WINDOW = timedelta(minutes=15)
KNOWN_SOURCE_DAYS = 90
REFUSED = "用户名或密码错误，或尝试过于频繁请稍后再试 (wrong user name or password, or too many tries: wait and try again)"


def session_idle() -> timedelta:
    """Idle timeout. The big screen polls every few seconds, so a wall screen stays signed in
    until the absolute limit, while a desk left alone signs out."""
    return timedelta(minutes=float(os.environ.get("QUANYU_SESSION_IDLE_MINUTES", "30")))


def session_max() -> timedelta:
    return timedelta(hours=float(os.environ.get("QUANYU_SESSION_HOURS", "12")))


class AccountError(ValueError):
    """Bad input to an account command; the message says what to change."""


class SignInRefused(Exception):
    """Wrong name or password, a disabled account, or too many tries; `reason` for the log,
    `message` for the user (which never says whether the account exists)."""

    def __init__(self, reason: str, message: str):
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Session:
    token: str
    csrf_token: str
    scope: access.Scope
    display_name: str
    # For the web workers' session cache (geo.security.session_cache): the revocation
    # version read in the same snapshot as the session, and the absolute expiry.
    epoch: int = 0
    expires_at: datetime | None = None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password_strength(password: str, username: str = "") -> None:
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise AccountError(f"密码至少 {MIN_PASSWORD_LENGTH} 位 (password must have at least {MIN_PASSWORD_LENGTH} characters)")
    if username and username.lower() in password.lower():
        raise AccountError("密码不能包含用户名 (password must not contain the user name)")
    if len(set(password)) < 5:
        raise AccountError("密码过于简单 (password too simple: use at least 5 different characters)")


# --------------------------------------------------------------------------- accounts


def create_user(
    conn, username: str, password: str, role: str, admin_code: str, display_name: str = "", actor: str = "cli"
) -> int:
    if role not in access.ROLES:
        raise AccountError(f"未知角色 unknown role {role!r}; roles: {', '.join(access.ROLES)}")
    try:
        access.check_scope_code(admin_code)
    except ValueError as e:
        raise AccountError(str(e)) from None
    check_password_strength(password, username)
    if db.scalar(conn, "SELECT 1 FROM app_user WHERE username = %s", (username,)):
        raise AccountError(f"用户已存在 user {username!r} exists")
    if not db.scalar(
        conn,
        "SELECT 1 FROM admin_unit WHERE code = %s UNION ALL SELECT 1 FROM jurisdiction WHERE code = %s",
        (admin_code, admin_code),
    ):
        raise AccountError(f"行政区划 {admin_code} 不存在 (no such unit: load the boundaries first)")
    try:
        with db.transaction(conn) as cur:
            cur.execute(
                """INSERT INTO app_user (username, display_name, password_hash, role, admin_code)
                           VALUES (%s, %s, %s, %s, %s) RETURNING id""",
                (username, display_name or username, _hasher.hash(password), role, admin_code),
            )
            user_id = cur.fetchone()[0]
            _audit(cur, actor, "user.create", f"user:{username}", {"role": role, "admin_code": admin_code})
    except psycopg2.errors.CheckViolation as e:
        raise AccountError(f"用户名只能含字母、数字和 _.@- (invalid user name {username!r})") from e
    return user_id


def set_password(conn, username: str, password: str, actor: str = "cli", keep_token: str | None = None) -> None:
    """A new password; every session of the account ends, but `keep_token`'s (the user's own
    screen when they change it themselves)."""
    check_password_strength(password, username)
    with db.transaction(conn) as cur:
        cur.execute(
            """UPDATE app_user SET password_hash = %s, password_changed_at = now(), throttle_reset_at = now()
                WHERE username = %s""",
            (_hasher.hash(password), username),
        )
        if cur.rowcount != 1:
            raise AccountError(f"无此用户 no user {username!r}")
        # A new password ends every session of the account.
        cur.execute(
            """UPDATE app_session SET revoked_at = now() WHERE revoked_at IS NULL AND token_hash <> %s
                          AND user_id = (SELECT id FROM app_user WHERE username = %s)""",
            (_digest(keep_token) if keep_token else "", username),
        )
        _audit(cur, actor, "user.password", f"user:{username}", {})
    _sessions_changed()


def set_active(conn, username: str, active: bool, actor: str = "cli") -> None:
    with db.transaction(conn) as cur:
        cur.execute("UPDATE app_user SET active = %s, throttle_reset_at = now() WHERE username = %s", (active, username))
        if cur.rowcount != 1:
            raise AccountError(f"无此用户 no user {username!r}")
        if not active:
            cur.execute(
                """UPDATE app_session SET revoked_at = now() WHERE revoked_at IS NULL
                              AND user_id = (SELECT id FROM app_user WHERE username = %s)""",
                (username,),
            )
        _audit(cur, actor, "user.enable" if active else "user.disable", f"user:{username}", {})
    _sessions_changed()


def users(conn) -> list[dict]:
    return db.rows(
        conn,
        """SELECT username, display_name, role, admin_code, active, created_at,
                  (SELECT max(at) FROM login_attempt a WHERE a.username = u.username AND ok) AS last_sign_in,
                  (SELECT count(*) FROM login_attempt a
                    WHERE a.username = u.username AND NOT ok
                      AND a.at > greatest(now() - %(window)s, coalesce(u.throttle_reset_at, '-infinity'))) AS recent_failures
             FROM app_user u ORDER BY username""",
        {"window": THROTTLE_WINDOW},
    )


def throttled(user: dict) -> bool:
    """Is somebody guessing this account's password (for the account lists: unlock forgives)?"""
    return user["recent_failures"] >= MAX_FAILURES_PER_USER


# --------------------------------------------------------------------------- sign-in


def check_password(conn, username: str, password: str, ip: str | None = None) -> dict:
    """The account's row when the password is right, else SignInRefused; throttled and logged
    like a sign-in (it is one, as far as guessing goes).

    The same work whatever the case (one query, one Argon2 verification against the
    account's hash or a dummy one, one failure record) and the same message for an unknown
    name, a wrong password and a throttled source, so neither the answer nor its time tells
    which names exist or which are being guessed."""
    username = (username or "").strip()[:64]
    user = db.one(conn, "SELECT * FROM app_user WHERE username = %s", (username,))
    counts = _failures(conn, username, ip, user["throttle_reset_at"] if user else None)
    try:
        ok = _hasher.verify(user["password_hash"] if user else _DUMMY_HASH, password or "") and user is not None
    except (VerificationError, InvalidHashError):
        ok = False
    reason = _throttled(counts)
    if reason or not ok:
        _fail(conn, user, username, ip, reason or ("password" if user else "unknown_user"))
    if not user["active"]:
        _refuse(conn, username, ip, "disabled")
    return user


def _failures(conn, username: str, ip: str | None, reset_at) -> dict:
    """Recent failures by this address on this name, by this address, and on this name."""
    return db.one(
        conn,
        """WITH recent AS (
               SELECT username, ip, at FROM login_attempt
                WHERE NOT ok AND at > greatest(now() - %(window)s, coalesce(%(reset)s::timestamptz, '-infinity'))
                  AND (username = %(name)s OR ip = %(ip)s))
           SELECT (SELECT count(*) FROM recent WHERE username = %(name)s AND ip IS NOT DISTINCT FROM %(ip)s
                      AND at > coalesce((SELECT max(at) FROM login_attempt
                                          WHERE ok AND username = %(name)s AND ip IS NOT DISTINCT FROM %(ip)s), '-infinity'))
                      AS pair,
                  (SELECT max(at) FROM recent WHERE username = %(name)s AND ip IS NOT DISTINCT FROM %(ip)s) AS pair_last,
                  (SELECT count(*) FROM login_attempt WHERE ip = %(ip)s AND NOT ok AND at > now() - %(window)s) AS source,
                  (SELECT count(*) FROM recent WHERE username = %(name)s) AS name,
                  EXISTS (SELECT 1 FROM login_attempt WHERE ok AND username = %(name)s AND ip IS NOT DISTINCT FROM %(ip)s
                             AND at > now() - %(known)s) AS known_source,
                  now() AS now""",
        {"window": THROTTLE_WINDOW, "reset": reset_at, "name": username, "ip": ip, "known": timedelta(days=KNOWN_SOURCE_DAYS)},
    )


def backoff(failures: int) -> timedelta:
    """How long an address waits on a name after `failures` failures in a row (0 below the limit)."""
    if failures < MAX_FAILURES_PER_USER:
        return timedelta(0)
    return min(THROTTLE_WINDOW, BACKOFF_START * 2 ** min(failures - MAX_FAILURES_PER_USER, 20))


def _throttled(c: dict) -> str | None:
    if c["source"] >= MAX_FAILURES_PER_IP:
        return "throttled.ip"
    if c["pair"] and c["now"] < c["pair_last"] + backoff(c["pair"]):
        return "throttled.backoff"
    if c["name"] >= MAX_FAILURES_PER_NAME and not c["known_source"]:
        return "throttled.name"
    return None


def sign_in(conn, username: str, password: str, ip: str | None = None, user_agent: str | None = None) -> Session:
    """Check the password and open a session, or raise SignInRefused. Every attempt is
    recorded (login_attempt and audit_log) in its own transaction, refused ones too."""
    user = check_password(conn, username, password, ip)
    username = user["username"]
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with db.transaction(conn) as cur:
        if _hasher.check_needs_rehash(user["password_hash"]):
            cur.execute("UPDATE app_user SET password_hash = %s WHERE id = %s", (_hasher.hash(password), user["id"]))
        cur.execute(
            """INSERT INTO app_session (token_hash, user_id, csrf_token, expires_at, ip, user_agent)
                       VALUES (%s, %s, %s, now() + %s, %s, %s)""",
            (_digest(token), user["id"], csrf, session_max(), ip, (user_agent or "")[:300]),
        )
        cur.execute("INSERT INTO login_attempt (username, ip, ok) VALUES (%s, %s, true)", (username, ip))
        _audit(cur, username, "sign_in", f"user:{username}", {}, role=user["role"], admin_code=user["admin_code"], ip=ip)
    scope = access.Scope(username=username, role=user["role"], admin_code=user["admin_code"], ip=ip)
    return Session(token=token, csrf_token=csrf, scope=scope, display_name=user["display_name"])


_DUMMY_HASH = _hasher.hash("quanyu-dummy-password-for-timing")


def _fail(conn, user: dict | None, username: str, ip: str | None, reason: str) -> None:
    with db.transaction(conn) as cur:
        cur.execute("INSERT INTO login_attempt (username, ip, ok) VALUES (%s, %s, false)", (username, ip))
        _audit(
            cur,
            username,
            "sign_in.failed",
            f"user:{username}",
            {"reason": reason},
            ok=False,
            ip=ip,
            admin_code=user["admin_code"] if user else None,
        )
    raise SignInRefused(reason, REFUSED)


def _refuse(conn, username: str, ip: str | None, reason: str) -> None:
    """A refusal after the right password (a disabled account): only the owner learns it."""
    with db.transaction(conn) as cur:
        cur.execute("INSERT INTO login_attempt (username, ip, ok) VALUES (%s, %s, false)", (username, ip))
        _audit(cur, username, "sign_in.failed", f"user:{username}", {"reason": reason}, ok=False, ip=ip)
    raise SignInRefused(reason, "账号已停用，请联系管理员 (account disabled)")


def session(conn, token: str | None) -> Session | None:
    """The live session for a cookie's token, its idle clock restarted; None when signed out,
    expired, idle too long or the account was disabled."""
    if not token or len(token) > 200:
        return None
    # The idle clock is restarted at most every 30 s: a page asks for dozens of tiles a
    # second and each would otherwise write the session row.
    row = db.one(
        conn,
        """
        WITH s AS (
            SELECT s.token_hash, s.csrf_token, s.expires_at, u.username, u.role, u.admin_code, u.display_name
              FROM app_session s JOIN app_user u ON u.id = s.user_id
             WHERE s.token_hash = %(h)s AND u.active AND s.revoked_at IS NULL
               AND s.expires_at > now() AND s.last_seen > now() - %(idle)s),
        touch AS (
            UPDATE app_session SET last_seen = now()
             WHERE token_hash = (SELECT token_hash FROM s) AND last_seen < now() - interval '30 seconds')
        SELECT csrf_token, expires_at, username, role, admin_code, display_name,
               (SELECT version FROM auth_epoch) AS epoch FROM s""",
        {"h": _digest(token), "idle": session_idle()},
    )
    conn.commit()
    if not row:
        return None
    scope = access.Scope(username=row["username"], role=row["role"], admin_code=row["admin_code"])
    return Session(
        token=token,
        csrf_token=row["csrf_token"],
        scope=scope,
        display_name=row["display_name"],
        epoch=row["epoch"],
        expires_at=row["expires_at"],
    )


def auth_epoch(conn) -> int:
    """The revocation version (migration 0060): it moves whenever a session may have ended."""
    return db.scalar(conn, "SELECT version FROM auth_epoch")


def sign_out(conn, token: str | None) -> None:
    if not token:
        return
    with db.transaction(conn) as cur:
        cur.execute(
            """UPDATE app_session s SET revoked_at = now() FROM app_user u
                        WHERE s.token_hash = %s AND s.revoked_at IS NULL AND u.id = s.user_id
                       RETURNING u.username, u.role, u.admin_code""",
            (_digest(token),),
        )
        row = cur.fetchone()
        if row:
            _audit(cur, row[0], "sign_out", f"user:{row[0]}", {}, role=row[1], admin_code=row[2])
    _sessions_changed()


def _sessions_changed() -> None:
    """This process's web session cache reads the revocation version again (other workers
    see it within a second: geo.security.session_cache)."""
    from geo.security import session_cache  # it imports this module

    session_cache.recheck()


# --------------------------------------------------------------------------- audit


def audit_denied(conn, scope: access.Scope, path: str, permission: str) -> None:
    with db.transaction(conn) as cur:
        _audit(
            cur,
            scope.username,
            "access.denied",
            path[:300],
            {"permission": permission},
            ok=False,
            role=scope.role,
            admin_code=scope.admin_code,
            ip=scope.ip,
        )


def _audit(
    cur,
    username: str | None,
    action: str,
    target: str | None,
    detail: dict,
    ok: bool = True,
    role: str | None = None,
    admin_code: str | None = None,
    ip: str | None = None,
) -> None:
    cur.execute(
        """INSERT INTO audit_log (username, role, admin_code, action, target, detail, ok, ip)
                   VALUES (%s, %s, coalesce(%s, (SELECT min(code) FROM jurisdiction)), %s, %s, %s, %s, %s)""",
        (username, role, admin_code, action, target, psycopg2.extras.Json(detail), ok, ip),
    )


def audit(conn, action: str, target: str | None = None, detail: dict | None = None, ok: bool = True) -> None:
    """Record an action of the current request's account (or of the CLI user when unscoped).

    Scoped connections write through audit_write() (the only write a web role has on the
    log), which takes who from the session settings, not from the caller."""
    scope = db.current_scope()
    with conn.cursor() as cur:
        if scope is not None:
            cur.execute("SELECT audit_write(%s, %s, %s, %s)", (action, target, psycopg2.extras.Json(detail or {}), ok))
        else:
            _audit(cur, "cli:" + (os.environ.get("USER") or "owner"), action, target, detail or {}, ok=ok)


def audit_entries(conn, action: str | None = None, username: str | None = None, limit: int = 500) -> list[dict]:
    """The newest entries first; on a scoped connection row-level security keeps an auditor
    to the accounts of their own unit."""
    return db.rows(
        conn,
        """SELECT id, at, username, role, admin_code, action, target, detail, ok, ip FROM audit_log
                             WHERE (%(action)s::text IS NULL OR action LIKE %(action)s || '%%')
                               AND (%(user)s::text IS NULL OR username = %(user)s)
                             ORDER BY at DESC, id DESC LIMIT %(limit)s""",
        {"action": action or None, "user": username or None, "limit": min(max(int(limit), 1), 5000)},
    )
