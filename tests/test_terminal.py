"""`ivr call`: a phone in the terminal, through the real routes in process."""
from ivr import db
from ivr.cli import main
from tests.conftest import CHRISTMAS, ROOT, SUNDAY_3AM, WEEKDAY_MORNING

FLOW = str(ROOT / "call_flows.yaml")


def call(runner, *args, **kwargs):
    """Run `ivr call` on the shipped flow."""
    return runner.invoke(main, ["call", FLOW, *args], catch_exceptions=False, **kwargs)


def flat(text: str) -> str:
    """Output with the terminal's line wrapping undone."""
    return " ".join(text.split())


def test_in_hours_scripted_call_reaches_the_desk_and_a_counselor_takes_it(runner):
    result = call(runner, "--at", WEEKDAY_MORNING, "--keys", "1,*,0,answer")
    lines = result.output.splitlines()
    out = flat(result.output)
    assert result.exit_code == 0, out
    assert lines[0].startswith("[en-US] Thank you for calling the Recovery Helpline.")
    assert "[es-US] Para español, oprima 8" in out
    assert "closed right now" not in out
    assert "> your turn: press a key" in out
    assert out.count("[en-US] Detox is the first stage of recovery.") == 2  # heard, then repeated by *
    assert "Ringing counselor desk: +1 555-555-0100, +1 555-555-0101 (screened), for 25 s" in out
    assert "> ringing: a = a counselor answers and presses 1" in out
    assert "counselor hears: Recovery Helpline call, about detox. Press 1 to take it." in out
    assert out.index("Thank you for calling the Recovery Helpline; please take care of yourself") > out.index("counselor presses 1")
    assert lines[-2:] == ["(the line hangs up)", "-- the call has ended --"]
    assert all(len(line) <= 100 for line in lines if line.startswith("[") or line.startswith(" " * 8))


def test_after_hours_call_rings_on_call_then_takes_a_message(runner, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'staff.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    result = call(runner, "--at", SUNDAY_3AM, "--keys", "0,noanswer,silence,message")
    out = flat(result.output)
    assert result.exit_code == 0, out
    assert "[en-US] Our counselor desk is closed right now. It opens again tomorrow at 8 AM." in out
    assert "Ringing counselor on_call: +1 555-555-0120 (screened), for 25 s" in out
    assert "(recording a message: up to 120 s, # ends it)" in out
    assert "> recording: m = speak a message, s = say nothing" in out
    assert "Your message is saved" in out
    assert "-- end of the script; the call was waiting (gather); you hang up --" in out
    rows = db.list_callbacks(db.connect(url))
    assert len(rows) == 1 and rows[0]["recording_seconds"] == 15 and rows[0]["path"] == "welcome"


def test_a_time_without_offset_is_the_desks_time(runner):
    result = call(runner, "--at", CHRISTMAS[:16], "--keys", "hangup")
    assert "It opens again tomorrow at 9 AM." in flat(result.output)
    assert "(you hang up)" in result.output


def test_spanish_call_starts_in_spanish_and_leads_on_when_busy(runner):
    result = call(runner, "--at", WEEKDAY_MORNING, "--lang", "es", "--keys", "consejero,busy")
    out = flat(result.output)
    assert result.exit_code == 0, out
    assert out.splitlines()[0].startswith("[es-US] Gracias por llamar")
    assert "[en-US] For English, press 7." in out
    assert "Para español" not in out
    assert '(you say "consejero")' in out
    assert "[es-US] Le comunico ahora con un consejero" in out
    assert "Ringing counselor backup: +1 555-555-0110 (screened)" in out


def test_words_and_a_declining_counselor(runner):
    result = call(runner, "--at", WEEKDAY_MORNING, "--keys", "I want to hear about rehab,0,d")
    out = flat(result.output)
    assert '(you say "I want to hear about rehab") [en-US] Once detox is complete and the body is steady, ' \
        'rehab takes over.' in out
    assert "counselor presses 2" in out
    assert "Ringing counselor backup" in out  # the desk's counselor declined: the backup rings


def test_interactive_keys_silence_and_hanging_up(runner):
    result = call(runner, "--at", WEEKDAY_MORNING, input="2\n\n\n")
    out = result.output
    assert result.exit_code == 0, out
    assert "(you press 2)" in out
    assert out.count("(you say nothing)") == 2
    assert "Sorry, I didn't hear a choice." in out
    assert "Ringing counselor desk" in out  # two silences: put through
    assert out.rstrip().endswith("(you hang up)")  # end of input: the caller hangs up


def test_a_ring_outcome_that_does_not_exist_is_refused(runner):
    result = runner.invoke(main, ["call", FLOW, "--at", WEEKDAY_MORNING, "--keys", "0,maybe"])
    assert result.exit_code == 1
    assert "'maybe' is not a ring outcome; use answer, decline, voicemail, noanswer or busy" in result.output


def test_a_language_the_flow_does_not_speak_is_refused(runner):
    result = runner.invoke(main, ["call", FLOW, "--lang", "fr", "--keys", "0"])
    assert result.exit_code == 1
    assert "--lang fr is not a language of" in result.output and "it speaks en, es" in result.output


def test_voice_route_ignores_a_language_the_flow_does_not_speak(phone):
    call_ = phone(voice_path="/voice?l=xx")
    call_.dial_in()
    assert call_.heard[0].lang == "en-US"


def test_on_a_server_with_signatures_the_terminal_signs_like_twilio(runner, monkeypatch):
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "a-real-looking-token")
    monkeypatch.setenv("IVR_PUBLIC_URL", "https://ivr.example.org")
    result = call(runner, "--at", WEEKDAY_MORNING, "--keys", "2,0,answer")
    assert result.exit_code == 0, result.output
    assert "counselor hears: Recovery Helpline call, about rehab." in result.output
    assert result.output.splitlines()[-1] == "-- the call has ended --"
