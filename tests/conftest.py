"""Shared fixtures, after the Flask tutorial: app, client, runner; plus phones and servers."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

from ivr import create_app, parts
from ivr.phone import Phone, client_post, http_post

ROOT = Path(__file__).resolve().parent.parent
WEEKDAY_MORNING = "2026-12-01T10:00:00-05:00"  # a Tuesday: the desk is open
SUNDAY_3AM = "2026-12-06T03:00:00-05:00"
CHRISTMAS = "2026-12-25T10:00:00-05:00"
PUBLIC_URL = "https://ivr.example.org"
TOKEN = "test-auth-token-0123456789abcdef"


@pytest.fixture
def flow_dir(tmp_path) -> Path:
    """A copy of the shipped call_flows.yaml and prompts/ that a test may edit."""
    folder = tmp_path / "flow"
    folder.mkdir()
    shutil.copy(ROOT / "call_flows.yaml", folder / "call_flows.yaml")
    shutil.copytree(ROOT / "prompts", folder / "prompts")
    return folder


def settle(*paths) -> None:
    """Date files (and everything in folders) a second back, as if saved and left alone since:
    the line judges an edit only once its files stop changing."""
    moment = time.time() - 1
    for path in paths:
        for file in [path, *(Path(path).rglob("*") if Path(path).is_dir() else ())]:
            os.utime(file, (moment, moment))


def tiny_wav(path, seconds: float = 0.1) -> None:
    """Write a short silent 8 kHz mono WAV, the kind Twilio plays."""
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(b"\0\0" * int(8000 * seconds))


@pytest.fixture
def settings(tmp_path) -> dict:
    """Settings for an app under test: SQLite in tmp, a weekday morning, the shipped flow."""
    return {"DATABASE_URL": f"sqlite:///{tmp_path / 'ivr.db'}", "IVR_NOW": WEEKDAY_MORNING,
            "IVR_CALL_FLOWS": str(ROOT / "call_flows.yaml"), "IVR_SECRET_KEY": "test-secret"}


@pytest.fixture
def app(settings):
    """The line's Flask app."""
    return create_app(settings)


@pytest.fixture
def flow(app):
    """The flow the app serves."""
    return parts.flow(app)


@pytest.fixture
def client(app):
    """A test client for the app."""
    return app.test_client()


@pytest.fixture
def runner():
    """A runner for the `ivr` command line."""
    return CliRunner()


@pytest.fixture
def phone(client):
    """Make phones that call the app in process, through its real routes."""
    def make(**kwargs) -> Phone:
        return Phone(client_post(client), **kwargs)
    return make


# -- PostgreSQL: a fresh database per test session, so parallel runs never collide ----------

