"""Only Twilio gets in: every webhook refuses unsigned, wrongly signed, replayed and tampered requests."""
import logging

import pytest

from ivr import create_app
from ivr.phone import http_post
from tests.attack import (CALLER, number_forms_in, post_signed, signature, twiml, twilio_form,
                          webhook_paths)
from tests.conftest import PUBLIC_URL, TOKEN

QUERY = "?n=detox&l=en&p=welcome.detox"


@pytest.fixture
def signed_app(settings):
    """The line with a token, behind a proxy: Twilio signs https://ivr.example.org/..."""
    return create_app({**settings, "TWILIO_AUTH_TOKEN": TOKEN, "IVR_PUBLIC_URL": PUBLIC_URL})


@pytest.fixture
def signed_client(signed_app):
    return signed_app.test_client()


def test_the_webhooks_enumerated_are_the_ones_twilio_calls(signed_app):
    paths = webhook_paths(signed_app)
    assert {"/voice", "/voice/answer", "/voice/silence", "/voice/dialed", "/voice/whisper",
            "/voice/screened", "/voice/recorded", "/voice/recording", "/status", "/fallback"} <= set(paths)
    assert not [p for p in paths if p.startswith(("/staff", "/healthz", "/audio"))]


def test_every_webhook_answers_a_request_signed_for_the_public_url(signed_app, signed_client):
    for path in webhook_paths(signed_app):
        response = post_signed(signed_client, path + QUERY, twilio_form(Digits="1"))
        assert response.status_code == 200, path
        twiml(response.get_data(as_text=True))


ATTACKS = {
    "missing": lambda c, path, form: c.post(path, data=form),
    "empty": lambda c, path, form: c.post(path, data=form, headers={"X-Twilio-Signature": ""}),
    "wrong token": lambda c, path, form: post_signed(c, path, form, token="not-the-token"),
    "garbage": lambda c, path, form: c.post(path, data=form, headers={"X-Twilio-Signature": "A" * 28}),
    # Signed for the loopback URL gunicorn sees, not the public URL Twilio requested.
    "loopback url": lambda c, path, form: post_signed(c, path, form, url="http://localhost" + path),
    "http not https": lambda c, path, form: post_signed(
        c, path, form, url=PUBLIC_URL.replace("https", "http") + path),
    # A real signature for one URL, replayed onto another.
    "other route": lambda c, path, form: post_signed(
        c, path, form, url=PUBLIC_URL + ("/status" if not path.startswith("/status") else "/voice") + QUERY),
    "other query": lambda c, path, form: post_signed(
        c, path, form, url=PUBLIC_URL + path.replace("n=detox", "n=rehab")),
    "query dropped": lambda c, path, form: post_signed(c, path, form, url=PUBLIC_URL + path.split("?")[0]),
    "other host": lambda c, path, form: post_signed(c, path, form, url="https://evil.example.com" + path),
    # A real signature, then a parameter changed, added or removed on the way.
    "tampered digits": lambda c, path, form: post_signed(c, path, form, sent_form={**form, "Digits": "0"}),
    "tampered caller": lambda c, path, form: post_signed(c, path, form, sent_form={**form, "From": "+15550000000"}),
    "added param": lambda c, path, form: post_signed(c, path, form, sent_form={**form, "RecordingUrl": "https://x.example/"}),
    "removed param": lambda c, path, form: post_signed(
        c, path, form, sent_form={k: v for k, v in form.items() if k != "Digits"}),
}


@pytest.mark.parametrize("attack", ATTACKS)
def test_every_webhook_refuses_an_attack_and_logs_it_without_the_number(signed_app, signed_client,
                                                                         caplog, attack):
    caplog.set_level(logging.INFO, logger="ivr")
    refused = []
    for path in webhook_paths(signed_app):
        response = ATTACKS[attack](signed_client, path + QUERY, twilio_form(Digits="1"))
        if response.status_code != 403 or "only answers Twilio" not in response.get_data(as_text=True):
            refused.append((path, response.status_code))
    assert not refused, f"{attack}: these webhooks let it in: {refused}"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "refused" in r.getMessage()]
    assert len(warnings) == len(webhook_paths(signed_app))
    assert "CAa1a1" in warnings[0].getMessage()  # which call, by its CallSid
    assert number_forms_in(caplog.text) == []


@pytest.mark.parametrize("claimed", [CALLER, CALLER.lstrip("+"), "hello", ""])
def test_a_refused_requests_log_line_names_no_call_it_could_not_be(signed_client, caplog, claimed):
    # A forged request may put anything where the CallSid goes, a caller's number too: only
    # something shaped like a CallSid is logged, else a dash.
    caplog.set_level(logging.INFO, logger="ivr")
    assert signed_client.post("/voice", data=twilio_form(CallSid=claimed)).status_code == 403
    assert [r.getMessage() for r in caplog.records if "refused" in r.getMessage()] == [
        "refused an unsigned or wrongly signed request to /voice (CallSid -): no CallSid of Twilio's shape"]


