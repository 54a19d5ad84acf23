"""Production refuses to start without its secrets; development warns once; staff pages need the password."""
import base64
import logging
import os
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

from ivr import create_app
from ivr.config import PRODUCTION_NEEDS, SettingsError
from tests.attack import fill, gated_rules, staff_rules
from tests.conftest import PUBLIC_URL, ROOT, TOKEN, free_port

PASSWORD = "correct horse battery staple"
PRODUCTION = {"IVR_ENV": "production", "TWILIO_AUTH_TOKEN": TOKEN, "IVR_PUBLIC_URL": PUBLIC_URL,
              "IVR_SECRET_KEY": "shared-secret", "IVR_STAFF_PASSWORD": PASSWORD}
NO_TOKEN_WARNING = "TWILIO_AUTH_TOKEN is not set"


@pytest.mark.parametrize("missing", PRODUCTION_NEEDS)
def test_production_app_refuses_each_missing_secret_by_name(settings, missing):
    with pytest.raises(SettingsError, match=missing) as refused:
        create_app({**settings, **PRODUCTION, missing: None})
    assert "production" in str(refused.value)


@pytest.mark.parametrize("url", ["ivr.example.org", "https://ivr.example.org/?x=1", "ftp://ivr.example.org"])
def test_a_public_url_signatures_could_never_match_is_refused(settings, url):
    with pytest.raises(SettingsError, match="IVR_PUBLIC_URL"):
        create_app({**settings, **PRODUCTION, "IVR_PUBLIC_URL": url})


@pytest.mark.slow
def test_gunicorn_in_production_without_secrets_exits_naming_them(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_"))}
    env.update(IVR_ENV="production", TWILIO_AUTH_TOKEN=TOKEN, DATABASE_URL=f"sqlite:///{tmp_path}/x.db",
               IVR_CALL_FLOWS=str(ROOT / "call_flows.yaml"))
    done = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "--bind",
         f"127.0.0.1:{free_port()}", "--workers", "2", "ivr:create_app()"],
        cwd=str(ROOT), env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "Error: IVR_ENV=production needs IVR_PUBLIC_URL, IVR_SECRET_KEY set" in done.stderr
    assert "TWILIO_AUTH_TOKEN" not in done.stderr.split("needs", 1)[1].split("set", 1)[0]
    assert "Traceback" not in done.stderr  # a message for an operator, not a stack
    assert "Booting worker" not in done.stderr  # refused before serving anything


@pytest.mark.slow
def test_development_without_a_token_warns_once_not_per_worker_or_request(serve):
    server = serve({"TWILIO_AUTH_TOKEN": ""}, workers=3)
    for _ in range(6):
        server.phone().dial_in()
    server.stop()
    log = server.log_path.read_text()
    assert log.count(NO_TOKEN_WARNING) == 1
    assert log.count("Booting worker") == 3


def test_development_app_warns_loudly(settings, caplog):
    caplog.set_level(logging.WARNING, logger="ivr")
    create_app(settings)
    warnings = [r for r in caplog.records if NO_TOKEN_WARNING in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert "never for a real number" in warnings[0].getMessage()


# -- staff pages --------------------------------------------------------------------------------

def _basic(password: str, user: str = "staff") -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def production_app(settings):
    return create_app({**settings, **PRODUCTION})


def test_there_is_a_staff_index_listing_the_staff_pages(settings):
    app = create_app(settings)
    response = app.test_client().get("/staff/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for rule in staff_rules(app):
        if "GET" in rule.methods and not rule.arguments and rule.rule != "/staff/":
            assert f'href="{rule.rule}"' in page


def test_every_staff_page_needs_an_account_in_production(production_app):
    """IVR_STAFF_PASSWORD became the account 'staff' (the migration path); nothing else gets in."""
    client = production_app.test_client()
    rules = gated_rules(production_app)
    assert len(rules) > len(staff_rules(production_app)) > 3, "no staff pages to protect"
    for rule in rules:
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            path = fill(rule)
            for headers in ({}, {"Authorization": "Bearer " + PASSWORD}, {"Cookie": "ivr_staff=forged"}):
                refused = client.open(path, method=method, headers=headers)
                assert refused.status_code == 401, (method, path, headers)
                assert refused.headers["WWW-Authenticate"].startswith("Basic")
            allowed = client.open(path, method=method, headers=_basic(PASSWORD))
            assert allowed.status_code != 401, (method, path)
            if method == "GET" and not rule.arguments:
                assert allowed.status_code == 200, path


@pytest.mark.parametrize("headers", [_basic("wrong"), _basic(""), _basic(PASSWORD + " "),
                                     _basic(PASSWORD, "someone")])
def test_a_wrong_name_or_password_is_refused(production_app, headers):
    refused = production_app.test_client().get("/staff/callbacks", headers=headers)
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"].startswith("Basic")
    assert "do not match" in refused.get_data(as_text=True)


def test_staff_pages_stay_locked_in_production_when_there_is_no_account(settings):
    app = create_app({**settings, **PRODUCTION, "IVR_STAFF_PASSWORD": None})
    client = app.test_client()
    for rule in gated_rules(app):
        refused = client.open(fill(rule), method=sorted(rule.methods - {"HEAD", "OPTIONS"})[0])
        assert refused.status_code == 401 and "no staff account yet" in refused.get_data(as_text=True)
    for headers in (_basic(""), _basic("None"), _basic("anything", "staff")):
        assert client.get("/staff/callbacks", headers=headers).status_code == 401


@pytest.mark.slow
def test_staff_pages_through_gunicorn_in_production(serve):
    server = serve(PRODUCTION, workers=1)

    def get(headers):
        request = urllib.request.Request(server.base + "/staff/", headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    assert get({})[0] == 401
    assert get(_basic("wrong"))[0] == 401
    status, page = get(_basic(PASSWORD))
    assert status == 200 and "Recovery Helpline: staff" in page
    assert server.phone().post(server.base + "/voice", {}, {})[0] == 403  # and only Twilio calls in
