"""Staff accounts: a name, a scrypt password hash (Werkzeug's), and the phone staff are rung on.

Accounts live in the line's store, so every worker and replica sees an account the moment
`ivr staff add` makes it. A password is never stored, logged or taken as an argument.
"""
from __future__ import annotations

import re
import secrets
from datetime import datetime

from sqlalchemy import Column, DateTime, String, Table, delete, func, insert, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from ivr import db
from ivr.config import LineError

accounts = Table(
    "staff_accounts", db.metadata,
    Column("name", String(64), primary_key=True),
    Column("password_hash", String(256), nullable=False),
    Column("phone", String(20)),  # E.164: where "call back now" rings this staff member
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("password_at", DateTime(timezone=True), nullable=False),
)

NAME = re.compile(r"[a-z][a-z0-9._-]{0,31}")
E164 = re.compile(r"\+[1-9][0-9]{7,14}")
MIN_PASSWORD = 10
BOOTSTRAP_NAME = "staff"  # the account IVR_STAFF_PASSWORD becomes (the migration path)
# Checked against when a name is unknown, so a wrong name costs the same time as a wrong password.
_DUMMY = generate_password_hash(secrets.token_hex(16))


class AccountError(LineError):
    """An account change that cannot be made; the message says why and what to do."""


def check_name(name: str) -> str:
    """The name as stored (lower case), or AccountError saying what a name may be."""
    name = (name or "").strip().lower()
    if not NAME.fullmatch(name):
        raise AccountError(f"'{name[:40]}' is not a staff name: use 1 to 32 lower-case letters, digits, "
                           "'.', '_' or '-', starting with a letter (like maria or j.smith)")
    return name


def check_password(password: str, name: str) -> str:
    """The password, or AccountError saying why it is too weak."""
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password is {len(password)} characters long; use at least {MIN_PASSWORD} "
                           "(a few unrelated words are easy to remember and hard to guess)")
    if name in password.lower():
        raise AccountError("the password contains the staff name; choose one that does not")
    return password


def check_phone(phone: str | None) -> str | None:
    """The phone number in E.164, or AccountError."""
    if phone in (None, ""):
        return None
    phone = re.sub(r"[\s().-]", "", phone)
    if not E164.fullmatch(phone):
        raise AccountError(f"--phone '{phone[:20]}' is not an E.164 number; write it like +15551234567")
    return phone


def add(engine: Engine, name: str, password: str, phone: str | None = None, *, checked: bool = True) -> str:
    """Create an account; return its name. AccountError if the name is taken or the password weak."""
    name = check_name(name)
    if checked:
        check_password(password, name)
    now = db.utcnow()
    try:
        with engine.begin() as conn:
            conn.execute(insert(accounts).values(name=name, password_hash=generate_password_hash(password),
                                                 phone=check_phone(phone), created_at=now, password_at=now))
    except IntegrityError:
        raise AccountError(f"there is already an account '{name}'; `ivr staff password {name}` changes "
                           "its password") from None
    return name


def set_password(engine: Engine, name: str, password: str) -> None:
    """Change an account's password and end its sessions."""
    from ivr import sessions
    name = check_name(name)
    check_password(password, name)
    with engine.begin() as conn:
        done = conn.execute(update(accounts).where(accounts.c.name == name).values(
            password_hash=generate_password_hash(password), password_at=db.utcnow()))
        if not done.rowcount:
            raise AccountError(f"there is no account '{name}'; `ivr staff list` shows them")
        sessions.end_all(conn, name)


def set_phone(engine: Engine, name: str, phone: str | None) -> None:
    """Change the number an account is rung on."""
    with engine.begin() as conn:
        done = conn.execute(update(accounts).where(accounts.c.name == check_name(name))
                            .values(phone=check_phone(phone)))
        if not done.rowcount:
            raise AccountError(f"there is no account '{name}'; `ivr staff list` shows them")


def remove(engine: Engine, name: str) -> None:
    """Delete an account and end its sessions at once."""
    from ivr import sessions
    name = check_name(name)
    with engine.begin() as conn:
        sessions.end_all(conn, name)
        if not conn.execute(delete(accounts).where(accounts.c.name == name)).rowcount:
            raise AccountError(f"there is no account '{name}'; `ivr staff list` shows them")


def listing(engine: Engine) -> list[dict]:
    """Every account (never its hash), by name."""
    query = select(accounts.c.name, accounts.c.phone, accounts.c.created_at, accounts.c.password_at)
    with engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(query.order_by(accounts.c.name))]


def count(engine: Engine) -> int:
    """How many accounts there are."""
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(accounts)).scalar_one()


def find(engine: Engine, name: str) -> dict | None:
    """One account by name, or None."""
    with engine.connect() as conn:
        row = conn.execute(select(accounts).where(accounts.c.name == name)).first()
    return dict(row._mapping) if row else None


def verify(engine: Engine, name: str, password: str) -> str | None:
    """The account's name when the password is its own, else None (same time either way)."""
    try:
        name = check_name(name)
    except AccountError:
        name = ""
    found = find(engine, name) if name else None
    good = check_password_hash(found["password_hash"] if found else _DUMMY, password)
    return name if found and good else None


def phone_of(engine: Engine, name: str) -> str | None:
    """The number "call back now" rings for this staff member, if they gave one."""
    found = find(engine, name)
    return found["phone"] if found else None


def bootstrap(engine: Engine, password: str | None) -> bool:
    """Make IVR_STAFF_PASSWORD the account 'staff' when there is no account at all; True if made."""
    if not password or count(engine):
        return False
    try:
        add(engine, BOOTSTRAP_NAME, password, checked=False)
    except AccountError:  # another worker or replica made it a moment ago
        return False
    return True


def stamp(when: datetime | None) -> str:
    """A stored time for a listing: UTC, to the minute."""
    return db.as_utc(when).strftime("%Y-%m-%d %H:%M UTC") if when else "-"
