"""Accounts and API tokens (admins only): the same functions as `hiring-jobs users|tokens`.

Every change is audited by hiring_jobs.access. A new token is shown once, on the page
that answers its creation (never cached), and never again.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from hiring_jobs.access import accounts, tokens
from hiring_jobs.access.accounts import AccessError
from hiring_jobs.models import Account, AccountRole, TokenScope
from web import authentication, security
from web.admin import bp
from web.common import actor
from web.db import get_session
from web.security import admin_required

NO_STORE = {"Cache-Control": "no-store"}


@bp.get("/accounts")
@admin_required
def account_list() -> str:
    found = accounts.list_all(get_session())
    return render_template("admin/accounts.html", accounts=found, roles=list(AccountRole))


@bp.post("/accounts")
@admin_required
def account_add() -> ResponseReturnValue:
    form = request.form
    return _apply(
        lambda s: accounts.add(
            s, form.get("username", ""), _role(), form.get("password", ""), by=actor()
        ),
        "Account {username} added.",
    )


@bp.post("/accounts/<username>/<any(role, password, disable, enable):change>")
@admin_required
def account_change(username: str, change: str) -> ResponseReturnValue:
    by = actor()
    changes: dict[str, Callable[[Session], Account]] = {
        "role": lambda s: accounts.set_role(s, username, _role(), by=by),
        "password": lambda s: accounts.set_password(
            s, username, request.form.get("password", ""), by=by
        ),
        "disable": lambda s: accounts.set_disabled(s, username, True, by=by),
        "enable": lambda s: accounts.set_disabled(s, username, False, by=by),
    }
    done = {
        "role": "Account {username} is now {role}; its sessions have ended.",
        "password": "Password of {username} changed; its other sessions have ended.",
        "disable": "Account {username} disabled; its sessions have ended.",
        "enable": "Account {username} enabled.",
    }
    return _apply(changes[change], done[change])


@bp.get("/tokens")
@admin_required
def token_list() -> str:
    found = tokens.list_all(get_session())
    return render_template("admin/tokens.html", tokens=found, scopes=list(TokenScope))


@bp.post("/tokens")
@admin_required
def token_create() -> ResponseReturnValue:
    session = get_session()
    try:
        token, raw = tokens.create(
            session,
            authentication.token_key(),
            name=request.form.get("name", ""),
            scope=_scope(),
            by=actor(),
        )
    except AccessError as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("admin.token_list"))
    session.commit()
    page = render_template("admin/token_created.html", token=token, raw=raw)
    return page, 201, NO_STORE


@bp.post("/tokens/<int:token_id>/revoke")
@admin_required
def token_revoke(token_id: int) -> ResponseReturnValue:
    session = get_session()
    try:
        token = tokens.revoke(session, token_id, by=actor())
    except AccessError as exc:
        session.rollback()
        flash(str(exc), "error")
    else:
        session.commit()
        flash(f"Token {token.id} ({token.name}) revoked.", "ok")
    return redirect(url_for("admin.token_list"))


def _role() -> AccountRole:
    try:
        return AccountRole(request.form.get("role", ""))
    except ValueError:
        raise AccessError("choose a role: viewer, operator or admin") from None


def _scope() -> TokenScope:
    try:
        return TokenScope(request.form.get("scope", ""))
    except ValueError:
        raise AccessError("choose a scope: app, read or operate") from None


def _apply(change: Callable[[Session], Account], done: str) -> ResponseReturnValue:
    session = get_session()
    try:
        account = change(session)
    except AccessError as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("admin.account_list"))
    session.commit()
    if _is_own_session(account) and not account.disabled:
        security.log_in(account)  # this session goes on with the new version
    flash(done.format(username=account.username, role=account.role.value), "ok")
    return redirect(url_for("admin.account_list"))


def _is_own_session(account: Account) -> bool:
    user = security.current_user()
    return user is not None and user.via == "session" and user.account_id == account.id
