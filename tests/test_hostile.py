"""Thousands of random and hostile requests at every route: valid TwiML or a 4xx, never a 5xx."""
import json
import logging
import re
import weakref
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from ivr import create_app, parts
from ivr.phone import Phone, client_post
from tests.attack import twilio_form, webhook_paths
from tests.conftest import PUBLIC_URL, ROOT, TOKEN, WEEKDAY_MORNING

HOSTILE_WORDS = [
    "", " ", "\n", "\x00", "../../etc/passwd", "..%2f..%2fcall_flows.yaml", "%00", "%", "%ZZ", "&", "=",
    "welcome", "detox", "_voicemail", "_saved", "desk", "en", "es", "0", "1", "9", "*", "#", "0#*",
    "²", "١", "𝟙", "-1", "1e9", "99999999999999999999", "NaN", "<Say>hi</Say>", "]]>", "&amp;",
    "+15551234567", "CA" + "f" * 32, "https://api.twilio.com/x", "javascript:alert(1)", "counselor",
    "completed", "answered", "no-answer", "after", "\u202e", "🙂", "x" * 5000,
]
TWILIO_KEYS = ["CallSid", "From", "To", "Digits", "SpeechResult", "Confidence", "DialCallStatus",
               "DialCallDuration", "RecordingUrl", "RecordingDuration", "RecordingSid", "CallStatus",
               "CallDuration", "ParentCallSid", "AccountSid", "Caller", "ErrorCode"]
STATE_KEYS = ["n", "l", "t", "p", "g", "i", "c", "step", "empty", "lang", "file"]
METHODS = ["POST"] * 12 + ["GET", "GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD"]

values = st.one_of(st.sampled_from(HOSTILE_WORDS), st.text(max_size=40),
                   st.text(st.characters(codec="utf-8"), max_size=600),
                   st.binary(max_size=80).map(lambda b: b.decode("latin-1")))
keys = st.one_of(st.sampled_from(TWILIO_KEYS + STATE_KEYS), st.text(min_size=1, max_size=12))
# Values shaped to slip past a careless check: digits of other scripts, signs, huge counts.
# Characters str.isdigit() accepts but int() refuses (², ①, ₃...), and every script's decimal digits.
NOT_DECIMAL = [chr(c) for c in range(0x2FFFF) if chr(c).isdigit() and not chr(c).isdecimal()]
numberish = st.one_of(st.sampled_from(["0", "1", "2", "-1", "+1", " 1", "1 ", "0x1", "1e9", "1.5",
                                       "99999999999999999999", ""]),
                      st.text(st.sampled_from(NOT_DECIMAL), min_size=1, max_size=3),
                      st.text(st.characters(categories=["Nd"]), min_size=1, max_size=4),
                      st.integers(-10**30, 10**30).map(str))
keyish = st.one_of(st.text(st.sampled_from("0123456789*#"), max_size=40), numberish, values)
names = st.one_of(st.sampled_from(["welcome", "detox", "rehab", "_voicemail", "_saved", "desk", "backup",
                                   "on_call", "en", "es", "EN", "../en", "en\n", "welcome.detox"]), values)
state = st.fixed_dictionaries({}, optional={
    "n": names, "l": names, "t": numberish, "p": st.lists(names, max_size=40).map(".".join), "g": names,
    "i": numberish, "c": values, "step": st.sampled_from(["after", "", "x"]), "empty": values})
twilio = st.fixed_dictionaries({}, optional={
    "CallSid": values, "From": values, "Digits": keyish, "SpeechResult": values, "Confidence": numberish,
    "DialCallStatus": st.one_of(st.sampled_from(["completed", "answered", "busy", "no-answer", "failed",
                                                 "canceled"]), values),
    "DialCallDuration": numberish, "RecordingUrl": values, "RecordingDuration": numberish,
    "CallStatus": values, "CallDuration": numberish, "ParentCallSid": values})
segments = st.one_of(st.sampled_from(["en", "es", "..", "%2e%2e", "..%2f..%2fcall_flows.yaml",
                                      "welcome.mp3", "call_flows.yaml", "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
                                      "a%00b", "..;", "~root"]),
                     st.text(min_size=1, max_size=30).map(lambda s: quote(s, safe="")))


