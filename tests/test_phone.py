"""The phone's parts on their own: its errors are the line's, and one transcript serves both phones."""
import pytest

from ivr.config import LineError
from ivr.phone import CallDropped, Heard, NotWaiting, Phone, PositionError
from ivr.phone.transcript import BROWSER, TERMINAL, Transcript

DESK_RING = Heard("dial", numbers=("+15555550100", "+15555550101"), screened=True,
                  extra={"timeout": "25", "action": "/voice/dialed?n=welcome&l=en&g=desk"})


def test_a_gesture_the_call_does_not_wait_for_is_a_line_error_saying_what_it_waits_for(phone):
    call = phone()
    call.dial_in()
    with pytest.raises(NotWaiting, match="the call is waiting for gather, not dial") as refused:
        call.ring_ends("no-answer")
    assert isinstance(refused.value, LineError) and not isinstance(refused.value, AssertionError)


def test_a_line_that_answers_with_an_error_drops_the_call_as_a_line_error():
    call = Phone(lambda url, form, headers: (500, "oops"))
    with pytest.raises(CallDropped, match="/voice answered 500: Twilio would play an application error") as dropped:
        call.dial_in()
    assert isinstance(dropped.value, LineError) and not isinstance(dropped.value, AssertionError)


def test_a_position_that_is_not_a_phone_s_is_a_line_error(phone):
    with pytest.raises(PositionError, match="the call's ids are not ones a phone makes") as refused:
        Phone.resume(phone().post, {"call_sid": "CA../etc", "account": "AC1", "url": "/voice",
                                    "waiting": None, "pending": None, "verbs": []})
    assert isinstance(refused.value, LineError)


def test_a_call_resumed_from_its_position_goes_on_where_it_stood(phone, flow):
    first = phone()
    first.dial_in()
    second = Phone.resume(first.post, first.position())
    assert (second.call_sid, second.waiting, second.url) == (first.call_sid, "gather", first.url)
    second.press("1")
    assert second.said().startswith(flow.text("en", "detox"))


def test_one_reading_of_a_ring_in_each_phone_s_words(flow):
    assert Transcript(flow, BROWSER).line(DESK_RING).text == (
        "Ringing counselor desk (+15555550100, +15555550101) for 25 seconds; screened: the counselor "
        "hears who is calling and presses 1 to take it.")
    assert Transcript(flow, TERMINAL).line(DESK_RING).text == (
        "Ringing counselor desk: +1 555-555-0100, +1 555-555-0101 (screened), for 25 s")


def test_the_transcript_names_the_prompt_a_line_came_from_and_skips_what_nobody_hears(flow):
    transcript = Transcript(flow, BROWSER)
    heard = [Heard("say", flow.text("en", "main_menu"), "en-US"), Heard("pause"), Heard("wait", "silence")]
    (line,) = transcript.lines(heard)
    assert (line.kind, line.lang, transcript.prompt(line.text)) == ("say", "en-US", "main_menu")
    assert transcript.prompt("words no prompt has") is None


def test_each_phone_says_what_the_person_did_in_its_own_words(flow):
    assert Transcript(flow, BROWSER).did("press", keys="5") == "You press 5."
    assert Transcript(flow, TERMINAL).did("say", words="detox") == '  (you say "detox")'
