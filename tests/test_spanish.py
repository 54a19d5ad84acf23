"""The whole line in Spanish: every topic, the menus, the transfer and the voicemail notice."""
import shutil
from urllib.parse import parse_qs, urlsplit

import pytest

from ivr import create_app, db
from ivr.call import TOPIC_WORD
from ivr.cli import main
from ivr.phone import Phone, client_post
from ivr.voices import LANGUAGES
from tests.conftest import SUNDAY_3AM

TOPICS = {"1": ("detox", "detox_withdrawal"), "2": ("rehab", "rehab_detail"),
          "3": ("aftercare", "aftercare_detail"), "5": ("family", "choosing")}


def english_texts(flow) -> set:
    """Every English prompt, so none can slip into a Spanish call."""
    return {text for (code, _), text in flow.prompts.items() if code == "en"}


def in_spanish(call, since: int, flow) -> str:
    """Everything said since a point, checked to be Spanish speech with no English prompt.

    The one English line allowed is the main menu's "For English, press 7": an offer to go
    back is made in the language it offers.
    """
    offer = flow.text("en", "language_offer")
    says = [h for h in call.heard[since:] if h.kind == "say" and h.text != offer]
    assert says, "nothing was said"
    assert {h.lang for h in says} == {"es-US"}, [(h.lang, h.text[:40]) for h in says if h.lang != "es-US"]
    english = english_texts(flow)
    assert not [h.text for h in says if h.text in english]
    return " ".join(h.text for h in says)


def choose_spanish(call) -> int:
    """Call in, press 8 at the greeting; return where the Spanish part starts."""
    call.dial_in()
    start = len(call.heard)
    call.press("8")
    return start


@pytest.mark.parametrize("key,topics", TOPICS.items())
def test_every_topic_its_menu_and_the_transfer_are_in_spanish(phone, flow, key, topics):
    call = phone()
    start = choose_spanish(call)
    said = in_spanish(call, start, flow)
    assert flow.text("es", "main_menu") in said
    call.press(key)
    call.press("1")
    call.press("0")
    said = in_spanish(call, start, flow)
    topic, detail = topics
    for prompt in (topic, flow.menus[topic].say[0], detail, flow.menus[detail].say[0], "connecting"):
        assert flow.text("es", prompt) in said, prompt
    assert call.waiting == "dial"


@pytest.mark.parametrize("words", ["consejero", "quiero hablar con una consejera", "Necesito ayuda"])
def test_saying_a_spanish_counselor_word_reaches_a_counselor(phone, flow, words):
    call = phone()
    start = choose_spanish(call)
    call.press("2")
    call.say(words)
    assert call.waiting == "dial"
    assert flow.text("es", "connecting") in in_spanish(call, start, flow)


def test_the_language_travels_through_transfer_voicemail_and_message(phone, flow, settings):
    call = phone(caller="+15551230042")
    start = choose_spanish(call)
    call.press("0")
    call.ring_ends("no-answer")
    call.ring_ends("no-answer")
    said = in_spanish(call, start, flow)
    assert flow.text("es", "still_trying") in said
    assert flow.text("es", "counselors_busy") in said and flow.text("es", "voicemail_intro") in said
    call.stay_silent()
    assert call.waiting == "record"
    call.leave_message(30)
    assert flow.text("es", "message_saved") in in_spanish(call, start, flow)
    later = [url for url, _ in call.requests[2:]]  # after /voice and the press of 8
    assert {urlsplit(url).path for url in later} >= {"/voice/dialed", "/voice/recorded"}
    assert all(parse_qs(urlsplit(url).query).get("l") == ["es"] for url in later), later
    row = db.list_callbacks(db.connect(settings["DATABASE_URL"]))[0]
    assert row["lang"] == "es" and row["recording_seconds"] == 30


def test_spanish_after_hours_greeting_and_on_call(app, phone, flow):
    app.config["IVR_NOW"] = SUNDAY_3AM
    call = phone()
    start = choose_spanish(call)
    said = in_spanish(call, start, flow)
    assert "Nuestra oficina de consejeros está cerrada" in said and "Vuelve a abrir mañana a las 8" in said
    call.press("0")
    assert call.last_dial.numbers == ("+15555550120",)