class Failures(logging.Handler):
    """Collects 'webhook failed' records: hostile input must be a wrong key, not a caught crash."""

    def __init__(self):
        super().__init__(logging.ERROR)
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture(scope="module")
def failures():
    handler = Failures()
    logging.getLogger("ivr.calls").addHandler(handler)
    yield handler
    logging.getLogger("ivr.calls").removeHandler(handler)


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory):
    """One app for all examples (hypothesis runs many per test), without a token: all the engine."""
    folder = tmp_path_factory.mktemp("hostile")
    return create_app({"DATABASE_URL": f"sqlite:///{folder / 'ivr.db'}", "IVR_NOW": WEEKDAY_MORNING,
                       "IVR_CALL_FLOWS": str(ROOT / "call_flows.yaml"), "IVR_SECRET_KEY": "k"})


_WEBHOOKS = weakref.WeakKeyDictionary()


def _webhooks(app) -> frozenset:
    """The app's webhook paths, enumerated once per app rather than for every example."""
    if app not in _WEBHOOKS:
        _WEBHOOKS[app] = frozenset(webhook_paths(app))
    return _WEBHOOKS[app]


def _request(app, data):
    """Draw a route (from the app's url_map), a method, a query and a form; send it."""
    rules = sorted(app.url_map.iter_rules(), key=lambda r: r.rule)
    hooks = [r for r in rules if r.rule in _webhooks(app)]
    rule = data.draw(st.one_of(st.sampled_from(hooks), st.sampled_from(hooks), st.sampled_from(rules)),
                     label="rule")  # webhooks twice as often: most of the line is behind them
    path = rule.rule
    for argument in rule.arguments:
        path = re.sub(rf"<(?:[^:>]+:)?{argument}>", data.draw(segments, label=argument), path)
    query = data.draw(st.one_of(
        state.map(urlencode), state.map(urlencode), st.dictionaries(keys, values, max_size=6).map(urlencode),
        st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=80)), label="query")
    form = data.draw(st.one_of(twilio.map(lambda f: {**twilio_form(), **f}), twilio,
                               st.dictionaries(keys, values, max_size=10)), label="form")
    method = data.draw(st.sampled_from(METHODS), label="method")
    response = app.test_client().open(path + ("?" + query if query else ""), method=method, data=form)
    return rule, path, method, response


def _assert_sane(app, rule, path, method, response):
    """A webhook answers TwiML or 4xx; other routes answer their own kind of page or 4xx; never 5xx."""
    status, body = response.status_code, response.get_data(as_text=True)
    assert status < 500, f"{method} {path}: {status}\n{body[:500]}"
    if status >= 400 or method in ("HEAD", "OPTIONS"):
        return
    if 300 <= status < 400:
        # A staff page sends on to the sign-in page; routing sends /audio/en//0 (a %2F in a
        # file name) on to its canonical /audio/en/0. Always to the line itself; never a webhook.
        assert rule.rule not in _webhooks(app), (method, path, status)
        location = urlsplit(response.location)
        assert location.netloc in ("", "localhost") and location.path.startswith("/"), (path, location)
        assert "//" not in location.path, (path, location)
        return
    if rule.rule in _webhooks(app):
        assert response.mimetype == "text/xml", (method, path)
        root = ET.fromstring(body)
        assert root.tag == "Response", (method, path, body[:300])
        return
    if rule.rule == "/healthz":
        assert json.loads(body)["flow"]["name"]
    elif rule.rule.startswith("/audio"):
        assert response.mimetype.startswith("audio/")


