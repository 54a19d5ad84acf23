"""Paths through a call that no test walked until mutation testing (`make mutation`) showed it.

Each test is a whole call through the real routes, as the caller or the counselor meets it:
the counselor's side of screening, a mistake in one menu and another in the next, keys after
a saved message, the Spanish apologies and goodbyes, and menu options staff may write.
"""
import json
import logging
import xml.etree.ElementTree as ET
from urllib.parse import urljoin

import pytest

from ivr import create_app, parts
from ivr.phone import Phone, client_post, sid
from tests.test_spanish import choose_spanish, in_spanish

DESK = ("+15555550100", "+15555550101")
BACKUP = ("+15555550110",)


@pytest.fixture
def logged(caplog):
    """The line's JSON log lines so far (logger ivr.calls, one per webhook request), parsed."""
    caplog.set_level(logging.INFO, logger="ivr.calls")
    return lambda: [json.loads(r.getMessage()) for r in caplog.records
                    if r.name == "ivr.calls" and r.getMessage().startswith("{")]


def to_voicemail(call) -> None:
    """Ask for a counselor, let both groups ring out: the voicemail notice."""
    call.press("0")
    call.ring_ends("no-answer")
    call.ring_ends("no-answer")
    assert call.waiting == "gather"


def leave_a_message(call) -> None:
    """The voicemail notice, then a message: "message saved"."""
    to_voicemail(call)
    call.stay_silent()
    call.leave_message(20)
    assert call.waiting == "gather"


def counselor_leg(call, keys: str | None) -> list:
    """The counselor's phone: answer the ring, hear the whisper, press keys (None: nothing).

    Returns the verbs the counselor's leg gets after the whisper, as Twilio would run them.
    """
    number = call.pending.find("Number")
    leg = {"CallSid": sid("CA"), "ParentCallSid": call.call_sid, "AccountSid": call.account,
           "From": call.called, "To": number.text, "Direction": "outbound-dial", "CallStatus": "in-progress"}
    url = urljoin(call.url, number.get("url"))
    status, body = call.post(url, leg, {})
    assert status == 200
    verbs = list(ET.fromstring(body))
    gather = verbs[0]
    assert gather.tag == "Gather" and gather.get("input") == "dtmf"
    assert gather.get("timeout") == "8"  # time to hear who is calling, then decide
    if keys is None:  # no key: Twilio runs what follows the Gather
        return verbs[1:]
    status, body = call.post(urljoin(url, gather.get("action")), {**leg, "Digits": keys}, {})
    assert status == 200
    return list(ET.fromstring(body))


# -- the counselor's side of screening ---------------------------------------------------------

@pytest.mark.parametrize("keys", ["2", "9", "*", "11"])
def test_a_counselor_who_declines_is_hung_up_on_and_the_caller_hears_the_next_ring(phone, keys):
    call = phone()
    call.dial_in()
    call.press("0")
    assert [v.tag for v in counselor_leg(call, keys)] == ["Hangup"]  # never bridged to the caller
    start = len(call.heard)
    call.ring_ends("completed", counselor_keys=keys)
    assert "still trying to reach a counselor" in call.said(start)
    assert call.waiting == "dial" and call.last_dial.numbers == BACKUP


def test_a_counselor_who_presses_nothing_is_hung_up_on(phone):
    call = phone()
    call.dial_in()
    call.press("0")
    assert [v.tag for v in counselor_leg(call, None)] == ["Hangup"]


def test_a_counselor_who_presses_1_is_bridged_and_the_caller_hears_goodbye_at_the_end(phone, flow):
    call = phone()
    call.dial_in()
    call.press("0")
    assert counselor_leg(call, "1") == []  # an empty answer: Twilio bridges the two legs
    call.ring_ends("completed", counselor_keys="1")
    assert call.heard[-2].text == flow.text("en", "goodbye") and call.heard[-1].kind == "hangup"


# -- 9 during the voicemail notice -------------------------------------------------------------

def test_9_during_the_voicemail_notice_is_the_guidance_not_a_recording(phone, flow):
    call = phone()
    call.dial_in()
    to_voicemail(call)
    start = len(call.heard)
    call.press("9")
    heard = call.said(start)
    assert call.waiting == "gather"
    assert heard.startswith(flow.text("en", "main_menu"))  # the choices, not the whole greeting
    assert flow.text("en", "welcome") not in heard
    assert not [h for h in call.heard[start:] if h.kind == "record"]


def test_another_key_during_the_voicemail_notice_starts_the_recording(phone, flow):
    call = phone()
    call.dial_in()
    to_voicemail(call)
    start = len(call.heard)
    call.press("5")
    assert call.waiting == "record" and call.said(start) == ""
    assert call.pending.get("maxLength") == str(flow.record_seconds)  # as long as the notice said


# -- one mistake, move on, another mistake -------------------------------------------------------

@pytest.mark.parametrize("mistake", ["press", "silence"])
def test_a_mistake_in_one_menu_does_not_count_in_the_next(phone, flow, mistake):
    call = phone()
    call.dial_in()
    wrong = {"press": lambda: call.press("6"), "silence": call.stay_silent}[mistake]
    apology = flow.text("en", "wrong_key" if mistake == "press" else "no_input")
    wrong()
    call.press("1")  # detox
    start = len(call.heard)
    wrong()
    assert call.waiting == "gather", "put through after one mistake in this menu"
    assert call.said(start) == f'{apology} {flow.text("en", "detox_menu")}'  # the choices again, not the whole topic
    wrong()  # the second mistake in this menu: a person
    assert call.waiting == "dial" and call.last_dial.numbers == DESK


