"""我的账号: every account changes its own password here (the one an administrator handed
over is meant to be replaced at once). The current password is asked again, so a screen
left signed in cannot be taken over; a change ends every other session of the account.
"""

from __future__ import annotations

import dash
from dash import Input, Output, State, callback, dcc, html, no_update

from geo import db
from geo.labels import t
from geo.security import accounts
from geo.web.auth import current_session
from geo.web.frame import frame

PATH = "/account"


def change_password(username: str, current: str, new: str, again: str, keep_token: str | None = None) -> str | None:
    """The refusal's text, or None when the password was changed."""
    if new != again:
        return t("account.mismatch")
    with db.system() as conn:
        try:
            accounts.check_password(conn, username, current)  # the same checks and throttling as the sign-in form
        except accounts.SignInRefused as refused:
            return refused.message
        try:
            accounts.set_password(conn, username, new, actor=username, keep_token=keep_token)
        except accounts.AccountError as exc:
            return str(exc)
    return None


def layout(**_query):
    sess = current_session()
    who = (
        f"{sess.display_name} ({sess.scope.username}) · {t('auth.role.' + sess.scope.role)} · {sess.scope.admin_code}"
        if sess
        else ""
    )

    def field(key, ident):
        return html.Label(
            [
                t(key),
                dcc.Input(
                    id=ident,
                    type="password",
                    maxLength=256,
                    className="audit-user",
                ),
            ]
        )

    return frame(
        PATH,
        t("account.title"),
        html.P(who, className="in-muted"),
        html.Div(
            className="audit-filters",
            children=[
                field("account.current", "account-current"),
                field("account.new", "account-new"),
                field("account.again", "account-again"),
                html.Button(t("account.change"), id="account-change", className="audit-go"),
            ],
        ),
        html.Div(id="account-msg", className="users-msg"),
    )


# reached from the account box on every page, so not in the menu as well
dash.register_page(__name__, path=PATH, title=t("account.title"), name=t("account.title"), order=99, menu=False, layout=layout)


@callback(
    Output("account-msg", "children"),
    Input("account-change", "n_clicks"),
    State("account-current", "value"),
    State("account-new", "value"),
    State("account-again", "value"),
    prevent_initial_call=True,
)
def on_change(n_clicks, current, new, again):
    sess = current_session()
    if not n_clicks or sess is None:
        return no_update
    refused = change_password(sess.scope.username, current or "", new or "", again or "", keep_token=sess.token)
    if refused:
        return html.Div(refused, className="in-error")
    return t("account.changed")