def test_a_webhook_twilio_may_fetch_by_get_checks_the_url_alone(signed_app, signed_client):
    gettable = [r.rule for r in signed_app.url_map.iter_rules()
                if "GET" in r.methods and r.rule in webhook_paths(signed_app)]
    assert "/fallback" in gettable
    for path in gettable:
        url = PUBLIC_URL + path + "?CallSid=CA1&From=%2B15551234567"
        good = signed_client.get(url[len(PUBLIC_URL):], headers={"X-Twilio-Signature": signature(url, {})})
        assert good.status_code == 200, path
        twiml(good.get_data(as_text=True))
        bad = signed_client.get(path + "?CallSid=CA1&From=%2B15551234568",
                                headers={"X-Twilio-Signature": signature(url, {})})
        assert bad.status_code == 403, path


def test_a_refused_request_reaches_neither_the_engine_nor_the_store(signed_app, signed_client, monkeypatch):
    from ivr import call, db
    touched = []
    monkeypatch.setattr(call, "greet", lambda *a, **k: touched.append("engine"))
    monkeypatch.setattr(db.Storage, "note", lambda *a, **k: touched.append("store"))
    monkeypatch.setattr(db.Storage, "attempt", lambda *a, **k: touched.append("store"))
    assert signed_client.post("/voice", data=twilio_form()).status_code == 403
    assert touched == []


@pytest.mark.parametrize("query,variant", [
    # + and lower-case escapes, as Twilio sent them; a framework would rebuild them otherwise
    ("?n=detox&l=en&x=a+b%2bc%20d%7E%21%27%28%29%2A", "?n=detox&l=en&x=a%20b%2Bc%20d~%21%27%28%29%2A"),
    ("?x=%E2%9C%93&y=caf%C3%A9&z=%25&w=%26amp%3B", "?x=%e2%9c%93&y=caf%c3%a9&z=%25&w=%26amp%3B"),
    ("?n=detox&n=rehab&l=en&empty=", "?n=detox&n=rehab&l=en&empty"),  # repeated key, empty value
    ("?%3Cscript%3E=1&a[]=2&;=3", "?%3Cscript%3E=1&a%5B%5D=2&;=3"),  # odd keys
])
def test_query_strings_are_checked_exactly_as_received(signed_client, query, variant):
    form = twilio_form(Digits="1")
    path = "/voice/answer" + query
    assert post_signed(signed_client, path, form).status_code == 200
    # The same query written another way is another URL: its signature does not fit.
    assert post_signed(signed_client, path, form, url=PUBLIC_URL + "/voice/answer" + variant).status_code == 403
    assert post_signed(signed_client, "/voice/answer" + variant, form, url=PUBLIC_URL + path).status_code == 403


def test_without_a_public_url_the_host_it_was_sent_to_is_checked(settings):
    app = create_app({**settings, "TWILIO_AUTH_TOKEN": TOKEN})
    client = app.test_client()
    form = twilio_form()
    path = "/voice/answer?n=detox&x=a%2bb"
    assert post_signed(client, path, form, url="http://localhost" + path).status_code == 200
    assert post_signed(client, path, form).status_code == 403  # signed for another host


# -- through real gunicorn, behind a pretend TLS proxy ------------------------------------------

def _proxy_post(server, path: str, form: dict, sig: str | None):
    """What a TLS-terminating proxy does: forward to loopback with X-Forwarded-* headers."""
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "ivr.example.org",
               "X-Forwarded-For": "203.0.113.9"}
    if sig is not None:
        headers["X-Twilio-Signature"] = sig
    return http_post(timeout=10)(server.base + path, form, headers)


@pytest.mark.slow
def test_gunicorn_behind_a_tls_proxy_checks_the_public_url(serve):
    server = serve({"TWILIO_AUTH_TOKEN": TOKEN, "IVR_PUBLIC_URL": PUBLIC_URL}, workers=1)
    form = twilio_form(Digits="1")
    path = "/voice/answer?n=welcome&l=en&x=a+b%2bc%7e"
    status, body = _proxy_post(server, path, form, signature(PUBLIC_URL + path, form))
    assert status == 200 and "n=detox" in twiml(body).find("Gather").get("action")  # key 1: detox
    # Signed for the loopback URL gunicorn itself sees: refused, whatever X-Forwarded-* say.
    assert _proxy_post(server, path, form, signature(server.base + path, form))[0] == 403
    assert _proxy_post(server, path, form, None)[0] == 403
    assert _proxy_post(server, path, {**form, "Digits": "0"}, signature(PUBLIC_URL + path, form))[0] == 403
    replayed = "/voice/answer?n=detox&l=en&x=a+b%2bc%7e"
    assert _proxy_post(server, replayed, form, signature(PUBLIC_URL + path, form))[0] == 403
    server.stop()
    log = server.log_path.read_text()
    assert log.count("refused an unsigned or wrongly signed request") == 4
    assert CALLER not in log and number_forms_in(log) == []