def test_a_mistake_then_9_back_to_the_main_menu_starts_afresh(phone, flow):
    call = phone()
    call.dial_in()
    call.press("1")
    call.press("6")
    call.press("9")
    start = len(call.heard)
    call.press("6")
    assert call.waiting == "gather" and call.said(start).startswith(flow.text("en", "wrong_key"))


# -- after "message saved" -----------------------------------------------------------------------

def test_star_after_a_saved_message_says_it_again(phone, flow):
    call = phone()
    call.dial_in()
    leave_a_message(call)
    start = len(call.heard)
    call.press("*")
    assert call.said(start) == f'{flow.text("en", "message_saved")} {flow.text("en", "safety_short")}'
    assert call.waiting == "gather"
    call.press("*")
    call.press("*")  # repeating is never a mistake
    assert call.waiting == "gather"


def test_wrong_keys_after_a_saved_message_apologise_then_put_through(phone, flow):
    call = phone()
    call.dial_in()
    leave_a_message(call)
    start = len(call.heard)
    call.press("4")
    said = call.said(start)
    assert said.startswith(flow.text("en", "wrong_key")) and flow.text("en", "message_saved") in said
    assert call.waiting == "gather"
    start = len(call.heard)
    call.press("#")
    assert call.waiting == "dial" and call.last_dial.numbers == DESK
    assert flow.text("en", "put_through") in call.said(start)


def test_9_after_a_saved_message_is_the_guidance_and_silence_then_says_goodbye(phone, flow):
    call = phone()
    call.dial_in()
    leave_a_message(call)
    start = len(call.heard)
    call.press("9")
    assert call.said(start).startswith(flow.text("en", "main_menu"))
    start = len(call.heard)
    call.press("0")
    call.ring_ends("no-answer")
    call.ring_ends("no-answer")  # a message is saved already: no second voicemail
    assert flow.text("en", "voicemail_intro") not in call.said(start)
    assert f'{flow.text("en", "counselors_busy")} {flow.text("en", "message_saved")}' in call.said(start)
    start = len(call.heard)
    call.stay_silent()  # the goodbye, said in a short Gather (0 and 9 still work)...
    assert "counselor" in call.pending.get("hints").split(", ")  # ...and "counselor" too
    call.stay_silent()  # ...then the line hangs up
    assert call.said(start) == flow.text("en", "goodbye") and call.heard[-1].kind == "hangup"


# -- Spanish -------------------------------------------------------------------------------------

def test_a_spanish_wrong_key_and_silence_are_apologised_for_in_spanish(phone, flow):
    call = phone()
    choose_spanish(call)
    start = len(call.heard)
    call.press("6")
    said = in_spanish(call, start, flow)
    assert said.startswith(flow.text("es", "wrong_key")) and flow.text("es", "main_menu") in said
    call.press("2")  # rehab: a fresh menu
    start = len(call.heard)
    call.stay_silent()
    assert in_spanish(call, start, flow).startswith(flow.text("es", "no_input"))
    call.stay_silent()
    assert call.waiting == "dial"
    assert flow.text("es", "put_through") in in_spanish(call, start, flow)


def test_a_spanish_call_the_counselor_took_ends_with_the_spanish_goodbye(phone, flow):
    call = phone()
    choose_spanish(call)
    call.press("0")
    start = len(call.heard)
    call.ring_ends("completed", counselor_keys="1")
    assert in_spanish(call, start, flow) == flow.text("es", "goodbye")
    assert call.heard[-1].kind == "hangup"


def test_a_spanish_caller_silent_after_a_saved_message_hears_the_spanish_goodbye(phone, flow):
    call = phone()
    spanish = choose_spanish(call)
    leave_a_message(call)
    assert flow.text("es", "message_saved") in in_spanish(call, spanish, flow)
    start = len(call.heard)
    call.stay_silent()
    assert in_spanish(call, start, flow) == flow.text("es", "goodbye")
    call.stay_silent()
    assert call.heard[-1].kind == "hangup"


# -- menu options staff may write: voicemail, counselor, repeat; groups after groups ------------

def _edited(flow_dir, settings, old: str, new: str):
    """An app serving a copy of the shipped flow with one edit."""
    path = flow_dir / "call_flows.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return create_app({**settings, "IVR_CALL_FLOWS": str(path)})


DETOX_OPTIONS = '      "1": detox_withdrawal\n      "9": welcome\n'


@pytest.fixture
def options_app(flow_dir, settings):
    """The detox menu with 2: counselor, 3: voicemail and 4: repeat, as the YAML guide allows."""
    return _edited(flow_dir, settings, DETOX_OPTIONS,
                   DETOX_OPTIONS + '      "2": counselor\n      "3": voicemail\n      "4": repeat\n')


