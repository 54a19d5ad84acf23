"""`ivr twilio setup` and `ivr twilio doctor` against the contract stand-in: the line's number
pointed at IVR_PUBLIC_URL's /voice, /fallback and /status (POST), and its live configuration
compared with that, one line per problem."""
import pytest

from ivr.cli import main
from tests.conftest import PUBLIC_URL, ROOT
from tests.twilio_standin import LINE_NUMBER, api_settings, standin  # noqa: F401

OLD = {"voice_url": "http://old-host.example.org/voice", "voice_method": "GET", "voice_fallback_url": None,
       "status_callback": None}


def ivr(runner, standin, *args, input=None, **env):
    return runner.invoke(main, ["twilio", *args], input=input, env={
        "IVR_CALL_FLOWS": str(ROOT / "call_flows.yaml"), "IVR_PUBLIC_URL": PUBLIC_URL,
        **api_settings(standin), **env})


def test_setup_shows_the_change_and_makes_it_only_when_asked(runner, standin):
    sid = standin.add_number(LINE_NUMBER, **OLD)
    declined = ivr(runner, standin, "setup", input="n\n")
    assert declined.exit_code == 1 and "Nothing was changed." in declined.stdout
    out = declined.stdout
    assert f"{LINE_NUMBER} ({sid}) will change:" in out
    assert f"A call comes in (voice URL): http://old-host.example.org/voice -> {PUBLIC_URL}/voice" in out
    assert "A call comes in: method: GET -> POST" in out
    assert f"Primary handler fails (fallback URL): (not set) -> {PUBLIC_URL}/fallback" in out
    assert f"Call status changes (status URL): (not set) -> {PUBLIC_URL}/status" in out
    assert standin.numbers[sid]["voice_url"] == OLD["voice_url"]
    assert "UpdateIncomingPhoneNumber" not in standin.operations()

    made = ivr(runner, standin, "setup", input="y\n")
    assert made.exit_code == 0, made.output
    assert f"Done: calls to {LINE_NUMBER} now come to {PUBLIC_URL}/voice." in made.stdout
    number = standin.numbers[sid]
    assert (number["voice_url"], number["voice_method"]) == (f"{PUBLIC_URL}/voice", "POST")
    assert (number["voice_fallback_url"], number["voice_fallback_method"]) == (f"{PUBLIC_URL}/fallback", "POST")
    assert (number["status_callback"], number["status_callback_method"]) == (f"{PUBLIC_URL}/status", "POST")
    update = [s for s in standin.seen if s.operation == "UpdateIncomingPhoneNumber"][-1]
    assert update.form["VoiceUrl"] == [f"{PUBLIC_URL}/voice"] and standin.problems == []

    again = ivr(runner, standin, "setup", "--yes")
    assert again.exit_code == 0 and "nothing to change" in again.stdout
    assert ivr(runner, standin, "doctor").exit_code == 0


def test_setup_yes_skips_the_question(runner, standin):
    sid = standin.add_number(LINE_NUMBER, **OLD)
    made = ivr(runner, standin, "setup", "--yes")
    assert made.exit_code == 0 and "will change" in made.stdout and "Make this change" not in made.stdout
    assert standin.numbers[sid]["voice_url"] == f"{PUBLIC_URL}/voice"


def test_doctor_says_what_is_wrong_one_line_each(runner, standin):
    standin.add_number(LINE_NUMBER, voice_url="http://ivr.example.org/voice", voice_method="GET",
                       voice_fallback_url=None, status_callback=f"{PUBLIC_URL}/status-old")
    result = ivr(runner, standin, "doctor")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines == [
        f"{LINE_NUMBER}: A call comes in (voice URL) is http://ivr.example.org/voice: http, not https, so "
        f"calls' details travel unencrypted; the line expects {PUBLIC_URL}/voice",
        f"{LINE_NUMBER}: A call comes in (voice URL) is requested with GET; the line expects POST",
        f"{LINE_NUMBER}: no fallback URL: when the line fails, callers hear Twilio's error message; "
        f"the line expects {PUBLIC_URL}/fallback",
        f"{LINE_NUMBER}: Call status changes (status URL) is {PUBLIC_URL}/status-old; the line expects "
        f"{PUBLIC_URL}/status",
    ]
    assert "4 problem(s); `ivr twilio setup` fixes" in result.stderr
    assert [s.method for s in standin.seen] == ["GET"] and standin.problems == []


def test_doctor_names_a_twiml_app_that_takes_the_calls(runner, standin):
    app = "AP" + "5a" * 16
    standin.add_number(LINE_NUMBER, voice_url=f"{PUBLIC_URL}/voice", voice_fallback_url=f"{PUBLIC_URL}/fallback",
                       status_callback=f"{PUBLIC_URL}/status", voice_application_sid=app)
    result = ivr(runner, standin, "doctor")
    assert result.exit_code == 1 and f"calls go to TwiML app {app}" in result.stdout
    setup = ivr(runner, standin, "setup", "--yes")  # the URLs are right; the app is for the console
    assert setup.exit_code == 1 and "nothing to change" in setup.stdout and "'Webhook'" in setup.stderr


def test_the_number_must_be_the_account_s(runner, standin):
    standin.add_number("+15555550199")
    result = ivr(runner, standin, "doctor")
    assert result.exit_code == 1
    assert f"{LINE_NUMBER} is not a number of Twilio account {standin.account}" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("env, words", [
    ({"IVR_PUBLIC_URL": ""}, "IVR_PUBLIC_URL is not set"),
    ({"TWILIO_ACCOUNT_SID": ""}, "Twilio's API is off: set TWILIO_ACCOUNT_SID"),
    ({"IVR_LINE_NUMBER": "856-443-7701"}, "is not in E.164 form"),
])
def test_what_is_missing_is_said(runner, standin, env, words):
    result = ivr(runner, standin, "doctor", **env)
    assert result.exit_code == 1 and words in result.output and standin.seen == []


def test_twilio_failing_is_said_without_a_traceback(runner, standin):
    standin.add_number(LINE_NUMBER, **OLD)
    standin.fail("GET", "IncomingPhoneNumbers", 500)
    result = ivr(runner, standin, "setup", "--yes")
    assert result.exit_code == 1 and "Twilio refused to list the account's number" in result.output
    assert "HTTP 500" in result.output and "Traceback" not in result.output


def test_the_line_number_setting_overrides_the_flow_s(runner, standin):
    other = "+15555550188"
    sid = standin.add_number(other, **OLD)
    result = ivr(runner, standin, "setup", "--yes", IVR_LINE_NUMBER=other)
    assert result.exit_code == 0 and standin.numbers[sid]["voice_url"] == f"{PUBLIC_URL}/voice"
