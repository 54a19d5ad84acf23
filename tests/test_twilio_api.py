"""The REST client's settings (credentials, API key pair, TWILIO_API_URL, the line's number), and
the stand-in's own honesty: it refuses requests Twilio's description does not allow."""
import urllib.error
import urllib.request

import pytest

from ivr import recordings
from ivr.config import SettingsError, load_settings
from ivr.flow import check_flow, load_flow
from ivr.twilio_api import TwilioFailed, account
from tests.conftest import PUBLIC_URL, ROOT, TOKEN
from tests.twilio_standin import ACCOUNT, LINE_NUMBER, StandIn, basic, standin  # noqa: F401

KEY, SECRET = "SK" + "7b" * 16, "api-key-secret-0123456789"


@pytest.mark.parametrize("given, words", [
    ({}, "Twilio's API is off: set TWILIO_ACCOUNT_SID with TWILIO_AUTH_TOKEN (or with TWILIO_API_KEY and TWILIO_API_SECRET)."),
    ({"TWILIO_ACCOUNT_SID": ACCOUNT}, "set TWILIO_AUTH_TOKEN, or TWILIO_API_KEY and TWILIO_API_SECRET"),
    ({"TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_API_KEY": KEY}, "set TWILIO_API_SECRET"),
    ({"TWILIO_ACCOUNT_SID": "SK123", "TWILIO_AUTH_TOKEN": TOKEN}, "which is not an account SID"),
    ({"TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_AUTH_TOKEN": TOKEN, "IVR_LINE_NUMBER": "8564437701"}, "E.164"),
])
def test_without_what_it_needs_the_api_is_off_and_says_what_to_set(given, words):
    found = account(given)
    assert found.client is None and words in found.off


def test_the_shipped_line_number_is_the_seed_s_in_e164():
    assert load_flow(ROOT / "call_flows.yaml").number == LINE_NUMBER == "+18564437701"
    flow = load_flow(ROOT / "call_flows.yaml")
    assert account({"TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_AUTH_TOKEN": TOKEN}, flow).number == LINE_NUMBER
    assert account({"TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_AUTH_TOKEN": TOKEN,
                    "IVR_LINE_NUMBER": "+15555550188"}, flow).number == "+15555550188"


def test_ivr_check_refuses_a_line_number_not_in_e164(flow_dir):
    path = flow_dir / "call_flows.yaml"
    path.write_text(path.read_text().replace('number: "+18564437701"', 'number: "856-443-7701"'))
    _, problems = check_flow(path)
    (problem,) = [p for p in problems if p.is_error]
    assert "'856-443-7701' is not a phone number in E.164 form" in str(problem)
    assert str(problem).startswith(f"{path}:")


@pytest.mark.parametrize("url, words", [
    ("http://127.0.0.1:9", "not https"),
    ("ftp://twilio.example.org", "write a base URL"),
])
def test_production_talks_to_twilio_only_over_https(url, words):
    production = {"IVR_ENV": "production", "TWILIO_AUTH_TOKEN": TOKEN, "IVR_PUBLIC_URL": PUBLIC_URL,
                  "IVR_SECRET_KEY": "k", "TWILIO_API_URL": url}
    with pytest.raises(SettingsError, match="TWILIO_API_URL") as refused:
        load_settings(production)
    assert words in str(refused.value)
    assert load_settings({**production, "TWILIO_API_URL": "https://stand-in.example.org"})
    assert load_settings({"TWILIO_API_URL": url.replace("ftp", "http")})  # development: a stand-in


def test_the_default_is_twilio_s_own_api():
    assert load_settings({})["TWILIO_API_URL"] == "https://api.twilio.com"
    with pytest.raises(SettingsError, match="TWILIO_API_TIMEOUT"):
        load_settings({"TWILIO_API_TIMEOUT": "0"})


def test_an_api_key_pair_signs_in_instead_of_the_auth_token():
    server = StandIn(api_key=KEY, api_secret=SECRET).start()
    try:
        sid, _ = server.add_recording(0.1)
        keyed = account({"TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_API_KEY": KEY, "TWILIO_API_SECRET": SECRET,
                         "TWILIO_API_URL": server.url})
        assert recordings.delete(keyed, sid) is True and sid not in server.recordings
        wrong = account({"TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_API_KEY": KEY, "TWILIO_API_SECRET": "wrong",
                         "TWILIO_API_URL": server.url})
        with pytest.raises(TwilioFailed) as refused:
            recordings.delete(wrong, "RE" + "0" * 32)
        assert refused.value.status == 401 and "wrong" not in str(refused.value)
        assert server.problems == []
    finally:
        server.stop()


def raw(server: StandIn, method: str, path: str, body: str | None = None, auth: bool = True,
        credentials: tuple | None = None):
    """Send a request to the stand-in by hand (not through the line): its status."""
    signed_in = {"Authorization": basic(*(credentials or (server.account, server.token)))} if auth else {}
    request = urllib.request.Request(server.url + path, body.encode() if body is not None else None, method=method,
                                     headers={"Content-Type": "application/x-www-form-urlencoded", **signed_in})
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.parametrize("method, path, body, auth", [
    ("POST", "Calls.json", "To=%2B15551234567&From=%2B18564437701&Url=https://x.example/a&Bogus=1", True),
    ("POST", "Calls.json", "From=%2B18564437701&Url=https://x.example/a", True),  # no To
    ("POST", "Calls.json", "To=%2B15551234567&From=%2B18564437701&Timeout=soon", True),
    ("DELETE", "Recordings/RE123.json", None, True),  # not a RecordingSid
    ("DELETE", f"Recordings/RE{'0' * 32}.json", None, False),  # no credentials at all
    ("PUT", f"IncomingPhoneNumbers/PN{'0' * 32}.json", "VoiceUrl=https://x.example/voice", True),
    ("POST", f"IncomingPhoneNumbers/PN{'0' * 32}.json", "VoiceMethod=PUT", True),
    ("GET", "IncomingPhoneNumbers.json?Colour=blue", None, True),
])
def test_the_stand_in_refuses_what_twilio_s_description_does_not_allow(standin, method, path, body, auth):
    status = raw(standin, method, f"/2010-04-01/Accounts/{ACCOUNT}/{path}", body, auth)
    assert status == 400 and len(standin.problems) == 1, standin.problems


def test_the_stand_in_accepts_what_it_allows_and_checks_credentials(standin):
    ok = "To=%2B15551234567&From=%2B18564437701&Url=https://x.example/a&StatusCallbackEvent=answered"
    assert raw(standin, "POST", f"/2010-04-01/Accounts/{ACCOUNT}/Calls.json", ok) == 201
    assert raw(standin, "POST", f"/2010-04-01/Accounts/{ACCOUNT}/Calls.json", ok,
               credentials=(ACCOUNT, "another-token")) == 401
    other = "AC" + "2" * 32  # signed in, but asking about another account
    assert raw(standin, "POST", f"/2010-04-01/Accounts/{other}/Calls.json", ok) == 404
    assert standin.problems == [] and len(standin.calls) == 1