def test_an_option_back_to_the_same_menu_does_not_lengthen_the_path(flow_dir, settings):
    # The path (p=) is where the call has been: what the whisper and the callback list show.
    app = _edited(flow_dir, settings, DETOX_OPTIONS, DETOX_OPTIONS + '      "2": detox\n')
    call = Phone(client_post(app.test_client()))
    call.dial_in()
    call.press("1")
    call.press("2")
    call.press("2")
    from urllib.parse import parse_qs, urlsplit
    assert parse_qs(urlsplit(call.pending.get("action")).query)["p"] == ["welcome.detox"]


def test_the_path_keeps_its_last_menus_however_long_their_names(flow_dir, settings):
    long = "detox_" + "x" * 200  # menu names have no length limit
    path = flow_dir / "call_flows.yaml"
    path.write_text(path.read_text().replace('      "1": detox\n', f'      "1": {long}\n', 1)
                    .replace("  detox:\n", f"  {long}:\n", 1))
    app = create_app({**settings, "IVR_CALL_FLOWS": str(path)})
    call = Phone(client_post(app.test_client()))
    call.dial_in()
    for key in "1919191":
        call.press(key)
    from urllib.parse import parse_qs, urlsplit
    assert parse_qs(urlsplit(call.pending.get("action")).query)["p"] == [".".join(["welcome", long] * 4)]


def test_a_menu_with_words_in_one_language_only_does_not_trip_a_caller_in_another(flow_dir, settings):
    app = _edited(flow_dir, settings, "words: {en: [detox, detoxification], es: [desintoxicación, desintoxicacion, detox]}",
                  "words: [detox, detoxification]")  # a list: the line's first language only
    flow = parts.flow(app)
    call = Phone(client_post(app.test_client()))
    choose_spanish(call)
    start = len(call.heard)
    call.say("rehabilitación")  # detox (key 1) has no Spanish words to match; rehab (key 2) has
    assert call.said(start).startswith(flow.text("es", "rehab")) and call.waiting == "gather"


def test_a_menu_option_for_counselor_rings_the_desk(options_app, logged):
    flow = parts.flow(options_app)
    call = Phone(client_post(options_app.test_client()))
    call.dial_in()
    call.press("1")
    start = len(call.heard)
    call.press("2")
    assert call.waiting == "dial" and call.last_dial.numbers == DESK
    assert call.said(start) == flow.text("en", "connecting")
    assert (logged()[-1]["node"], logged()[-1]["outcome"]) == ("detox", "transfer:asked")  # as the caller asked


def test_a_menu_option_for_voicemail_gives_the_notice_then_records(options_app):
    flow = parts.flow(options_app)
    call = Phone(client_post(options_app.test_client()))
    call.dial_in()
    call.press("1")
    start = len(call.heard)
    call.press("3")
    assert call.said(start) == f'{flow.text("en", "safety_short")} {flow.text("en", "voicemail_intro")}'
    call.stay_silent()
    assert call.waiting == "record"


def test_a_menu_option_for_repeat_says_the_menu_again_in_full(options_app, logged):
    flow = parts.flow(options_app)
    call = Phone(client_post(options_app.test_client()))
    call.dial_in()
    call.press("1")
    call.press("6")  # one mistake; repeating clears it
    start = len(call.heard)
    call.press("4")
    assert call.said(start) == f'{flow.text("en", "detox")} {flow.text("en", "detox_menu")}'
    assert (logged()[-1]["node"], logged()[-1]["outcome"]) == ("detox", "repeated")
    call.press("6")
    assert call.waiting == "gather"


@pytest.mark.parametrize("key", ["6", "9"])
def test_after_hours_the_greetings_own_option_to_repeat_or_to_itself_says_it_all_again(flow_dir, settings, key):
    # "6": repeat, "9": the main menu itself: both the whole greeting, with when the desk opens.
    app = _edited(flow_dir, settings, '      "0": counselor\n', '      "0": counselor\n      "6": repeat\n      "9": welcome\n')
    from tests.conftest import SUNDAY_3AM
    app.config["IVR_NOW"] = SUNDAY_3AM
    call = Phone(client_post(app.test_client()))
    call.dial_in()
    greeting = call.said(0)
    assert "It opens again tomorrow at 8 AM" in greeting
    start = len(call.heard)
    call.press(key)
    assert call.said(start) == greeting and call.waiting == "gather"


@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_desk_that_never_opens_is_not_said_to_open_again(flow_dir, settings, lang):
    # No opening in the next two weeks (here: no weekly hours at all; ivr check warns of it):
    # the sentence saying when is left out, not said with nothing in it.
    app = _edited(flow_dir, settings, '  open:\n    mon-fri: "08:00-20:00"\n    sat: "09:00-13:00"\n', "  open: {}\n")
    flow = parts.flow(app)
    call = Phone(client_post(app.test_client()))
    choose_spanish(call) if lang == "es" else call.dial_in()
    notice = [h for h in call.heard if h.kind == "say" and h.text.startswith(("Our counselor", "Nuestra oficina"))]
    assert notice[-1].lang == flow.languages[lang].speech  # in the caller's language's voice
    assert "{opens}" in flow.text(lang, "after_hours") and notice[-1].text == {
        "en": "Our counselor desk is closed right now. Until then, press 0 to ring our on-call counselor. If they "
              "can't answer, you can leave a message, and we will call you back within one working day.",
        "es": "Nuestra oficina de consejeros está cerrada en este momento. Mientras tanto, oprima 0 para llamar a "
              "nuestro consejero de guardia. Si no puede atenderle, puede dejarnos un mensaje, y le devolveremos "
              "la llamada en un plazo de un día hábil."}[lang]
    call.press("0")
    assert call.waiting == "dial"