def test_a_number_for_spanish_greets_in_spanish_and_offers_english(phone, flow):
    call = phone(voice_path="/voice?l=es")
    call.dial_in()
    says = [h for h in call.heard if h.kind == "say"]
    assert says[0].text == flow.text("es", "welcome")
    offer = [h for h in says if h.text == flow.text("en", "language_offer")]
    assert len(offer) == 1 and offer[0].lang == "en-US"
    assert all(h.lang == "es-US" for h in says if h is not offer[0])
    start = len(call.heard)
    call.press("7")
    assert flow.text("en", "main_menu") in call.said(start)


def test_spanish_callers_ring_the_spanish_desk_when_staff_name_one(flow_dir, settings):
    path = flow_dir / "call_flows.yaml"
    text = path.read_text()
    text = text.replace("  backup:\n", '  desk_es:\n    ring: ["+15555550130"]\n    seconds: 20\n    then: backup\n  backup:\n', 1)
    text = text.replace("routing:\n  open: desk\n", "routing:\n  open: desk\n  es: {open: desk_es}\n", 1)
    path.write_text(text)
    app = create_app({**settings, "IVR_CALL_FLOWS": str(path)})
    client = app.test_client()

    spanish = Phone(client_post(client))
    choose_spanish(spanish)
    spanish.press("0")
    assert spanish.last_dial.numbers == ("+15555550130",)
    spanish.ring_ends("no-answer")
    assert spanish.last_dial.numbers == ("+15555550110",)  # desk_es then backup

    english = Phone(client_post(client))
    english.dial_in()
    english.press("0")
    assert english.last_dial.numbers == ("+15555550100", "+15555550101")

    app.config["IVR_NOW"] = SUNDAY_3AM  # no Spanish after-hours group named: the on-call group
    night = Phone(client_post(client))
    choose_spanish(night)
    night.say("consejero")
    assert night.last_dial.numbers == ("+15555550120",)


def test_check_reports_a_prompt_missing_in_one_language(flow_dir, runner):
    (flow_dir / "prompts" / "es" / "aftercare_detail.txt").unlink()
    path = flow_dir / "call_flows.yaml"
    result = runner.invoke(main, ["check", str(path)])
    assert result.exit_code == 1
    lines = path.read_text().splitlines()
    intro = lines.index("    intro: aftercare_detail", lines.index("  aftercare_detail:")) + 1
    problems = [l for l in result.output.splitlines() if "aftercare_detail" in l]
    assert [l for l in problems if "prompts/es/aftercare_detail.txt" in l] == [
        f"{path}:{intro}: prompt 'aftercare_detail' has no file prompts/es/aftercare_detail.txt; "
        "create it with the words to say (did you mean 'aftercare_menu'?)."]
    assert not any("prompts/en/" in l for l in problems)


@pytest.mark.parametrize("choose", ["key", "word"])
def test_the_counselor_hears_that_a_caller_chose_spanish_before_pressing_1(phone, flow, choose):
    call = phone()
    call.dial_in()
    if choose == "key":
        call.press("8")
    else:
        call.say("español")
    call.press("1")  # detox, in Spanish
    call.press("0")
    whisper = call.counselor_answers("1")
    # Spoken to the counselor in the caller's language, then the line's first; never the caller's number.
    assert [(w.text, w.lang) for w in whisper] == [
        ("Llamada de Recovery Helpline, sobre detox. Oprima 1 para atenderla.", "es-US"),
        ("Recovery Helpline call, about detox, in Spanish. Press 1 to take it.", "en-US")]
    whisper_url = call.requests[-2][0]  # the request Twilio makes on the counselor's leg
    assert "/voice/whisper?" in whisper_url and "l=es" in whisper_url


def test_an_english_callers_whisper_names_no_language(phone):
    call = phone()
    call.dial_in()
    call.press("0")
    assert [w.text for w in call.counselor_answers("1")] == ["Recovery Helpline call. Press 1 to take it."]


