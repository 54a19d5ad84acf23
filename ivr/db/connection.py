"""A DATABASE_URL made into an engine: the schemes the line takes, SQLite's settings, the schema in place."""
from __future__ import annotations

import uuid
from pathlib import Path

from sqlalchemy import create_engine, delete, event, insert
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError

from ivr.config import LineError
from ivr.db import gate
from ivr.db.schema import metadata, screens, utcnow


class StoreError(LineError):
    """A DATABASE_URL the line cannot use at all: it refuses to start rather than lose messages."""


# The schemes DATABASE_URL may use, and the driver each means. postgres:// (Heroku's and many
# hosts' spelling) and postgresql:// mean psycopg 3, which the package depends on: SQLAlchemy's
# own default for postgresql:// has been psycopg2, which is not installed.
SCHEMES = {"sqlite": "sqlite", "sqlite+pysqlite": "sqlite", "postgres": "postgresql+psycopg",
           "postgresql": "postgresql+psycopg", "postgresql+psycopg": "postgresql+psycopg"}
EXAMPLES = "sqlite:///var/ivr.db or postgresql://USER@HOST:5432/DB"


def store_url(text: str) -> str:
    """DATABASE_URL as the line uses it (postgres:// and postgresql:// mean psycopg 3); StoreError if unusable."""
    try:
        url = make_url(text)
    except ArgumentError:  # the text itself is not repeated: it may hold a password
        raise StoreError(f"DATABASE_URL is not a database URL; write it like {EXAMPLES}.") from None
    driver = SCHEMES.get(url.drivername)
    if driver is None:
        raise StoreError(f"DATABASE_URL starts with {url.drivername}://, which the line does not use; "
                         f"write it like {EXAMPLES} (PostgreSQL through psycopg 3).")
    url = url.set(drivername=driver)
    try:
        url.get_dialect().import_dbapi()
    except ImportError as exc:
        raise StoreError(f"DATABASE_URL needs the {driver} driver, which cannot be loaded here ({exc}); "
                         "reinstall the line (`make install`) so that its dependencies are in place.") from None
    return url.render_as_string(hide_password=False)


def shown_url(url: str) -> str:
    """A store URL to show staff: the password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(not a URL)"


def connect(url: str) -> Engine:
    """Create an engine for a DATABASE_URL and make sure the schema exists."""
    url = store_url(url)
    # hide_parameters: a failed statement's message never carries a caller's number into a log.
    sqlite = url.startswith("sqlite")
    if sqlite:
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, hide_parameters=True, pool_pre_ping=False,  # a file needs no ping
                               connect_args={"check_same_thread": False, "timeout": 15})
        event.listen(engine, "connect", _sqlite_wal)
        if path and path != ":memory:":
            gate.install(engine, path)
    else:
        engine = create_engine(url, hide_parameters=True, pool_pre_ping=True, pool_size=5, max_overflow=5,
                               pool_timeout=2, connect_args={"connect_timeout": 2})
    metadata.create_all(engine)
    return engine


def _sqlite_wal(dbapi_connection, _record) -> None:
    """Write-ahead log: each worker's writes and staff's reports don't wait for one another.

    synchronous=NORMAL is SQLite's advice for a write-ahead log: a commit survives the line's
    process crashing, and only a power cut of the whole machine can undo the last moments of
    writes, while a webhook no longer waits for the disk on every commit.
    """
    dbapi_connection.execute("PRAGMA journal_mode=WAL")
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")


def scratch_write(engine: Engine) -> None:
    """Write a scratch row and delete it again, both committed: the store takes writes (`ivr doctor`)."""
    sid = f"ivr-doctor-{uuid.uuid4().hex[:20]}"
    with engine.begin() as conn:
        conn.execute(insert(screens), {"call_sid": sid, "accepted_at": utcnow()})
    with engine.begin() as conn:
        if not conn.execute(delete(screens).where(screens.c.call_sid == sid)).rowcount:
            raise RuntimeError("the scratch row written a moment ago was not there to delete")