def test_a_message_pointed_at_another_prompt_says_that_prompt(flow_dir, settings):
    # messages: in the YAML lets staff give a purpose other words without renaming files.
    for lang, words in (("en", "That key does nothing here."), ("es", "Esa tecla no hace nada aquí.")):
        (flow_dir / "prompts" / lang / "oops.txt").write_text(words)
    path = flow_dir / "call_flows.yaml"
    path.write_text(path.read_text() + "\nmessages:\n  wrong_key: oops\n")
    app = create_app({**settings, "IVR_CALL_FLOWS": str(path)})
    call = Phone(client_post(app.test_client()))
    call.dial_in()
    start = len(call.heard)
    call.press("#")
    assert call.said(start) == f'That key does nothing here. {parts.flow(app).text("en", "main_menu")}'


def test_the_next_group_rings_from_its_first_number(flow_dir, settings):
    app = _edited(flow_dir, settings, '  backup:\n    ring: ["+15555550110"]\n',
                  '  backup:\n    ring: ["+15555550110", "+15555550111"]\n    order: in_turn\n')
    call = Phone(client_post(app.test_client()))
    call.dial_in()
    call.press("0")
    call.ring_ends("busy")
    assert call.last_dial.numbers == ("+15555550110",)
    call.ring_ends("no-answer")
    assert call.last_dial.numbers == ("+15555550111",)
    call.ring_ends("no-answer")
    assert call.waiting == "gather" and "can't answer right now" in call.said()


# -- crisis words, in process (test_crisis.py walks the same under gunicorn) ----------------------

@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_listed_crisis_word_and_paraphrase_is_answered_first(phone, flow, lang):
    from tests.test_crisis import PARAPHRASES
    for words in list(flow.languages[lang].crisis_words) + PARAPHRASES[lang]:
        call = phone()
        call.dial_in()
        if lang == "es":
            call.press("8")
        call.press("2")  # in the middle of a topic
        start = len(call.heard)
        call.say(words)
        assert call.said(start) == flow.text(lang, "crisis_now"), words
        call.stay_silent()
        assert call.waiting == "dial" and call.last_dial.numbers == DESK, words


@pytest.mark.parametrize("lang, words", [("en", "my friend is not breathing"), ("es", "sobredosis")])
def test_a_crisis_caller_nobody_answers_rings_the_crisis_line_never_voicemail(phone, flow, lang, words):
    call = phone()
    call.dial_in()
    call.press("1" if lang == "en" else "8")  # a topic, or Spanish
    call.say(words)
    assert call.after_silence == "Dial"  # silence rings at once, without asking the line again
    call.stay_silent()
    assert call.last_dial.numbers == DESK and call.last_dial.screened
    start = len(call.heard)
    call.ring_ends("no-answer")
    assert call.last_dial.numbers == BACKUP
    call.ring_ends("busy")
    assert call.said(start).endswith(flow.text(lang, "crisis_line"))
    assert flow.text(lang, "voicemail_intro") not in call.said(start)
    assert call.after_silence == "Dial"
    call.stay_silent()
    assert call.last_dial.numbers == ("+18002738255",) and not call.last_dial.screened
    assert call.last_dial.extra["timeout"] == "30"  # the longest ring
    start = len(call.heard)
    call.ring_ends("no-answer")  # the crisis line too: the guidance and the counselors again
    assert call.said(start) == f'{flow.text(lang, "safety_short")} {flow.text(lang, "connecting")}'
    assert call.last_dial.numbers == DESK
    call.ring_ends("no-answer")
    call.ring_ends("no-answer")
    call.stay_silent()
    start = len(call.heard)
    call.ring_ends("completed")  # the crisis line took it
    assert call.said(start) == flow.text(lang, "goodbye") and call.heard[-1].kind == "hangup"


def test_a_spanish_crisis_call_is_whispered_as_one_in_spanish_then_english(phone, flow):
    call = phone()
    call.dial_in()
    call.press("8")
    call.say("sobredosis")
    call.press("1")
    whisper = call.counselor_answers("1")
    assert whisper[0].text.startswith(flow.text("es", "crisis_whisper") + " ")
    assert whisper[1].text.startswith(flow.text("en", "crisis_whisper") + " ")


def test_a_line_that_waits_longer_waits_longer_everywhere_it_asks(flow_dir, settings):
    app = _edited(flow_dir, settings, "  wait_seconds: 6", "  wait_seconds: 9")
    call = Phone(client_post(app.test_client()))
    call.dial_in()
    assert call.pending.get("timeout") == "9"
    leave_a_message(call)
    assert call.pending.get("timeout") == "9"  # message saved: time for 0 or 9
    assert "counselor" in call.pending.get("hints").split(", ")


