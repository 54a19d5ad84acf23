"""Call back from the helpline: "Call back now" asks Twilio (the contract stand-in) to ring the
staff member's phone from the helpline's number; Twilio's requests then play as Twilio makes
them, signed: which message (never the number), press 1, the caller dialled with the helpline's
number as caller ID; the callback's status follows the call."""
import re
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

import pytest

from ivr import accounts, audit, create_app, db, parts
from tests.attack import CALLER, number_forms_in, signature
from tests.conftest import PUBLIC_URL, TOKEN
from tests.staffing import PASSWORD
from tests.test_callbacks import add_callback
from tests.twilio_standin import ACCOUNT, LINE_NUMBER, api_settings, standin  # noqa: F401

STAFF_PHONE = "+15557654321"
LEFT_AT = datetime(2026, 12, 1, 15, 42, tzinfo=timezone.utc)  # 10:42 AM at the desk (New York)


@pytest.fixture
def line(settings, standin):
    """The line as Twilio reaches it: signed webhooks at the public URL, the REST client at the stand-in."""
    app = create_app({**settings, **api_settings(standin), "IVR_PUBLIC_URL": PUBLIC_URL})
    yield app
    parts.storage(app).close()


@pytest.fixture
def waiting(line):
    """A Spanish caller's message, 33 seconds long, waiting for a call back."""
    return add_callback(parts.storage(line).engine, LEFT_AT, caller=CALLER, lang="es", recording_seconds=33)


def status_of(app, callback_id: int) -> str:
    return db.get_callback(parts.storage(app).engine, callback_id)["status"]


def page_form(client, callback_id: int) -> dict:
    """The call-back form for one request, read off the callback page: its action and token."""
    html = client.get("/staff/callbacks").get_data(as_text=True)
    action = f"/staff/callbacks/{callback_id}/call"
    form = html[html.index(f'action="{action}"'):]
    form = form[:form.index("</form>")]
    assert 'name="phone" type="tel"' in form and f"Call back #{callback_id} now" in form
    # Callers were told the call comes from the helpline's number: no link rings from a staff phone.
    assert 'href="tel:' not in html
    return {"action": action, "token": re.search(r'name="token" value="([0-9a-f]+)"', form).group(1)}


def call_back_now(client, callback_id: int, phone: str = STAFF_PHONE):
    form = page_form(client, callback_id)
    return client.post(form["action"], data={"token": form["token"], "phone": phone})


class Twilio:
    """Twilio's side of the call it was asked to make: signed requests to the URLs it was given."""

    def __init__(self, client, created: dict):
        self.client, self.created = client, created
        self.form = {"CallSid": created["Sid"], "AccountSid": ACCOUNT, "From": created["From"],
                     "To": created["To"], "Direction": "outbound-api", "CallStatus": "in-progress",
                     "ApiVersion": "2010-04-01"}

    def post(self, url: str, **extra) -> ET.Element:
        """POST a signed request to an absolute or root-relative URL of the line; the TwiML."""
        url = url if url.startswith("http") else PUBLIC_URL + url
        form = {**self.form, **extra}
        answer = self.client.post(url[len(PUBLIC_URL):], data=form,
                                  headers={"X-Twilio-Signature": signature(url, form)})
        assert answer.status_code == 200, answer.get_data(as_text=True)
        self.last = answer.get_data(as_text=True)
        root = ET.fromstring(self.last)
        assert root.tag == "Response"
        return root

    def answered(self) -> ET.Element:
        return self.post(self.created["Url"])


def test_call_back_now_rings_staff_from_the_helpline_then_dials_the_caller(line, standin, waiting):
    client = line.test_client()
    started = call_back_now(client, waiting)
    assert started.status_code == 303 and started.headers["Location"].endswith(f"calling={waiting}")
    page = client.get(started.headers["Location"]).get_data(as_text=True)
    assert f"Ringing your phone for callback {waiting}" in page and "<td>Calling now</td>" in page
    assert status_of(line, waiting) == "calling"

    # The Calls request: the contract accepts it (standin.problems), and it carries no caller data.
    (created,) = standin.calls
    assert standin.problems == [] and standin.operations() == ["CreateCall"]
    assert created["To"] == STAFF_PHONE and created["From"] == LINE_NUMBER and created["Method"] == "POST"
    assert created["Url"].startswith(PUBLIC_URL + "/voice/callback/answer?")
    assert created["StatusCallback"].startswith(PUBLIC_URL + "/voice/callback/status?")
    assert created["StatusCallbackEvent"] == ["initiated", "ringing", "answered", "completed"]
    assert number_forms_in(str(created)) == []

    twilio = Twilio(client, created)
    intro = twilio.answered()
    gather = intro.find("Gather")
    said = gather.find("Say").text
    assert "Tuesday, December 1 at 10:42 AM, in Spanish, 33 seconds long" in said and "Press 1" in said
    assert number_forms_in(twilio.last) == []  # what the staff member hears never has the number
    assert intro.find("Redirect") is not None  # silence: hear it once more

    dial = twilio.post(gather.get("action"), Digits="1").find("Dial")
    assert dial.get("callerId") == LINE_NUMBER and dial.find("Number").text == CALLER
    twilio.post(dial.get("action"), DialCallStatus="completed", DialCallDuration="340")
    assert status_of(line, waiting) == "talked"
    twilio.post(created["StatusCallback"], CallStatus="completed", CallDuration="360")
    assert status_of(line, waiting) == "talked"  # the staff leg's end changes nothing now
    assert "<td>Talked</td>" in client.get("/staff/callbacks").get_data(as_text=True)


