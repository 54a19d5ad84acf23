"""DATABASE_URL is read one way everywhere: postgres:// and postgresql:// mean psycopg 3; a URL the
line could never use stops it at start-up with one line; an unreachable store does not."""
import os
import subprocess
import sys

import pytest
from sqlalchemy import text

from ivr import create_app, db, parts
from ivr.db import StoreError, store_url
from tests.conftest import ROOT, free_port


@pytest.mark.parametrize("given, used", [
    ("sqlite:///var/ivr.db", "sqlite:///var/ivr.db"),
    ("sqlite://", "sqlite://"),
    ("postgres://u:pw@db.example.org:5432/ivr", "postgresql+psycopg://u:pw@db.example.org:5432/ivr"),
    ("postgresql://u@db.example.org/ivr", "postgresql+psycopg://u@db.example.org/ivr"),
    ("postgresql+psycopg://u@db.example.org/ivr", "postgresql+psycopg://u@db.example.org/ivr"),
])
def test_each_accepted_form_means_one_driver(given, used):
    assert store_url(given) == used


@pytest.mark.parametrize("given, says", [
    ("mysql://u:hunter2@db/ivr", "DATABASE_URL starts with mysql://, which the line does not use"),
    ("postgresql+psycopg2://u:hunter2@db/ivr", "starts with postgresql+psycopg2://"),
    ("not a url hunter2", "DATABASE_URL is not a database URL"),
])
def test_an_unknown_scheme_is_refused_naming_the_scheme_not_the_password(given, says):
    with pytest.raises(StoreError) as refused:
        store_url(given)
    assert says in str(refused.value) and "hunter2" not in str(refused.value)
    assert "postgresql://USER@HOST:5432/DB" in str(refused.value)  # and says what to write


def test_postgres_scheme_reaches_postgresql_through_psycopg_3(postgres_url, settings):
    # postgres:// is what many hosts hand out; the line takes it as psycopg 3 and stores calls in it.
    url = postgres_url.replace("postgresql+psycopg://", "postgres://")
    app = create_app({**settings, "DATABASE_URL": url})
    storage = parts.storage(app)
    assert storage.engine.dialect.driver == "psycopg"
    assert app.test_client().get("/healthz").get_json()["store"]["state"] == "up"
    db.scratch_write(storage.engine)  # written and deleted again: nothing left behind
    with storage.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM screens WHERE call_sid LIKE 'ivr-doctor-%'")).scalar() == 0
    storage.close()


def test_an_unreachable_host_starts_the_line_and_says_so(settings, caplog):
    app = create_app({**settings, "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/ivr"})
    assert parts.storage(app).problem and "Connection refused" in parts.storage(app).problem
    assert any("unreachable at start-up" in r.getMessage() for r in caplog.records)


def _gunicorn(env: dict, tmp_path) -> subprocess.CompletedProcess:
    """Start gunicorn as `make run` does, expecting it to refuse (a timeout means it served)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_", "DATABASE_URL"))}
    clean.update({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "IVR_CALL_FLOWS": str(ROOT / "call_flows.yaml"),
                  **env})
    return subprocess.run([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "--bind",
                           f"127.0.0.1:{free_port()}", "--workers", "2", "ivr:create_app()"],
                          cwd=str(ROOT), env=clean, capture_output=True, text=True, timeout=60)


@pytest.mark.slow
def test_gunicorn_refuses_an_unknown_scheme_in_one_line(tmp_path):
    done = _gunicorn({"DATABASE_URL": "mysql://ivr:hunter2@db.example.org/ivr"}, tmp_path)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert errors == ["Error: DATABASE_URL starts with mysql://, which the line does not use; write it like "
                      "sqlite:///var/ivr.db or postgresql://USER@HOST:5432/DB (PostgreSQL through psycopg 3)."]
    assert "Traceback" not in done.stderr and "Booting worker" not in done.stderr
    assert "hunter2" not in done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("flows, says", [
    ("missing.yaml", "missing.yaml: cannot read the call-flow file"),
    ("broken.yaml", "broken.yaml:"),
])
def test_gunicorn_refuses_a_missing_or_broken_flow_file_in_one_message(tmp_path, flows, says):
    (tmp_path / "broken.yaml").write_text("line: {name: x}\nstart: nowhere\nmenus: [\n")
    done = _gunicorn({"IVR_CALL_FLOWS": str(tmp_path / flows)}, tmp_path)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "Booting worker" not in done.stderr
    message = done.stderr[done.stderr.index("Error: "):].strip()
    assert message.startswith(f"Error: The line will not start: {tmp_path / flows} has problems:")
    assert says in message and message.endswith("Fix them (run `ivr check` to see them again) and start it again.")
    assert done.stderr.count("The line will not start") == 1


def test_a_driver_that_cannot_be_loaded_is_refused_saying_how_to_get_it(monkeypatch):
    from sqlalchemy.dialects.postgresql.psycopg import PGDialect_psycopg

    def missing(cls):
        raise ImportError("no pq wrapper available")
    monkeypatch.setattr(PGDialect_psycopg, "import_dbapi", classmethod(missing))
    with pytest.raises(StoreError) as refused:
        store_url("postgres://u:hunter2@db/ivr")
    assert str(refused.value) == ("DATABASE_URL needs the postgresql+psycopg driver, which cannot be loaded here "
                                  "(no pq wrapper available); reinstall the line (`make install`) so that its "
                                  "dependencies are in place.")
