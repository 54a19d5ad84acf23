"""Whole calls against a real gunicorn on a loopback port, signed the way Twilio signs them."""
import urllib.error
import urllib.request

import pytest

from tests.conftest import PUBLIC_URL, TOKEN

pytestmark = pytest.mark.slow


@pytest.fixture
def line(serve):
    """The line behind a pretend TLS proxy: Twilio signs the public URL, gunicorn sees loopback."""
    return serve({"TWILIO_AUTH_TOKEN": TOKEN, "IVR_PUBLIC_URL": PUBLIC_URL})


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