def test_an_empty_phone_field_rings_the_staff_member_s_own_phone(line, standin, waiting):
    engine = parts.storage(line).engine
    accounts.add(engine, "maria", PASSWORD, "+15552220101")
    accounts.add(engine, "sam", PASSWORD)
    maria = line.test_client()
    token = page_form_as(maria, waiting, ("maria", PASSWORD))
    started = maria.post(f"/staff/callbacks/{waiting}/call", data={"token": token, "phone": ""},
                         auth=("maria", PASSWORD))
    assert started.status_code == 303 and standin.calls[0]["To"] == "+15552220101"
    assert ("maria", "call back", f"callback {waiting}") in [
        (e["who"], e["action"], e["what"]) for e in audit.entries(engine)]
    sam = line.test_client()
    token = page_form_as(sam, waiting, ("sam", PASSWORD))
    refused = sam.post(f"/staff/callbacks/{waiting}/call", data={"token": token, "phone": ""}, auth=("sam", PASSWORD))
    assert refused.status_code == 400 and "Type the phone you want to be rung on" in refused.get_data(as_text=True)
    assert len(standin.calls) == 1


def page_form_as(client, callback_id: int, auth: tuple) -> str:
    """The call-back form's token for one request, read off the page by a signed-in staff member."""
    html = client.get("/staff/callbacks", auth=auth).get_data(as_text=True)
    form = html[html.index(f'action="/staff/callbacks/{callback_id}/call"'):]
    return re.search(r'name="token" value="([0-9a-f]+)"', form).group(1)


def test_a_caller_who_does_not_answer_is_marked_no_answer(line, standin, waiting):
    call_back_now(line.test_client(), waiting)
    twilio = Twilio(line.test_client(), standin.calls[0])
    gather = twilio.answered().find("Gather")
    dial = twilio.post(gather.get("action"), Digits="1").find("Dial")
    said = twilio.post(dial.get("action"), DialCallStatus="no-answer")
    assert "did not answer" in said.find("Say").text and said.find("Hangup") is not None
    assert status_of(line, waiting) == "no_answer"
    assert "<td>No answer</td>" in line.test_client().get("/staff/callbacks").get_data(as_text=True)


@pytest.mark.parametrize("ending", ["no-answer", "busy", "failed", "completed"])
def test_when_the_staff_phone_is_not_answered_the_callback_waits_again(line, standin, waiting, ending):
    call_back_now(line.test_client(), waiting)
    twilio = Twilio(line.test_client(), standin.calls[0])
    twilio.post(standin.calls[0]["StatusCallback"], CallStatus="ringing")
    assert status_of(line, waiting) == "calling"
    twilio.post(standin.calls[0]["StatusCallback"], CallStatus=ending)
    assert status_of(line, waiting) == "new"


def test_a_key_other_than_1_calls_nobody(line, standin, waiting):
    call_back_now(line.test_client(), waiting)
    twilio = Twilio(line.test_client(), standin.calls[0])
    gather = twilio.answered().find("Gather")
    answer = twilio.post(gather.get("action"), Digits="2")
    assert answer.find("Dial") is None and "Nobody was called" in answer.find("Say").text
    assert status_of(line, waiting) == "new"


def test_silence_twice_calls_nobody(line, standin, waiting):
    call_back_now(line.test_client(), waiting)
    twilio = Twilio(line.test_client(), standin.calls[0])
    again = twilio.post(twilio.answered().find("Redirect").text)
    assert again.find("Gather") is not None and again.find("Redirect") is None
    assert again.find("Hangup") is not None and "Nobody was called" in again.find("Say").text


@pytest.mark.parametrize("outcome, words", [(500, "Twilio refused to ring your phone: HTTP 500"),
                                            ("timeout", "did not answer in time")])
def test_when_twilio_fails_nobody_is_called_and_staff_are_told(line, standin, waiting, outcome, words):
    standin.fail("POST", "/Calls.json", outcome)
    answer = call_back_now(line.test_client(), waiting)
    assert answer.status_code == 502 and words in answer.get_data(as_text=True)
    assert status_of(line, waiting) == "new"


def test_the_staff_phone_must_be_a_number(line, standin, waiting):
    for phone in ("", "555-1234", "+1 (555) 765"):
        answer = call_back_now(line.test_client(), waiting, phone=phone)
        assert answer.status_code == 400 and "Type the phone you want to be rung on" in answer.get_data(as_text=True)
    assert standin.seen == []


