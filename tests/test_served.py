"""Whole calls against a real gunicorn on a loopback port, signed the way Twilio signs them."""
import urllib.error
import urllib.request

import pytest

from ivr.flow import load_flow
from tests.conftest import PUBLIC_URL, ROOT, TOKEN, WEEKDAY_MORNING, Server

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def line(tmp_path_factory):
    """The line behind a pretend TLS proxy: Twilio signs the public URL, gunicorn sees loopback."""
    folder = tmp_path_factory.mktemp("served")
    env = {"DATABASE_URL": f"sqlite:///{folder / 'ivr.db'}", "IVR_CALL_FLOWS": str(ROOT / "call_flows.yaml"),
           "IVR_NOW": WEEKDAY_MORNING, "IVR_SECRET_KEY": "test-secret",
           "TWILIO_AUTH_TOKEN": TOKEN, "IVR_PUBLIC_URL": PUBLIC_URL}
    server = Server(env, folder / "gunicorn.log", workers=2).start()
    yield server
    server.stop()


MENU_PATHS = {"welcome": [], "detox": ["1"], "detox_withdrawal": ["1", "1"], "rehab": ["2"],
              "rehab_detail": ["2", "1"], "aftercare": ["3"], "aftercare_detail": ["3", "1"],
              "mental_health": ["4"], "family": ["5"], "choosing": ["5", "1"]}


def _reach(line, menu):
    call = line.phone(auth_token=TOKEN)
    call.dial_in()
    for key in MENU_PATHS[menu]:
        call.press(key)
    return call


@pytest.mark.parametrize("menu", MENU_PATHS)
def test_each_menu_is_heard_in_full_and_0_interrupts_it(line, menu):
    flow = load_flow(ROOT / "call_flows.yaml")
    call = _reach(line, menu)
    for prompt in flow.menus[menu].intro + flow.menus[menu].say:
        assert any(h.text == flow.text("en", prompt) for h in call.heard), prompt
    assert call.waiting == "gather"  # the explanation is spoken inside the Gather: 0 cuts in
    call.press("0")
    assert call.waiting == "dial" and call.last_dial.numbers == ("+15555550100", "+15555550101")


@pytest.mark.parametrize("menu", ["welcome", "rehab", "mental_health"])
def test_saying_counselor_reaches_a_person(line, menu):
    call = _reach(line, menu)
    call.say("counselor")
    assert call.waiting == "dial"


def test_a_silent_caller_is_never_hung_up_on(line):
    call = line.phone(auth_token=TOKEN)
    call.dial_in()
    call.stay_silent()
    call.stay_silent()
    assert call.waiting == "dial"
    call.ring_ends("no-answer")
    call.ring_ends("no-answer")
    call.stay_silent()  # says nothing during the voicemail notice: recording starts
    call.record_nothing()  # and nothing into the recording either
    for _ in range(6):
        if call.waiting == "gather":
            call.stay_silent()
        elif call.waiting == "dial":
            call.ring_ends("no-answer")
        elif call.waiting == "record":
            call.record_nothing()
    assert call.waiting in ("gather", "dial", "record")
    assert all(h.kind not in ("end", "hangup") for h in call.heard)


def test_wrong_keys_then_a_counselor(line):
    call = line.phone(auth_token=TOKEN)
    call.dial_in()
    call.press("1")
    start = len(call.heard)
    call.press("7")
    assert "isn't one of the choices" in call.said(start)
    call.press("#")
    assert call.waiting == "dial"


def test_a_whole_call_through_gunicorn(line):
    call = line.phone(auth_token=TOKEN)
    call.dial_in()
    call.press("1")
    call.press("1")
    assert "medical" in call.said().lower()
    call.stay_silent()
    call.say("counselor")
    assert call.waiting == "dial"
    call.ring_ends("no-answer")
    call.ring_ends("no-answer")
    call.press("9")
    assert "To learn about detox, press 1" in call.said()
    assert all(h.kind != "end" for h in call.heard)


def test_unsigned_request_is_refused(line):
    request = urllib.request.Request(line.base + "/voice", data=b"CallSid=CA1&From=%2B15551234567")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 403