def test_a_ring_in_turn_and_a_group_gone_from_the_flow_are_logged_as_what_they_were(flow_dir, settings, logged):
    app = _edited(flow_dir, settings, "    order: together\n", "    order: in_turn\n")
    call = Phone(client_post(app.test_client()))
    call.dial_in()
    call.press("0")
    call.ring_ends("no-answer")
    assert call.last_dial.numbers == DESK[1:]
    # A ring of a group that was in the flow when the call began, gone from it since (an edit went live).
    client = app.test_client()
    body = client.post("/voice/dialed?n=detox&l=en&g=gone&i=0",
                       data={"CallSid": call.call_sid, "DialCallStatus": "no-answer"}).get_data(as_text=True)
    assert [n.text for n in ET.fromstring(body).find("Dial").findall("Number")] == list(DESK[:1])
    assert [(s["node"], s["outcome"]) for s in logged() if s["route"] == "/voice/dialed"] == [
        ("welcome", "ring:no-answer"), ("detox", "transfer:again")]


def test_a_key_during_the_crisis_guidance_rings_with_the_topic_in_the_whisper(phone, flow):
    call = phone()
    call.dial_in()
    call.press("2")
    call.press("1")  # rehab, then its detail
    call.say("quiero morir")
    call.press("3")
    assert call.waiting == "dial" and call.last_dial.numbers == DESK
    whisper = call.counselor_answers("1")
    title = flow.menus["rehab_detail"].title
    assert whisper[0].text == f"Crisis call. Recovery Helpline call, about {title}. Press 1 to take it."


# -- keys said as words ----------------------------------------------------------------------------

NINE_OPTIONS = DETOX_OPTIONS.replace('      "9": welcome\n', '') + (
    '      "2": counselor\n      "3": voicemail\n      "4": repeat\n      "5": rehab\n      "6": aftercare\n'
    '      "7": family\n      "8": mental_health\n      "9": welcome\n')
# What each key leads to from that detox menu: the start of what is said next, or a ring.
AFTER_KEY = {"0": "ring", "1": "detox_withdrawal", "2": "ring", "3": "safety_short", "4": "detox",
             "5": "rehab", "6": "aftercare", "7": "family", "8": "mental_health", "9": "main_menu"}
SPOKEN = {"en": "zero one two three four five six seven eight nine".split(),
          "es": "cero uno dos tres cuatro cinco seis siete ocho nueve".split()}


@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_key_can_be_said_as_a_word_or_a_digit(flow_dir, settings, lang):
    app = _edited(flow_dir, settings, DETOX_OPTIONS, NINE_OPTIONS)
    flow = parts.flow(app)
    client = app.test_client()
    for key, where in AFTER_KEY.items():
        for said in (SPOKEN[lang][int(key)], key, f"{SPOKEN[lang][int(key)]} please"):
            call = Phone(client_post(client))
            call.dial_in()
            if lang == "es":
                call.press("8")
            call.press("1")
            start = len(call.heard)
            call.say(said)
            if where == "ring":
                assert call.waiting == "dial", (key, said)
            else:
                assert call.said(start).startswith(flow.text(lang, where)), (key, said)


# -- how long the line waits, and what it expects to hear ------------------------------------------

def test_each_step_waits_as_long_as_it_says(phone, flow):
    call = phone()
    call.dial_in()
    assert call.pending.get("timeout") == str(flow.wait_seconds) == "6"
    to_voicemail(call)
    assert call.pending.get("timeout") == "2"  # the notice: a moment for 0 or 9, then the tone
    call.stay_silent()
    assert call.pending.get("maxLength") == str(flow.record_seconds) == "120"
    call.leave_message(20)
    assert call.pending.get("timeout") == "6"  # message saved: time for 0 or 9
    call.stay_silent()
    assert call.pending.get("timeout") == "1"  # the goodbye: a second for 0 or 9, then it hangs up


def test_the_menus_listen_for_the_words_that_lead_on(phone, flow):
    call = phone()
    call.dial_in()
    hints = call.pending.get("hints").split(", ")
    for word in ("counselor", "help", "repeat", "detox", "rehabilitation", "español"):
        assert word in hints
    assert "withdrawal" not in hints and "consejero" not in hints  # another menu's, another language's
    call.press("1")
    hints = call.pending.get("hints").split(", ")
    assert "withdrawal" in hints and "counselor" in hints and "español" not in hints


def test_the_other_languages_are_offered_right_after_the_welcome(phone, flow):
    call = phone()
    call.dial_in()
    says = [h for h in call.heard if h.kind == "say"]
    assert says[0].text == flow.text("en", "welcome")
    assert (says[1].text, says[1].lang) == (flow.text("es", "language_offer"), "es-US")
    assert says[2].text == flow.text("en", "safety")


# -- the end of a ring ---------------------------------------------------------------------------

def test_a_ring_twilio_reports_answered_after_the_counselors_1_was_a_talk(phone, flow):
    call = phone()
    call.dial_in()
    call.press("0")
    call.counselor_answers("1")
    start = len(call.heard)
    call.ring_ends("answered")
    assert call.said(start) == flow.text("en", "goodbye") and call.heard[-1].kind == "hangup"


@pytest.mark.parametrize("seconds,talked", [(44, False), (45, True)])
def test_a_leg_of_45_seconds_or_more_was_a_talk_even_without_a_1_on_record(phone, flow, seconds, talked):
    call = phone()
    call.dial_in()
    call.press("0")
    start = len(call.heard)
    call.ring_ends("completed", duration=seconds)
    assert (call.heard[-1].kind == "hangup") is talked
    assert (call.said(start) == flow.text("en", "goodbye")) is talked


