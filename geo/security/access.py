"""Who may do what: roles, their permissions, and the permission each page and endpoint needs.

Kept in one table so that a reviewer (or an auditor) reads the whole policy on one screen,
and so that the web guard, the callbacks and the tests all ask the same question
(`allowed(role, permission)`). What a role may *see* is decided elsewhere, by PostgreSQL's
row-level security on the account's administrative code (migration 0016); this module
decides what it may *do*. Each application role runs as a database role of the same name
(quanyu_<role>) whose grants repeat the coarse part of this table, so that a callback that
forgot its check still cannot, say, write a grid as a leader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ROLES = ("admin", "operator", "planner", "leader", "grid_worker", "auditor")

# Permissions, by what they protect.
VIEW = "view"  # the big screen, drill-down, maps, analysis APIs
REPORT = "report"  # download reports and rankings (Excel, PDF)
INCIDENT_CREATE = "incident.create"  # take in an incident (受理)
INCIDENT_HANDLE = "incident.handle"  # work on a dispatched incident (处置, 退回)
INCIDENT_DISPATCH = "incident.dispatch"  # register, dispatch, escalate, verify, close (指挥调度)
INCIDENT_IMPORT = "incident.import"  # bulk upload of incidents
PLAN_EDIT = "plan.edit"  # draw and edit grids in a draft plan
PLAN_PUBLISH = "plan.publish"  # switch the official grids to a plan
UNMASK = "unmask"  # see a name, phone or ID number in full (logged)
AUDIT_VIEW = "audit.view"  # read the audit log
USER_MANAGE = "user.manage"  # create and disable accounts
ALERT_HANDLE = "alert.handle"  # acknowledge, handle and close alarms (预警签收、处置、关闭)
DATA_IMPORT = "data.import"  # the 数据导入 page: upload a county's files, undo a batch

PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(
        {
            VIEW,
            REPORT,
            INCIDENT_CREATE,
            INCIDENT_HANDLE,
            INCIDENT_DISPATCH,
            INCIDENT_IMPORT,
            PLAN_EDIT,
            PLAN_PUBLISH,
            UNMASK,
            AUDIT_VIEW,
            USER_MANAGE,
            ALERT_HANDLE,
            DATA_IMPORT,
        }
    ),
    "operator": frozenset(
        {VIEW, REPORT, INCIDENT_CREATE, INCIDENT_HANDLE, INCIDENT_DISPATCH, INCIDENT_IMPORT, UNMASK, ALERT_HANDLE}
    ),
    "planner": frozenset({VIEW, REPORT, PLAN_EDIT, PLAN_PUBLISH, DATA_IMPORT}),
    "leader": frozenset({VIEW, REPORT}),
    "grid_worker": frozenset({VIEW, INCIDENT_CREATE, INCIDENT_HANDLE}),
    "auditor": frozenset({VIEW, AUDIT_VIEW}),
}

# A grid worker works the case on the ground; the command centre decides everything else.
HANDLE_TRANSITIONS = frozenset({"in_progress", "returned"})

# The permission each page needs, by the path it is registered with in Dash's page registry.
# The web guard finds the registry entry Dash will render for a requested path (whatever its
# spelling: //users, /users/, /./users) and asks for that entry's permission, for the page
# load and for the page-router callback alike. A registered page missing from this table
# needs the `permission` it gave dash.register_page, else UNLISTED, which no role has: a new
# page is closed until someone decides who may open it.
UNLISTED = "page.unlisted"
PAGES: dict[str, str] = {
    "/": VIEW,
    "/account": VIEW,
    "/drill": VIEW,
    "/planner": PLAN_EDIT,
    "/intake": INCIDENT_HANDLE,
    "/audit": AUDIT_VIEW,
    "/users": USER_MANAGE,
    "/alerts": VIEW,
    "/import": DATA_IMPORT,
}

# Endpoints by path prefix, longest first wins. Anything not listed needs VIEW; Open311's
# public reads and the sign-in page need nothing (see PUBLIC).
ENDPOINTS: tuple[tuple[str, str], ...] = (
    ("/api/partition", PLAN_EDIT),
    ("/api/rankings", REPORT),
    ("/reports/", REPORT),
    ("/import/rejected/", DATA_IMPORT),
    ("/api/", VIEW),
    ("/tiles/", VIEW),
    ("/uploads/", VIEW),
)

# Dash callbacks, by the prefix of the component ids they write: a callback of the planner
# page needs the planner's permission even when called directly by a script.
CALLBACK_PREFIXES: tuple[tuple[str, str], ...] = (
    ("planner-", PLAN_EDIT),
    ("pl-", PLAN_EDIT),
    ("in-", INCIDENT_HANDLE),
    ("audit-", AUDIT_VIEW),
    ("users-", USER_MANAGE),
    ("alert-act", ALERT_HANDLE),
    ("imp-", DATA_IMPORT),
)

SCOPE_PATTERN = re.compile(r"^[0-9]{6}([0-9]{3}){0,2}$")


@dataclass(frozen=True)
class Scope:
    """The signed-in account as the database sees it: who, which role, which unit."""

    username: str
    role: str
    admin_code: str
    ip: str | None = None
    # The longest one SQL statement of the request may run (ms; 0 = no limit), by request class
    # (geo.web.auth.STATEMENT_TIMEOUTS): one request must not hold a connection for minutes.
    timeout_ms: int = 0

    @property
    def db_role(self) -> str:
        return f"quanyu_{self.role}"

    @property
    def prefix(self) -> str:
        """What every code under the unit starts with (620800, a city, -> 6208)."""
        return code_prefix(self.admin_code)

    def can(self, permission: str) -> bool:
        return allowed(self.role, permission)

    @property
    def key(self) -> tuple[str, str]:
        """What a cached result may be shared by: the same role over the same unit sees the same rows."""
        return (self.role, self.admin_code)


# Open311 reads are public by the standard; they run as quanyu_public over the jurisdiction.
PUBLIC_ROLE = "public"


def allowed(role: str, permission: str) -> bool:
    return permission in PERMISSIONS.get(role, frozenset())


def page_permission(path: str) -> str:
    """The permission of the page registered at `path` (UNLISTED if the table does not name it)."""
    return PAGES.get(path.rstrip("/") or "/", UNLISTED)


def entry_permission(entry: dict) -> str:
    """The permission of a Dash page-registry entry: this table's, else the `permission` the
    page gave dash.register_page, else UNLISTED (nobody)."""
    return PAGES.get(entry["path"].rstrip("/") or "/") or entry.get("permission") or UNLISTED


def requires(*permissions: str):
    """Mark a Dash callback as needing `permissions` beyond its page's (an export needs REPORT).

    Put it under @callback: Dash's wrapper copies the function's attributes, so the web
    guard reads them from the callback map before the callback runs."""

    def mark(func):
        func.required_permissions = frozenset(permissions) | getattr(func, "required_permissions", frozenset())
        return func

    return mark


def endpoint_permission(path: str) -> str:
    for prefix, permission in ENDPOINTS:
        if path.startswith(prefix):
            return permission
    return VIEW


def callback_permissions(output_ids: list[str]) -> frozenset[str]:
    """Every permission the components a callback writes need (VIEW for the rest)."""
    needed = {VIEW}
    for ident in output_ids:
        needed |= {permission for prefix, permission in CALLBACK_PREFIXES if ident.startswith(prefix)}
    return frozenset(needed)


def transition_permission(to_status: str) -> str:
    return INCIDENT_HANDLE if to_status in HANDLE_TRANSITIONS else INCIDENT_DISPATCH


def code_prefix(code: str) -> str:
    """The same rule as the SQL function code_prefix() (migration 0021)."""
    if len(code) == 6 and code.strip("0"):
        return re.sub(r"(00)+$", "", code)
    return code


def check_scope_code(code: str) -> str:
    if not SCOPE_PATTERN.match(code or ""):
        raise ValueError(f"行政区划代码应为 6、9 或 12 位数字 (admin code must have 6, 9 or 12 digits): {code!r}")
    return code