def test_without_a_name_the_whisper_uses_the_first_word_that_chooses_the_language(flow_dir, settings):
    path = flow_dir / "call_flows.yaml"
    path.write_text(path.read_text().replace("      name: Spanish\n", "", 1))
    app = create_app({**settings, "IVR_CALL_FLOWS": str(path)})
    call = Phone(client_post(app.test_client()))
    choose_spanish(call)
    call.press("0")
    assert call.counselor_answers("1")[-1].text == "Recovery Helpline call, in Español. Press 1 to take it."


def test_check_warns_when_the_whisper_lost_the_language_and_the_line_still_works(flow_dir, runner, settings):
    (flow_dir / "prompts" / "en" / "whisper.txt").write_text("{line} call{topic}. Press 1 to take it.")
    path = flow_dir / "call_flows.yaml"
    result = runner.invoke(main, ["check", str(path)])
    assert result.exit_code == 0, result.output  # a warning: an older whisper keeps working
    assert (f"{path}: warning: prompts/en/whisper.txt has no {{language}}: counselors will not hear which "
            "language a caller chose.") in result.output
    call = Phone(client_post(create_app({**settings, "IVR_CALL_FLOWS": str(path)}).test_client()))
    choose_spanish(call)
    call.press("0")
    assert call.counselor_answers("1")[-1].text == "Recovery Helpline call. Press 1 to take it."


def mexican_line(flow_dir, settings, now=None):
    """A line with a third language named "mx", speaking es-MX, its words copied from the Spanish."""
    path = flow_dir / "call_flows.yaml"
    text = path.read_text()
    spanish = text[text.index("    es:\n"):text.index("\n", text.index('callback_promise: "en un plazo'))]
    mexican = (spanish.replace("    es:", "    mx:").replace('key: "8"', 'key: "6"')
               .replace("words: [español, espanol, spanish]", "words: [mexicano]")
               .replace("name: Spanish", "name: Mexican Spanish").replace("language: es-US", "language: es-MX")
               .replace("voice: Polly.Lupe-Neural", "voice: Polly.Mia-Neural"))
    path.write_text(text.replace(spanish, f"{spanish}\n{mexican}", 1))
    shutil.copytree(flow_dir / "prompts" / "es", flow_dir / "prompts" / "mx")
    app = create_app({**settings, "IVR_CALL_FLOWS": str(path)})
    if now:
        app.config["IVR_NOW"] = now
    call = Phone(client_post(app.test_client()))
    call.dial_in()
    call.say("mexicano")
    return call


def test_a_language_named_as_the_flow_likes_whispers_the_topic_in_its_own_words(flow_dir, settings):
    call = mexican_line(flow_dir, settings)
    call.press("1")  # detox
    call.press("0")
    # "sobre", not "about", though the flow calls the language "mx": the word goes by es-MX.
    assert [(w.text, w.lang) for w in call.counselor_answers("1")] == [
        ("Llamada de Recovery Helpline, sobre detox. Oprima 1 para atenderla.", "es-MX"),
        ("Recovery Helpline call, about detox, in Mexican Spanish. Press 1 to take it.", "en-US")]


def test_a_language_named_as_the_flow_likes_hears_the_opening_time_in_its_own_words(flow_dir, settings):
    call = mexican_line(flow_dir, settings, now=SUNDAY_3AM)
    said = " ".join(h.text for h in call.heard if h.kind == "say" and h.lang == "es-MX")
    assert "Vuelve a abrir mañana a las 8 de la mañana" in said and "tomorrow" not in said


def test_every_language_the_line_accepts_has_its_word_for_the_whispers_topic():
    # A language added to ivr.voices without one would break every whisper in it.
    assert {tag.split("-")[0] for tag in LANGUAGES} <= set(TOPIC_WORD)


@pytest.mark.parametrize("lang, key", [("en", "7"), ("es", "8")])
def test_the_key_of_the_language_a_caller_already_speaks_is_a_wrong_key(phone, flow, lang, key):
    # The greeting offers only the other languages; their own key is not a choice, so the caller
    # hears the apology and the choices, not the whole greeting again.
    call = phone()
    choose_spanish(call) if lang == "es" else call.dial_in()
    start = len(call.heard)
    call.press(key)
    assert call.said(start) == f'{flow.text(lang, "wrong_key")} {flow.text(lang, "main_menu")}'