@settings(max_examples=1200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_hostile_requests_at_every_route_never_get_a_5xx(hostile_app, failures, data):
    failures.records.clear()
    _assert_sane(hostile_app, *_request(hostile_app, data))
    # Not even a crash the error handler hid behind the apology: bad input is just a wrong key.
    assert not failures.records, failures.records[0].getMessage() + str(failures.records[0].exc_info)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_unsigned_hostile_requests_get_nothing_but_4xx_from_webhooks(tmp_path_factory, data):
    app = _signed_app(tmp_path_factory)
    rule, path, method, response = _request(app, data)
    _assert_sane(app, rule, path, method, response)
    if rule.rule in _webhooks(app) and method in rule.methods - {"OPTIONS"}:  # Flask answers OPTIONS itself, empty
        assert response.status_code == 403, (method, path)


_SIGNED = {}


def _signed_app(tmp_path_factory):
    """One app with a token for all examples."""
    if "app" not in _SIGNED:
        folder = tmp_path_factory.mktemp("signed")
        _SIGNED["app"] = create_app({
            "DATABASE_URL": f"sqlite:///{folder / 'ivr.db'}", "IVR_NOW": WEEKDAY_MORNING,
            "IVR_CALL_FLOWS": str(ROOT / "call_flows.yaml"), "IVR_SECRET_KEY": "k",
            "TWILIO_AUTH_TOKEN": TOKEN, "IVR_PUBLIC_URL": PUBLIC_URL})
    return _SIGNED["app"]


# -- whole calls: whatever a caller or the network does, the line never hangs up on them ---------

caller_actions = st.lists(st.one_of(
    st.tuples(st.just("press"), st.one_of(st.sampled_from(list("0123456789*#")), st.sampled_from(HOSTILE_WORDS))),
    st.tuples(st.just("say"), values),
    st.tuples(st.just("silence"), st.none()),
    st.tuples(st.just("ring"), st.sampled_from(["no-answer", "busy", "failed", "canceled", "completed"])),
    st.tuples(st.just("counselor"), st.sampled_from(["1", "2", "", "1#", "²"])),
    st.tuples(st.just("message"), st.integers(0, 200)),
    st.tuples(st.just("no message"), st.none()),
), min_size=1, max_size=14)


def _act(call: Phone, action: str, value) -> None:
    """Do one thing a caller, a counselor or the network can do at this moment of the call."""
    if call.waiting == "gather":
        {"press": lambda: call.press(value), "say": lambda: call.say(value)}.get(action, call.stay_silent)()
    elif call.waiting == "dial":
        if action == "counselor":
            call.ring_ends("completed", counselor_keys=value)
        else:
            call.ring_ends(value if action == "ring" else "no-answer")
    elif call.waiting == "record":
        call.leave_message(value) if action == "message" else call.record_nothing()


def _language_of(flow, url: str) -> str:
    """The caller's language as the line itself carries it, in the URL of one of its documents."""
    lang = parse_qs(urlsplit(url).query).get("l", [""])[0]
    return lang if lang in flow.languages else flow.default_language


# The endings random search rarely reaches, always walked (whatever the examples database holds):
# Spanish (8) callers whose counselor takes the call, or who stay silent after a saved message.
@example(actions=[("press", "8"), ("press", "0"), ("counselor", "1")])
@example(actions=[("press", "8"), ("press", "2"), ("say", "consejero"), ("ring", "no-answer"),
                  ("ring", "completed"), ("counselor", "1")])
@example(actions=[("press", "8"), ("press", "0"), ("ring", "busy"), ("ring", "no-answer"), ("silence", None),
                  ("message", 20), ("silence", None), ("silence", None)])
@example(actions=[("press", "0"), ("counselor", "1")])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions=caller_actions)
def test_no_caller_is_ever_hung_up_on(hostile_app, failures, actions):
    failures.records.clear()
    flow = parts.flow(hostile_app)
    call = Phone(client_post(hostile_app.test_client()))
    call.dial_in()
    for action, value in actions:
        if call.waiting is None:
            break
        _act(call, action, value)
    kinds = [h.kind for h in call.heard]
    assert "end" not in kinds
    if call.waiting is None:  # only a counselor who took the call (or a caller's silence after a
        # saved message) ends it, after a goodbye in the caller's own language
        last = [h for h in call.heard if h.kind == "say"][-1]
        lang = _language_of(flow, call.heard[-1].doc)
        assert kinds[-1] == "hangup"
        assert (last.text, last.lang) == (flow.text(lang, "goodbye"), flow.languages[lang].speech)
    assert not failures.records


def test_a_message_that_does_not_exist_is_a_404_even_with_listening_off(hostile_app):
    # Found by the search above: /staff/callbacks/0/recording answered 503 (listening off)
    # before it looked whether callback 0 existed.
    response = hostile_app.test_client().get("/staff/callbacks/0/recording")
    assert response.status_code == 404 and "There is no callback request #0" in response.get_data(as_text=True)


def test_a_slash_in_an_audio_file_name_is_sent_on_to_the_name_without_it(client):
    # Hypothesis found it: /audio/en/%2F0 is /audio/en//0, which routing sends on (308) to /audio/en/0.
    response = client.get("/audio/en/%2F0")
    assert response.status_code == 308 and urlsplit(response.location).path == "/audio/en/0"
