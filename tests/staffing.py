"""Helpers for tests of staff accounts: the `ivr` command against a store, and a browser-like client."""
from __future__ import annotations

import os
import subprocess
import sys
from http.cookies import SimpleCookie

import pytest
import requests
from sqlalchemy import create_engine

from tests.attack import CALLER
from tests.conftest import ROOT, TOKEN

PASSWORD = "a long staff passphrase"


def ivr(database_url: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    """Run the installed command line, as an operator would, against a store."""
    env = {**os.environ, "DATABASE_URL": database_url, "IVR_CALL_FLOWS": str(ROOT / "call_flows.yaml")}
    return subprocess.run([sys.executable, "-m", "ivr.cli", *args], input=stdin, capture_output=True,
                          text=True, env=env, cwd=str(ROOT), timeout=60)


def add_account(database_url: str, name: str, password: str = PASSWORD, *options: str) -> None:
    """`ivr staff add NAME` with the password on standard input."""
    done = ivr(database_url, "staff", "add", name, *options, stdin=password + "\n")
    assert done.returncode == 0, done.stderr


class Browser:
    """A client that keeps the staff cookie as a browser does, Secure or not, and follows no redirect."""

    def __init__(self, base: str, address: str | None = None):
        self.base, self.cookies, self.last_set_cookie = base, {}, ""
        self.headers = {"X-Forwarded-For": address} if address else {}

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Accept": "text/html", **self.headers, **kwargs.pop("headers", {})}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = requests.request(method, self.base + path, headers=headers, allow_redirects=False,
                                    timeout=20, **kwargs)
        for raw in response.raw.headers.getlist("Set-Cookie"):
            self.last_set_cookie = raw
            for name, morsel in SimpleCookie(raw).items():
                if morsel["expires"] or morsel.value == "":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value
        return response

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def sign_in(self, name: str, password: str = PASSWORD) -> requests.Response:
        return self.post("/staff/login", data={"username": name, "password": password})


@pytest.fixture
def store_url(tmp_path):
    """The store `serve` gives its servers."""
    return f"sqlite:///{tmp_path / 'served.db'}"


@pytest.fixture
def engine(store_url):
    """An engine on that store, for looking at what the servers wrote."""
    engine = create_engine(store_url)
    yield engine
    engine.dispose()


def message_call(server, account: str | None = None, seconds: int = 20, caller: str = CALLER, **kwargs):
    """A caller who reaches nobody and leaves a message of `seconds`, over HTTP, signed (from `account` if given)."""
    call = server.phone(auth_token=TOKEN, caller=caller, **kwargs)
    if account:
        call.account = account
    call.dial_in()
    call.press("0")
    call.ring_ends("no-answer")
    call.ring_ends("busy")
    call.stay_silent()
    call.leave_message(seconds)
    return call