def test_a_withheld_number_cannot_be_called_back(line, standin):
    withheld = add_callback(parts.storage(line).engine, LEFT_AT, caller="anonymous")
    html = line.test_client().get("/staff/callbacks").get_data(as_text=True)
    assert f"Call back #{withheld} now" in html  # the page offers it; the line says why not
    answer = call_back_now(line.test_client(), withheld)
    assert answer.status_code == 503 and "no number to call back" in answer.get_data(as_text=True)
    assert standin.seen == []


def test_a_form_from_another_site_rings_nobody(line, standin, waiting):
    for token in ("", "0" * 32):
        answer = line.test_client().post(f"/staff/callbacks/{waiting}/call",
                                         data={"token": token, "phone": STAFF_PHONE})
        assert answer.status_code == 403 and "nobody was called" in answer.get_data(as_text=True)
    assert standin.seen == [] and status_of(line, waiting) == "new"


def test_twilio_s_requests_need_the_keyed_token_and_the_signature(line, standin, waiting):
    call_back_now(line.test_client(), waiting)
    created = standin.calls[0]
    twilio = Twilio(line.test_client(), created)
    connect = PUBLIC_URL + f"/voice/callback/connect?cb={waiting}&t=" + "0" * 32
    answer = twilio.post(connect, Digits="1")  # signed by Twilio, but not a URL the line gave out
    assert answer.find("Dial") is None and number_forms_in(twilio.last) == []
    unsigned = line.test_client().post(created["Url"][len(PUBLIC_URL):].replace("answer", "connect"),
                                       data={**twilio.form, "Digits": "1"})
    assert unsigned.status_code == 403 and CALLER not in unsigned.get_data(as_text=True)


def test_without_a_public_url_or_credentials_call_back_is_off(settings, standin):
    no_url = create_app({**settings, **api_settings(standin)})
    waiting = add_callback(parts.storage(no_url).engine, LEFT_AT)
    answer = call_back_now(no_url.test_client(), waiting)
    assert answer.status_code == 503 and "set IVR_PUBLIC_URL" in answer.get_data(as_text=True)
    off = create_app({**settings, "IVR_PUBLIC_URL": PUBLIC_URL})
    waiting = add_callback(parts.storage(off).engine, LEFT_AT)
    html = off.test_client().get("/staff/callbacks").get_data(as_text=True)
    assert f"Call back #{waiting} now" not in html and "calling back from here are off" in html
    assert 'href="tel:' in html  # without Twilio, the number is a link for a helpline phone
    assert standin.seen == []


def test_call_back_end_to_end_under_gunicorn(serve, standin, tmp_path):
    server = serve({**api_settings(standin), "IVR_PUBLIC_URL": PUBLIC_URL, "TWILIO_AUTH_TOKEN": TOKEN})
    waiting = add_callback(db.connect(server.env["DATABASE_URL"]), LEFT_AT, caller=CALLER, lang="es")
    page = urllib.request.urlopen(server.base + "/staff/callbacks", timeout=10).read().decode()
    token = re.search(rf'action="/staff/callbacks/{waiting}/call">\s*<input type="hidden" name="token" '
                      r'value="([0-9a-f]+)"', page).group(1)
    form = urllib.parse.urlencode({"token": token, "phone": STAFF_PHONE}).encode()
    try:
        urllib.request.build_opener(NoRedirect).open(server.base + f"/staff/callbacks/{waiting}/call", form, timeout=10)
        raise AssertionError("expected a redirect")
    except urllib.error.HTTPError as exc:
        assert exc.code == 303 and exc.headers["Location"].endswith(f"calling={waiting}")
    (created,) = standin.calls
    assert created["From"] == LINE_NUMBER and standin.problems == []

    def post(url: str, **extra) -> ET.Element:
        sent = {"CallSid": created["Sid"], "AccountSid": standin.account, "CallStatus": "in-progress",
                "Direction": "outbound-api", "From": created["From"], "To": created["To"], **extra}
        request = urllib.request.Request(server.base + url[len(PUBLIC_URL):], urllib.parse.urlencode(sent).encode(),
                                         {"X-Twilio-Signature": signature(url, sent)})
        with urllib.request.urlopen(request, timeout=10) as answer:
            return ET.fromstring(answer.read())
    gather = post(created["Url"]).find("Gather")
    assert "in Spanish" in gather.find("Say").text
    dial = post(PUBLIC_URL + gather.get("action"), Digits="1").find("Dial")
    assert dial.get("callerId") == LINE_NUMBER and dial.find("Number").text == CALLER
    post(PUBLIC_URL + dial.get("action"), DialCallStatus="completed")
    assert db.get_callback(db.connect(server.env["DATABASE_URL"]), waiting)["status"] == "talked"
    log = "".join(path.read_text() for path in tmp_path.glob("gunicorn-*.log"))
    assert number_forms_in(log) == [] and created["Sid"] in log


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