@pytest.mark.parametrize("asks", [lambda call: call.say("counselor"), lambda call: call.press("0")])
def test_asking_for_a_counselor_during_the_voicemail_notice_rings_again(phone, asks):
    call = phone()
    call.dial_in()
    to_voicemail(call)
    asks(call)
    assert call.waiting == "dial" and call.last_dial.numbers == DESK


# The crisis guidance rings on a key at once, or on silence once it is said: both the same ring.
KEY_OR_SILENCE = {"a key": lambda call: call.press("1"), "silence": lambda call: call.stay_silent()}


# Silence at the voicemail notice or in the crisis guidance falls through to the Record or the
# Dial in the same document. A call whose document came from an older version of the line (in
# progress across an upgrade) may still post its silence to the line: the same verb answers.
@pytest.mark.parametrize("place,verb,step_is", [("_voicemail", "Record", ("_voicemail", "recording")),
                                               ("_crisis", "Dial", ("detox", "rang")),
                                               ("_lifeline", "Dial", ("detox", "rang"))])
def test_silence_posted_at_the_notice_or_the_crisis_guidance_gets_what_follows_there(client, flow, logged, place,
                                                                                      verb, step_is):
    sid = "CA" + "2" * 32
    body = client.post(f"/voice/silence?n={place}&l=en&x=1&p=detox", data={"CallSid": sid})
    step = logged()[-1]
    assert (step["node"], step["outcome"]) == step_is
    doc = ET.fromstring(body.get_data(as_text=True))
    assert doc[0].tag == verb  # (a Record is followed by a Redirect, for a recording that never starts)
    if verb == "Record":
        assert doc[0].get("maxLength") == str(flow.record_seconds) and "n=_voicemail" in doc[0].get("action")
    else:
        numbers = [n.text for n in doc[0].findall("Number")]
        assert numbers == (list(DESK) if place == "_crisis" else ["+18002738255"])
        assert "n=detox" in doc[0].get("action")  # back where the call was


@pytest.mark.parametrize("then", KEY_OR_SILENCE)
def test_after_hours_the_crisis_guidance_rings_on_call(app, phone, flow, then):
    from tests.conftest import SUNDAY_3AM
    app.config["IVR_NOW"] = SUNDAY_3AM
    call = phone()
    call.dial_in()
    call.say("overdose")
    KEY_OR_SILENCE[then](call)
    assert call.waiting == "dial" and call.last_dial.numbers == ("+15555550120",)


# -- what each step records for the staff report (`ivr report` counts these outcomes) -------------

STEP_SCRIPTS = {
    "menus": (lambda c: (c.press("1"), c.press("*"), c.press("6"), c.press("9"), c.stay_silent(), c.press("8"),
                         c.say("english"), c.press("0")),
              [("voice", "welcome", "greeted"), ("answer", "detox", "chose"), ("answer", "detox", "repeated"),
               ("answer", "detox", "wrong_key"), ("answer", "welcome", "chose"),
               ("silence", "welcome", "no_input"), ("answer", "welcome", "language"),
               ("answer", "welcome", "language"), ("answer", "welcome", "transfer:asked")]),
    "declined, then a message": (
        lambda c: (c.press("0"), c.ring_ends("completed", counselor_keys="2"), c.ring_ends("busy"), c.press("5"),
                   c.leave_message(9), c.press("*"), c.press("4"), c.stay_silent()),
        [("voice", "welcome", "greeted"), ("answer", "welcome", "transfer:asked"), ("whisper", "", "whisper"),
         ("screened", "", "declined"), ("dialed", "welcome", "ring:completed"),
         ("dialed", "_voicemail", "voicemail"), ("answer", "_voicemail", "recording"),
         ("recorded", "_saved", "message"), ("answer", "_saved", "repeated"), ("answer", "_saved", "wrong_key"),
         ("silence", "_saved", "goodbye")]),
    "talked": (
        lambda c: (c.press("3"), c.say("counselor"), c.ring_ends("completed", counselor_keys="1")),
        [("voice", "welcome", "greeted"), ("answer", "aftercare", "chose"), ("answer", "aftercare", "transfer:asked"),
         ("whisper", "", "whisper"), ("screened", "", "accepted"), ("dialed", "aftercare", "talked")]),
    "crisis": (
        lambda c: (c.press("2"), c.say("overdose"), c.press("5"), c.ring_ends("no-answer"),
                   c.ring_ends("no-answer"), c.press("1"), c.ring_ends("no-answer"),
                   c.ring_ends("completed", counselor_keys="1")),
        [("voice", "welcome", "greeted"), ("answer", "rehab", "chose"), ("answer", "rehab", "transfer:crisis"),
         ("answer", "rehab", "rang"), ("dialed", "rehab", "ring:no-answer"), ("dialed", "rehab", "crisis_line"), ("answer", "rehab", "rang"),
         ("dialed", "rehab", "transfer:again"), ("whisper", "", "whisper"), ("screened", "", "accepted"),
         ("dialed", "rehab", "talked")]),
    "a counselor from the voicemail notice": (
        lambda c: (to_voicemail(c), c.press("0"), c.ring_ends("completed", counselor_keys="1")),
        [("voice", "welcome", "greeted"), ("answer", "welcome", "transfer:asked"),
         ("dialed", "welcome", "ring:no-answer"), ("dialed", "_voicemail", "voicemail"),
         ("answer", "_voicemail", "transfer:asked"), ("whisper", "", "whisper"), ("screened", "", "accepted"),
         ("dialed", "_voicemail", "talked")]),
    "a message, a wrong key, then nobody answers": (
        lambda c: (leave_a_message(c), c.press("3"), c.press("0"), c.ring_ends("no-answer"), c.ring_ends("no-answer"),
                   c.press("3")),
        [("voice", "welcome", "greeted"), ("answer", "welcome", "transfer:asked"),
         ("dialed", "welcome", "ring:no-answer"), ("dialed", "_voicemail", "voicemail"),
         ("recorded", "_saved", "message"), ("answer", "_saved", "wrong_key"), ("answer", "_saved", "transfer:asked"),
         ("dialed", "_saved", "ring:no-answer"), ("dialed", "_saved", "voicemail"),
         ("answer", "_saved", "wrong_key")]),  # saved again: its own count, one apology before a person
    "crisis, then the crisis line takes it": (
        lambda c: (c.say("overdose"), c.stay_silent(), c.ring_ends("no-answer"), c.ring_ends("no-answer"),
                   c.stay_silent(), c.ring_ends("completed")),
        [("voice", "welcome", "greeted"), ("answer", "welcome", "transfer:crisis"),
         ("dialed", "welcome", "ring:no-answer"), ("dialed", "welcome", "crisis_line"),
         ("dialed", "welcome", "talked")]),
    "no sound, twice": (
        lambda c: (to_voicemail(c), c.stay_silent(), c.leave_message(0), c.stay_silent(), c.leave_message(0),
                   c.press("2"), c.press("#"), c.press("#")),
        [("voice", "welcome", "greeted"), ("answer", "welcome", "transfer:asked"),
         ("dialed", "welcome", "ring:no-answer"), ("dialed", "_voicemail", "voicemail"),
         ("recorded", "_voicemail", "voicemail"), ("recorded", "welcome", "chose"), ("answer", "rehab", "chose"),
         ("answer", "rehab", "wrong_key"), ("answer", "rehab", "transfer:tries")]),
}