def _postgres_base() -> str:
    return os.environ.get("IVR_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@pytest.fixture(scope="session")
def postgres_url():
    """A new, empty PostgreSQL database; in CI a missing server fails rather than skips."""
    from sqlalchemy import create_engine, text
    base = _postgres_base()
    name = f"ivr_test_{uuid.uuid4().hex[:10]}"
    try:
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        if os.environ.get("CI"):
            raise
        pytest.skip(f"PostgreSQL is not reachable at {base}: {exc}")
    url = base.rsplit("/", 1)[0] + "/" + name
    yield url
    with admin.connect() as conn:
        conn.execute(text(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"))
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """Each store the line supports: SQLite, then PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres_url")


# -- real gunicorn on a loopback port ---------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """A gunicorn serving the line on loopback, with its log captured to a file."""

    app = "ivr:create_app()"  # bench/run.py serves its baseline app the same way

    def __init__(self, env: dict, log_path: Path, workers: int | None = 2, port: int | None = None):
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.env = {**os.environ, **env}
        self.workers = workers
        self.proc = None

    def start(self) -> "Server":
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"),
             "--bind", f"127.0.0.1:{self.port}",
             *(["--workers", str(self.workers)] if self.workers else []), self.app],
            cwd=str(ROOT), env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        self.wait_until_ready()
        return self

    def wait_until_ready(self, seconds: float = 60) -> None:
        """Wait until EVERY worker is up and has answered /healthz itself (it names its pid).

        One answer is not enough: a worker that boots later would do its start-up work in the
        middle of a test. An app whose /healthz names no worker (bench's baseline) is ready at
        its first answer; bench/run.py then waits for its workers' processes.
        """
        answered: set = set()
        deadline = time.monotonic() + seconds
        with ThreadPoolExecutor(self.worker_count()) as pool:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"gunicorn exited: {self.log_path.read_text()[-3000:]}")
                # As many requests at once as there are workers: one worker cannot take them all.
                bodies = [body for body in pool.map(self._healthz, range(self.worker_count())) if body]
                if not bodies:
                    time.sleep(0.05)  # not listening yet, or 503 while no flow is loaded
                    continue
                for body in bodies:
                    try:
                        worker = json.loads(body).get("worker")
                    except ValueError:
                        worker = None
                    if worker is None:
                        return
                    answered.add(worker)
                running = set(self.workers_now())
                if len(running) >= self.worker_count() and running <= answered:
                    return
        raise RuntimeError(f"gunicorn's workers did not all come up (answered: {sorted(answered)}, running: "
                           f"{sorted(self.workers_now())}): {self.log_path.read_text()[-3000:]}")

    def _healthz(self, _=None) -> bytes | None:
        """GET /healthz's body, or None when it does not answer 200 (yet)."""
        try:
            with urllib.request.urlopen(self.base + "/healthz", timeout=2) as response:
                return response.read()
        except OSError:
            return None

    def worker_count(self) -> int:
        """How many workers this server runs: as started, or as gunicorn.conf.py asks for."""
        return self.workers or int(self.env.get("IVR_WORKERS") or (os.cpu_count() or 1) * 2 + 1)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        if getattr(self, "log", None):
            self.log.close()

    def health(self) -> dict:
        """GET /healthz: which flow the line serves (urlopen raises on anything but success)."""
        with urllib.request.urlopen(self.base + "/healthz", timeout=5) as response:
            return json.loads(response.read())

    def workers_now(self) -> list[int]:
        """The worker processes' ids (children of the gunicorn master), from /proc."""
        pids = []
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    stat = (entry / "stat").read_text()
                except OSError:
                    continue
                if int(stat.rsplit(")", 1)[1].split()[1]) == self.proc.pid:
                    pids.append(int(entry.name))
        return pids

    def phone(self, **kwargs) -> Phone:
        """A phone that calls this server over HTTP, as Twilio does (through IVR_PUBLIC_URL if set)."""
        public = self.env.get("IVR_PUBLIC_URL")
        if public:
            return Phone(_proxied(self.base), base=public, **kwargs)
        return Phone(http_post(), base=self.base, **kwargs)


def _proxied(real_base: str):
    """A post that sends a request for the public URL to the loopback server, like a proxy."""
    post = http_post()

    def send(url, form, headers):
        from urllib.parse import urlsplit
        parts = urlsplit(url)
        return post(real_base + parts.path + (f"?{parts.query}" if parts.query else ""), form, headers)
    return send


@pytest.fixture
def serve(tmp_path):
    """Start gunicorn servers for a test; all are stopped at its end."""
    servers = []

    def start(env: dict | None = None, workers: int = 2) -> Server:
        base_env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'served.db'}",
                    "IVR_CALL_FLOWS": str(ROOT / "call_flows.yaml"), "IVR_NOW": WEEKDAY_MORNING,
                    "IVR_SECRET_KEY": "test-secret"}
        server = Server({**base_env, **(env or {})}, tmp_path / f"gunicorn-{len(servers)}.log", workers)
        servers.append(server)
        return server.start()
    yield start
    for server in servers:
        server.stop()
