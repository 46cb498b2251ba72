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
from datetime import timedelta

import psycopg2.extras
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from geo import db
from geo.security import access

_hasher = PasswordHasher()  # Argon2id, argon2-cffi's RFC 9106 low-memory profile

MIN_PASSWORD_LENGTH = 10
# Throttling: after this many failures for one account within the window the account is
# locked for the window; one address gets more tries across accounts before it is refused.
MAX_FAILURES_PER_USER = 5
MAX_FAILURES_PER_IP = 20
THROTTLE_WINDOW = timedelta(minutes=15)


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
            """UPDATE app_user SET password_hash = %s, password_changed_at = now(), failed_count = 0,
                              locked_until = NULL WHERE username = %s""",
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


def set_active(conn, username: str, active: bool, actor: str = "cli") -> None:
    with db.transaction(conn) as cur:
        cur.execute(
            "UPDATE app_user SET active = %s, failed_count = 0, locked_until = NULL WHERE username = %s", (active, username)
        )
        if cur.rowcount != 1:
            raise AccountError(f"无此用户 no user {username!r}")
        if not active:
            cur.execute(
                """UPDATE app_session SET revoked_at = now() WHERE revoked_at IS NULL
                              AND user_id = (SELECT id FROM app_user WHERE username = %s)""",
                (username,),
            )
        _audit(cur, actor, "user.enable" if active else "user.disable", f"user:{username}", {})


def users(conn) -> list[dict]:
    return db.rows(
        conn,
        """SELECT username, display_name, role, admin_code, active, locked_until, created_at,
                                   (SELECT max(at) FROM login_attempt a WHERE a.username = u.username AND ok) AS last_sign_in
                              FROM app_user u ORDER BY username""",
    )


# --------------------------------------------------------------------------- sign-in


def check_password(conn, username: str, password: str, ip: str | None = None) -> dict:
    """The account's row when the password is right, else SignInRefused; throttled and logged
    like a sign-in (it is one, as far as guessing goes)."""
    username = (username or "").strip()[:64]
    window = THROTTLE_WINDOW
    if (
        ip
        and db.scalar(conn, """SELECT count(*) FROM login_attempt WHERE ip = %s AND NOT ok AND at > now() - %s""", (ip, window))
        >= MAX_FAILURES_PER_IP
    ):
        _refuse(conn, username, ip, "throttled.ip")
    user = db.one(conn, "SELECT * FROM app_user WHERE username = %s", (username,))
    if user and user["locked_until"] and user["locked_until"] > db.scalar(conn, "SELECT now()"):
        _refuse(conn, username, ip, "locked")
    ok = False
    if user:
        try:
            ok = _hasher.verify(user["password_hash"], password or "")
        except (VerificationError, InvalidHashError):
            ok = False
    else:
        # Spend the same time on an unknown name, so timing does not tell which names exist.
        try:
            _hasher.verify(_DUMMY_HASH, password or "")
        except (VerificationError, InvalidHashError):
            pass
    if not ok:
        _fail(conn, user, username, ip)
    if not user["active"]:
        _refuse(conn, username, ip, "disabled")
    return user


def sign_in(conn, username: str, password: str, ip: str | None = None, user_agent: str | None = None) -> Session:
    """Check the password and open a session, or raise SignInRefused. Every attempt is
    recorded (login_attempt and audit_log) in its own transaction, refused ones too."""
    user = check_password(conn, username, password, ip)
    username = user["username"]
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with db.transaction(conn) as cur:
        if _hasher.check_needs_rehash(user["password_hash"]):
            cur.execute("UPDATE app_user SET password_hash = %s WHERE id = %s", (_hasher.hash(password), user["id"]))
        cur.execute("UPDATE app_user SET failed_count = 0, locked_until = NULL WHERE id = %s", (user["id"],))
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


def _fail(conn, user: dict | None, username: str, ip: str | None) -> None:
    with db.transaction(conn) as cur:
        if user:
            cur.execute(
                """UPDATE app_user SET failed_count = failed_count + 1,
                                  locked_until = CASE WHEN failed_count + 1 >= %s THEN now() + %s END
                            WHERE id = %s RETURNING failed_count""",
                (MAX_FAILURES_PER_USER, THROTTLE_WINDOW, user["id"]),
            )
        cur.execute("INSERT INTO login_attempt (username, ip, ok) VALUES (%s, %s, false)", (username, ip))
        _audit(
            cur,
            username,
            "sign_in.failed",
            f"user:{username}",
            {"reason": "password" if user else "unknown_user"},
            ok=False,
            ip=ip,
            admin_code=user["admin_code"] if user else None,
        )
    raise SignInRefused("password", "用户名或密码错误 (wrong user name or password)")


def _refuse(conn, username: str, ip: str | None, reason: str) -> None:
    with db.transaction(conn) as cur:
        cur.execute("INSERT INTO login_attempt (username, ip, ok) VALUES (%s, %s, false)", (username, ip))
        _audit(cur, username, "sign_in.failed", f"user:{username}", {"reason": reason}, ok=False, ip=ip)
    minutes = int(THROTTLE_WINDOW.total_seconds() // 60)
    messages = {
        "locked": f"失败次数过多，账号已锁定 {minutes} 分钟 (too many failures: account locked for {minutes} minutes)",
        "throttled.ip": f"本机尝试次数过多，请 {minutes} 分钟后再试 (too many attempts from this address)",
        "disabled": "账号已停用，请联系管理员 (account disabled)",
    }
    raise SignInRefused(reason, messages[reason])


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
            SELECT s.token_hash, s.csrf_token, u.username, u.role, u.admin_code, u.display_name
              FROM app_session s JOIN app_user u ON u.id = s.user_id
             WHERE s.token_hash = %(h)s AND u.active AND s.revoked_at IS NULL
               AND s.expires_at > now() AND s.last_seen > now() - %(idle)s),
        touch AS (
            UPDATE app_session SET last_seen = now()
             WHERE token_hash = (SELECT token_hash FROM s) AND last_seen < now() - interval '30 seconds')
        SELECT csrf_token, username, role, admin_code, display_name FROM s""",
        {"h": _digest(token), "idle": session_idle()},
    )
    conn.commit()
    if not row:
        return None
    scope = access.Scope(username=row["username"], role=row["role"], admin_code=row["admin_code"])
    return Session(token=token, csrf_token=row["csrf_token"], scope=scope, display_name=row["display_name"])


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