@pytest.mark.parametrize("script", STEP_SCRIPTS)
def test_each_step_is_recorded_with_where_the_call_was_and_what_happened(phone, logged, script):
    act, expected = STEP_SCRIPTS[script]
    call = phone()
    call.dial_in()
    act(call)
    lines = logged()
    # Requests that took no step (the recording and status callbacks) have their line too, with no outcome.
    steps = [s for s in lines if s["outcome"]]
    assert all(s["route"] in ("/voice/recording", "/status") for s in lines if not s["outcome"])
    assert [(s["route"].rsplit("/", 1)[-1], s["node"], s["outcome"]) for s in steps] == expected


@pytest.mark.parametrize("place", ["_crisis", "_lifeline"])
def test_a_key_in_the_crisis_guidance_of_a_url_without_a_path_still_rings(client, place):
    # A URL the line wrote before it carried the path (a call in progress across an upgrade).
    body = client.post(f"/voice/answer?n={place}&l=en&x=1", data={"CallSid": "CA" + "1" * 32, "Digits": "4"})
    dial = ET.fromstring(body.get_data(as_text=True)).find("Dial")
    assert dial is not None and "welcome" in dial.get("action")
    assert [n.text for n in dial.findall("Number")] == (list(DESK) if place == "_crisis" else ["+18002738255"])


@pytest.mark.parametrize("then", KEY_OR_SILENCE)
def test_a_spanish_crisis_caller_rings_the_spanish_desk(flow_dir, settings, then):
    _edited(flow_dir, settings, "  backup:\n",
            '  desk_es:\n    ring: ["+15555550130"]\n    seconds: 20\n    then: backup\n  backup:\n')
    app = _edited(flow_dir, settings, "routing:\n  open: desk\n", 'routing:\n  open: desk\n  es: {open: desk_es}\n')
    call = Phone(client_post(app.test_client()))
    choose_spanish(call)
    call.say("sobredosis")
    KEY_OR_SILENCE[then](call)
    assert call.waiting == "dial" and call.last_dial.numbers == ("+15555550130",)


# -- test_crisis.py's gunicorn walks of messages, in process ---------------------------------------

def _call_in(client, lang: str) -> Phone:
    call = Phone(client_post(client))
    call.dial_in()
    if lang == "es":
        call.press("8")
    return call


