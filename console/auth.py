"""Who may use the console: users with hashed passwords, two roles, and an audit line for every action.

Passwords are kept as werkzeug's salted scrypt hashes (never the password, never reversibly).
A viewer reads everything; an operator may also replay dead letters and resolve review items.
"""
from __future__ import annotations

import logging
import re

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from db.models import ConsoleAudit, ConsoleUser
from db.session import session_scope
from db.types import utcnow
from schemas.masking import mask_text

ROLES = ("viewer", "operator")
MIN_PASSWORD = 10
_NAME = re.compile(r"^[A-Za-z0-9._@-]{1,80}$")
log = logging.getLogger("paysync.console.audit")
# A hash to compare against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash("paysync-no-such-user")


class UserError(ValueError):
    """A user cannot be created or changed as asked; the message says why."""


def add_user(db_url: str, name: str, role: str, password: str) -> ConsoleUser:
    """Create a user; raise UserError for a bad name, role, short password or a name taken."""
    if not _NAME.match(name):
        raise UserError("a user name is 1-80 letters, digits or . _ @ -")
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password must have at least {MIN_PASSWORD} characters")
    try:
        with session_scope(db_url) as s:
            user = ConsoleUser(name=name, role=role, password_hash=generate_password_hash(password), active=True,
                               created_at=utcnow())
            s.add(user)
            s.flush()
    except IntegrityError:
        raise UserError(f"there is already a user {name!r}") from None
    audit(db_url, "paysync-cli", "user.add", name, detail=f"role {role}")
    return user


def set_password(db_url: str, name: str, password: str) -> bool:
    """Give an existing user a new password; False when there is no such user."""
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password must have at least {MIN_PASSWORD} characters")
    with session_scope(db_url) as s:
        user = s.scalars(select(ConsoleUser).where(ConsoleUser.name == name)).one_or_none()
        if user is None:
            return False
        user.password_hash = generate_password_hash(password)
    audit(db_url, "paysync-cli", "user.password", name)
    return True


def authenticate(db_url: str, name: str, password: str) -> ConsoleUser | None:
    """The active user with this name and password, or None (the same for a wrong name or password)."""
    with session_scope(db_url) as s:
        user = s.scalar(select(ConsoleUser).where(ConsoleUser.name == name))
        good = check_password_hash(user.password_hash if user else _DUMMY_HASH, password)
        if user is None or not good or not user.active:
            return None
        user.last_login_at = utcnow()
        return user


def get_user(db_url: str, user_id: int) -> ConsoleUser | None:
    with session_scope(db_url) as s:
        user = s.get(ConsoleUser, user_id)
        return user if user is not None and user.active else None


def audit(db_url: str, user: str, action: str, subject: str = "", *, outcome: str = "ok", detail: str = "",
          remote_addr: str = "") -> None:
    """One audit row (and one log line) per action; free text is masked like everything else."""
    detail = mask_text(detail)[:2000]
    with session_scope(db_url) as s:
        s.add(ConsoleAudit(at=utcnow(), user=user[:80], action=action[:40], subject=mask_text(subject)[:120],
                           outcome=outcome[:20], detail=detail, remote_addr=remote_addr[:64]))
    log.info("console %s %s %s by %s: %s", action, subject, outcome, user, detail)


def recent_audit(db_url: str, limit: int = 200) -> list[ConsoleAudit]:
    with session_scope(db_url) as s:
        return list(s.scalars(select(ConsoleAudit).order_by(ConsoleAudit.id.desc()).limit(limit)))