@pytest.mark.parametrize("lang", ["en", "es"])
def test_with_the_store_down_a_message_is_never_called_saved_and_silence_rings(settings, flow, lang, logged):
    from tests.test_store_down import unreachable_line
    call = _call_in(unreachable_line(settings).test_client(), lang)
    to_voicemail(call)
    call.stay_silent()
    start = len(call.heard)
    call.leave_message(25)
    assert call.said(start) == f"{flow.text(lang, 'not_saved')} {flow.text(lang, 'safety_short')}"
    start = len(call.heard)
    call.press("*")
    assert call.said(start) == f"{flow.text(lang, 'not_saved')} {flow.text(lang, 'safety_short')}"
    start = len(call.heard)
    call.press("3")
    assert call.said(start).startswith(flow.text(lang, "wrong_key")) and call.waiting == "gather"
    call.stay_silent()  # a person is the only promise left (not a second try at the message)
    assert call.waiting == "dial" and call.last_dial.numbers == DESK
    steps = logged()
    assert [(s["node"], s["outcome"]) for s in steps if s["route"] == "/voice/recorded"] == [("_unsaved", "not_saved")]
    assert (steps[-1]["route"], steps[-1]["node"], steps[-1]["outcome"]) == ("/voice/silence", "_unsaved",
                                                                               "transfer:again")


@pytest.mark.parametrize("stored", [True, False])
def test_a_message_after_a_silent_recording_starts_its_own_count_of_mistakes(settings, flow, stored):
    from tests.test_store_down import unreachable_line
    app = create_app(settings) if stored else unreachable_line(settings)
    call = _call_in(app.test_client(), "en")
    to_voicemail(call)
    assert "counselor" in call.pending.get("hints").split(", ")  # the notice hears "counselor" too
    call.stay_silent()
    call.leave_message(0)  # no sound: the notice once more
    call.stay_silent()
    start = len(call.heard)
    call.leave_message(20)
    assert call.said(start).startswith(flow.text("en", "message_saved" if stored else "not_saved"))
    start = len(call.heard)
    call.press("3")  # the first mistake after the message: an apology, not yet a person
    assert call.said(start).startswith(flow.text("en", "wrong_key")) and call.waiting == "gather"


@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_recording_without_sound_gets_the_notice_once_more_then_the_guidance(client, flow, lang):
    call = _call_in(client, lang)
    to_voicemail(call)
    call.stay_silent()
    start = len(call.heard)
    call.leave_message(0)
    assert call.said(start) == " ".join(flow.text(lang, p) for p in ("no_message", "safety_short", "voicemail_intro"))
    assert call.pending.get("timeout") == "2"
    call.stay_silent()
    start = len(call.heard)
    call.leave_message(0)
    assert call.said(start) == f"{flow.text(lang, 'no_message')} {flow.text(lang, 'main_menu')}"
    assert call.waiting == "gather"
    call.press("3")
    assert flow.text(lang, "aftercare") in call.said(start)


@pytest.mark.parametrize("fresh_start", ["*", "8", "repeat"])
def test_asking_to_hear_it_again_or_another_language_forgives_a_mistake(phone, fresh_start):
    call = phone()
    call.dial_in()
    call.press("6")
    call.say(fresh_start) if fresh_start == "repeat" else call.press(fresh_start)
    call.press("6")
    assert call.waiting == "gather", "one mistake before and one after: still one mistake"
    call.press("6")
    assert call.waiting == "dial"


def test_hearing_the_saved_message_notice_again_forgives_a_mistake(phone):
    call = phone()
    call.dial_in()
    leave_a_message(call)
    call.press("6")
    call.press("*")
    call.press("6")
    assert call.waiting == "gather"


@pytest.mark.parametrize("then", KEY_OR_SILENCE)
def test_the_crisis_guidance_rings_a_desk_that_rings_in_turn_from_its_first_number(flow_dir, settings, then):
    app = _edited(flow_dir, settings, "    order: together\n", "    order: in_turn\n")
    call = Phone(client_post(app.test_client()))
    call.dial_in()
    call.say("he is not breathing")
    KEY_OR_SILENCE[then](call)
    assert call.waiting == "dial" and call.last_dial.numbers == DESK[:1]
    call.ring_ends("no-answer")
    assert call.last_dial.numbers == DESK[1:]


# -- where crisis matching stops: ordinary sentences that only look like a crisis phrase ----------

@pytest.mark.parametrize("words", [
    "I want to see that movie die hard",  # three words between "want to" and "die": too far apart
    "it took much too long to get here",  # "took too much" needs its words in order
    "he's responding well to treatment and not using anymore",  # "not responding", but backwards
    "that's odd",  # "od" is heard only as itself
])
def test_an_ordinary_sentence_near_a_crisis_phrase_is_not_a_crisis(phone, flow, words):
    call = phone()
    call.dial_in()
    call.press("1")
    start = len(call.heard)
    call.say(words)
    assert flow.text("en", "crisis_now") not in call.said(start)
    assert call.said(start).startswith(flow.text("en", "wrong_key"))


@pytest.mark.parametrize("words", ["I want to just die", "I want to just really die", "he overdosed"])
def test_a_crisis_phrase_with_a_word_or_two_between_or_an_ending_is_a_crisis(phone, flow, words):
    call = phone()
    call.dial_in()
    call.press("1")
    start = len(call.heard)
    call.say(words)
    assert call.said(start) == flow.text("en", "crisis_now")


def test_a_staff_added_crisis_word_ending_in_e_is_heard_with_ing(flow_dir, settings):
    app = _edited(flow_dir, settings, "        overdose, overdosing,", "        choke, overdose, overdosing,")
    flow = parts.flow(app)
    call = Phone(client_post(app.test_client()))
    call.dial_in()
    start = len(call.heard)
    call.say("he is choking")
    assert call.said(start) == flow.text("en", "crisis_now")
