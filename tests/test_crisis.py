"""Crisis words heard anywhere, in both languages; safety and honesty on every path where no
person answers. Whole calls through gunicorn, as Twilio makes them."""
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from ivr import create_app, db, parts
from ivr.cli import main
from ivr.flow import load_flow, speech_seconds
from ivr.phone import Phone, client_post
from ivr.speech import plain
from tests.conftest import ROOT, SUNDAY_3AM, WEEKDAY_MORNING, Server, free_port

FLOW = load_flow(ROOT / "call_flows.yaml")
DESK = ("+15555550100", "+15555550101")
BACKUP = ("+15555550110",)
ON_CALL = ("+15555550120",)
CRISIS_LINE = ("+18002738255",)
# What people say, none of it literally an entry of the shipped lists.
PARAPHRASES = {
    "en": ["my friend took way too much and he's not waking up", "I think she OD'd",
           "I keep thinking about ending my life", "honestly I just don't want to live anymore",
           "my boyfriend is having a seizure", "he isn't breathing right", "I'm going to hurt myself tonight",
           "my chest really hurts"],
    "es": ["creo que mi hermano tuvo una sobredosis", "mi amiga no respira bien", "ya no quiero vivir más",
           "me quiero quitar la vida", "mi papá se desmayó y no despierta",
           "tengo un dolor muy fuerte en el pecho", "mi novio está convulsionando", "quiero matarme"],
}
ORDINARY = ["detox", "rehab", "help", "I need help", "counselor", "withdrawal", "relapse", "mental health",
            "I want to hear about rehab", "apoyo continuo", "ayuda", "desintoxicación", "my son uses cocaine",
            "I'm struggling with cravings", "repeat", "español", "someone", "salud mental", "sober living"]


def text(lang: str, prompt: str) -> str:
    return FLOW.text(lang, prompt)


@pytest.fixture(scope="module")
def lines(tmp_path_factory):
    """The line under gunicorn (2 workers each): the desk open, the desk closed, the store down."""
    folder = tmp_path_factory.mktemp("crisis")
    base = {"IVR_CALL_FLOWS": str(ROOT / "call_flows.yaml"), "IVR_SECRET_KEY": "test-secret"}
    envs = {"open": {"DATABASE_URL": f"sqlite:///{folder / 'open.db'}", "IVR_NOW": WEEKDAY_MORNING},
            "night": {"DATABASE_URL": f"sqlite:///{folder / 'night.db'}", "IVR_NOW": SUNDAY_3AM},
            "down": {"DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/ivr",
                     "IVR_NOW": WEEKDAY_MORNING}}
    servers = {}
    try:
        for name, env in envs.items():
            servers[name] = Server({**base, **env}, folder / f"{name}.log", 2).start()
        for server in servers.values():
            every_worker_ready(server, 2)
        yield servers
    finally:
        for server in servers.values():
            server.stop()


def every_worker_ready(server, workers: int) -> None:
    """Wait until every worker announced the flow it serves (not only the one /healthz reached)."""
    deadline = time.monotonic() + 30
    while len(set(re.findall(r"is live \(worker (\d+)\)", server.log_path.read_text()))) < workers:
        assert time.monotonic() < deadline, server.log_path.read_text()[-3000:]
        time.sleep(0.05)


def start(line, lang: str) -> Phone:
    """Call in; in Spanish, press 8 at the greeting."""
    call = line.phone()
    call.dial_in()
    if lang == "es":
        call.press("8")
    return call


def to_voicemail(call) -> None:
    """0, then nobody at the desk or the backup: the voicemail notice."""
    call.press("0")
    call.ring_ends("no-answer")
    call.ring_ends("no-answer")
    assert call.waiting == "gather"


def assert_crisis_answer(call, since: int, lang: str, numbers=DESK) -> None:
    """What to do now, first and at once, then a counselor ringing: no menu in between."""
    says = [h for h in call.heard[since:] if h.kind == "say"]
    assert [h.text for h in says] == [text(lang, "crisis_now")]  # nothing else before the ring
    assert says[0].lang == FLOW.languages[lang].speech
    # Said inside a Gather that waits one second: silence falls straight through to the ring.
    assert call.waiting == "gather" and call.pending.get("timeout") == "1"
    call.stay_silent()
    assert call.waiting == "dial" and call.last_dial.numbers == numbers


PLACES = {
    "greeting": lambda call: None,
    "mid-explanation": lambda call: call.press("1"),
    "voicemail notice": to_voicemail,
    "after a message": lambda call: (to_voicemail(call), call.stay_silent(), call.leave_message(20)),
}


@pytest.mark.slow  # the `lines` fixture starts gunicorn
@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("place", PLACES)
def test_crisis_words_are_answered_first_anywhere_then_the_crisis_line_never_voicemail(lines, lang, place):
    call = start(lines["open"], lang)
    PLACES[place](call)
    if place == "after a message":
        assert text(lang, "message_saved") in call.said()
    phrase = PARAPHRASES[lang][list(PLACES).index(place)]
    since = len(call.heard)
    call.say(phrase)
    assert_crisis_answer(call, since, lang)
    # The counselor hears that it is a crisis call before pressing 1.
    whisper = call.counselor_answers("")
    assert whisper[0].text.startswith(text(lang, "crisis_whisper"))
    assert whisper[-1].text.startswith("Crisis call.")
    call.ring_ends("no-answer")
    assert call.last_dial.numbers == BACKUP
    since = len(call.heard)
    call.ring_ends("no-answer")
    # Nobody took it: the crisis line, said first, unscreened; never a recording.
    assert call.said(since) == text(lang, "crisis_line")
    call.stay_silent()
    assert call.last_dial.numbers == CRISIS_LINE and not call.last_dial.screened
    assert not any(h.kind == "record" for h in call.heard[since:])
    assert text(lang, "voicemail_intro") not in call.said(since)
    call.ring_ends("completed", duration=600)  # the Lifeline took the call
    assert call.heard[-1].kind == "hangup"


@pytest.mark.slow  # the `lines` fixture starts gunicorn
@pytest.mark.parametrize("lang", ["en", "es"])
def test_every_paraphrase_is_a_crisis_at_a_menu(lines, lang):
    for phrase in PARAPHRASES[lang]:
        call = start(lines["open"], lang)
        call.press("2")  # in the middle of rehab's explanation
        since = len(call.heard)
        call.say(phrase)
        assert_crisis_answer(call, since, lang)


def test_the_paraphrases_are_not_in_the_lists():
    for lang, phrases in PARAPHRASES.items():
        listed = {plain(w) for code in FLOW.languages for w in FLOW.languages[code].crisis_words}
        assert not [p for p in phrases if plain(p) in listed]


@pytest.mark.parametrize("words", ORDINARY)
def test_ordinary_words_are_never_a_crisis(phone, words):
    call = phone()
    call.dial_in()
    since = len(call.heard)
    call.say(words)
    assert text("en", "crisis_now") not in call.said(since)
    assert text("es", "crisis_now") not in call.said(since)


def test_a_key_during_the_crisis_guidance_rings_at_once(phone):
    call = phone()
    call.dial_in()
    call.press("1")
    call.say("she took too much")
    since = len(call.heard)
    call.press("5")  # not the detox menu's 5, not a menu at all: the ring, now
    assert call.waiting == "dial" and call.last_dial.numbers == DESK
    assert call.said(since) == ""
    whisper = call.counselor_answers("1")
    assert whisper[0].text == "Crisis call. Recovery Helpline call, about detox. Press 1 to take it."


def test_a_spanish_crisis_word_is_heard_in_an_english_call(phone):
    call = phone()
    call.dial_in()
    since = len(call.heard)
    call.say("sobredosis")
    assert_crisis_answer(call, since, "en")


@pytest.mark.slow  # the `lines` fixture starts gunicorn
def test_after_hours_a_crisis_rings_on_call_then_the_crisis_line(lines):
    call = start(lines["night"], "en")
    said = call.said()
    assert "any hour" not in said
    since = len(call.heard)
    call.say("I don't want to be alive anymore")
    assert_crisis_answer(call, since, "en", numbers=ON_CALL)
    call.ring_ends("busy")
    call.press("1")  # a key during the crisis line's notice: it rings at once
    assert call.last_dial.numbers == CRISIS_LINE
    # The crisis line does not answer either: the guidance again and the counselors again.
    since = len(call.heard)
    call.ring_ends("no-answer")
    assert call.said(since).startswith(text("en", "safety_short"))
    assert call.waiting == "dial" and call.last_dial.numbers == ON_CALL


@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_crisis_answer_says_what_to_do_within_15_seconds(lang):
    words = text(lang, "crisis_now")
    action = words[: words.rindex("9 8 8") + len("9 8 8")]
    assert "9 1 1" in action and speech_seconds(action) < 15
    if lang == "es":
        assert "oprima 2" in action and "AYUDA" in action


@pytest.mark.parametrize("when", [WEEKDAY_MORNING, SUNDAY_3AM])
@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_emergency_notice_leads_with_the_action_within_20_seconds(app, phone, when, lang):
    app.config["IVR_NOW"] = when
    call = phone(voice_path="/voice" if lang == "en" else "/voice?l=es")
    call.dial_in()
    said = call.said()
    action = "dial 9 1 1 now" if lang == "en" else "marque 9 1 1 ahora"
    assert speech_seconds(said[: said.index(action) + len(action)]) < 20
    notice = text(lang, "safety")
    assert notice.index("9 1 1") < notice.index("9 8 8") and notice.index("9 1 1") < 100
    assert said.index(notice) < said.index(text(lang, "main_menu"))


def test_after_hours_greeting_says_exactly_what_happens(app, phone):
    app.config["IVR_NOW"] = SUNDAY_3AM
    call = phone()
    call.dial_in()
    said = call.said()
    assert "It opens again tomorrow at 8 AM" in said
    assert "press 0 to ring our on-call counselor" in said
    assert "If they can't answer, you can leave a message, and we will call you back within one working day" in said
    for lang in ("en", "es"):
        assert "any hour" not in text(lang, "after_hours") and "cualquier hora" not in text(lang, "after_hours")


@pytest.mark.slow  # the `lines` fixture starts gunicorn
@pytest.mark.parametrize("lang", ["en", "es"])
def test_the_short_notice_is_heard_when_counselors_are_busy_and_at_voicemail(lines, lang):
    call = start(lines["open"], lang)
    call.press("0")
    call.ring_ends("busy")
    since = len(call.heard)
    call.ring_ends("busy")
    said = call.said(since)
    assert said.index(text(lang, "counselors_busy")) < said.index(text(lang, "safety_short")) \
        < said.index(text(lang, "voicemail_intro"))
    promise = FLOW.languages[lang].callback_promise
    assert promise and promise in text(lang, "voicemail_intro")
    call.stay_silent()
    since = len(call.heard)
    call.leave_message(15)
    said = call.said(since)
    assert text(lang, "message_saved") in said and text(lang, "safety_short") in said
    assert ("You can hang up now" if lang == "en" else "Ya puede colgar") in said


@pytest.mark.slow  # the `lines` fixture starts gunicorn
@pytest.mark.parametrize("lang", ["en", "es"])
def test_store_down_at_voicemail_nothing_claims_saved_and_a_counselor_is_offered(lines, lang):
    call = start(lines["down"], lang)
    to_voicemail(call)
    call.stay_silent()
    since = len(call.heard)
    call.leave_message(25)
    said = call.said(since)
    assert said == f"{text(lang, 'not_saved')} {text(lang, 'safety_short')}"
    assert "saved" not in said.replace("could not save", "") and "guardado" not in said
    assert call.waiting == "gather"
    call.stay_silent()  # a person is the only promise left
    assert call.waiting == "dial" and call.last_dial.numbers == DESK


@pytest.mark.slow  # the `lines` fixture starts gunicorn
@pytest.mark.parametrize("lang", ["en", "es"])
def test_a_recording_with_no_sound_is_no_message(lines, lang):
    call = start(lines["open"], lang)
    to_voicemail(call)
    call.stay_silent()
    since = len(call.heard)
    call.leave_message(0)  # 0 s: the notice once more
    said = call.said(since)
    assert said.startswith(text(lang, "no_message")) and text(lang, "voicemail_intro") in said
    assert text(lang, "message_saved") not in said
    call.stay_silent()
    assert call.waiting == "record"
    since = len(call.heard)
    call.record_nothing()  # no RecordingUrl at all: then the guidance
    said = call.said(since)
    assert said == f"{text(lang, 'no_message')} {text(lang, 'main_menu')}"
    assert call.waiting == "gather"


def test_no_sound_stores_no_callback(phone, settings):
    call = phone()
    call.dial_in()
    to_voicemail(call)
    call.stay_silent()
    call.leave_message(0)
    assert db.list_callbacks(db.connect(settings["DATABASE_URL"])) == []


@pytest.mark.slow  # the `lines` fixture starts gunicorn
@pytest.mark.parametrize("lang", ["en", "es"])
def test_silence_after_a_saved_message_ends_the_call_with_a_goodbye(lines, lang):
    call = start(lines["open"], lang)
    to_voicemail(call)
    call.stay_silent()
    call.leave_message(20)
    since = len(call.heard)
    call.stay_silent()
    assert call.said(since) == text(lang, "goodbye")
    call.stay_silent()  # the goodbye waits a second for 0 or 9, then the line hangs up
    assert call.heard[-1].kind == "hangup"
    assert not any(h.kind in ("dial", "record") for h in call.heard[since:])


@pytest.mark.slow  # the `lines` fixture starts gunicorn
def test_after_a_message_0_reaches_a_counselor_and_no_second_voicemail(lines):
    call = start(lines["open"], "en")
    to_voicemail(call)
    call.stay_silent()
    call.leave_message(20)
    call.press("0")
    assert call.waiting == "dial" and call.last_dial.numbers == DESK
    call.ring_ends("no-answer")
    since = len(call.heard)
    call.ring_ends("no-answer")
    said = call.said(since)
    assert text("en", "voicemail_intro") not in said and text("en", "message_saved") in said
    call.press("9")
    assert call.said(len(call.heard) - 1) == text("en", "main_menu")


@pytest.mark.slow  # the `lines` fixture starts gunicorn
def test_a_long_completed_leg_was_a_talk_whatever_the_store_says(lines):
    call = start(lines["open"], "en")
    call.press("1")
    call.press("0")
    since = len(call.heard)
    call.ring_ends("completed", duration=300)  # nobody's 1 on record (another replica, a hiccup)
    assert call.heard[-1].kind == "hangup"
    assert call.said(since) == text("en", "goodbye")
    assert text("en", "still_trying") not in call.said(since)


@pytest.mark.slow  # the `lines` fixture starts gunicorn
@pytest.mark.parametrize("lang", ["en", "es"])
def test_9_from_a_topic_returns_to_the_main_menus_choices(lines, lang):
    call = start(lines["open"], lang)
    call.press("3")
    call.press("1")
    since = len(call.heard)
    call.press("9")
    assert call.said(since) == text(lang, "main_menu")
    assert text(lang, "welcome") not in call.said(since)
    call.press("5")
    assert text(lang, "family") in call.said(since)


@pytest.mark.slow  # the `lines` fixture starts gunicorn
def test_fallback_for_a_spanish_call_speaks_spanish_and_keeps_the_language(lines):
    call = start(lines["open"], "es")
    call.press("2")
    failed = urljoin_action(call)
    assert parse_qs(urlsplit(failed).query)["l"] == ["es"]
    call.fall_back()  # Twilio could not use our answer: it posts ErrorCode and ErrorUrl here
    says = [h for h in call.heard if h.kind == "say"][-1:]
    assert says[0].text == text("es", "fallback_sorry") and says[0].lang == "es-US"
    assert call.waiting == "dial" and "l=es" in call.last_dial.extra["action"]
    since = len(call.heard)
    call.ring_ends("no-answer")
    said = [h for h in call.heard[since:] if h.kind == "say"]
    assert {h.lang for h in said} == {"es-US"}
    assert text("es", "voicemail_intro") in call.said(since)


def test_fallback_of_a_crisis_call_never_ends_in_voicemail(phone):
    call = phone()
    call.dial_in()
    call.say("my friend overdosed")
    failed = urljoin_action(call)  # the crisis guidance's action: it carries x=1
    call.fall_back(failed)
    call.ring_ends("no-answer")
    call.stay_silent()
    assert call.last_dial.numbers == CRISIS_LINE
    assert not any(h.kind == "record" for h in call.heard)


def urljoin_action(call) -> str:
    """The URL the call will post to next (the waiting verb's action)."""
    from urllib.parse import urljoin
    return urljoin(call.url, call.pending.get("action"))


def counts(client) -> dict:
    """The crisis figures of GET /metrics (counters of this process, so compared before and after)."""
    metrics = client.get("/metrics").get_data(as_text=True)
    found = {}
    for name in ("ivr_crisis_calls_total", 'ivr_transfers_total{reason="crisis"}', "ivr_crisis_line_total"):
        match = re.search(rf"^{re.escape(name)} ([0-9.]+)$", metrics, re.M)
        found[name] = float(match.group(1)) if match else 0.0
    return found


def test_crisis_calls_are_counted_without_keeping_the_words(app, settings):
    client = app.test_client()
    before = counts(client)
    call = Phone(client_post(client))
    call.dial_in()
    call.say("I want to kill myself")
    call.stay_silent()
    call.ring_ends("no-answer")
    call.ring_ends("no-answer")
    call.stay_silent()
    call.hang_up()
    after = counts(client)
    assert {name: after[name] - before[name] for name in after} == dict.fromkeys(after, 1.0)
    assert parts.storage(app).sink.wait()
    engine = db.connect(settings["DATABASE_URL"])
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(select(db.events))]
    assert any("transfer:crisis" in row for row in rows) and any("crisis_line" in row for row in rows)
    assert "kill" not in repr(rows)
    from ivr import report
    figures = report.gather(engine, FLOW)
    assert figures.crisis == 1 and figures.crisis_line == 1
    assert figures.crisis_from == [("the main menu", 1)]
    assert "crisis words heard (calls)" in report.text(figures)


def test_check_requires_the_crisis_line(flow_dir, runner):
    path = flow_dir / "call_flows.yaml"
    path.write_text(path.read_text().replace('  crisis_line: "+18002738255"\n', ""))
    result = runner.invoke(main, ["check", str(path)])
    assert result.exit_code == 1
    assert "'line' is missing 'crisis_line'; add a line like  crisis_line: \"+18002738255\"." in result.output


def test_check_refuses_a_crisis_line_that_is_not_a_number(flow_dir, runner):
    path = flow_dir / "call_flows.yaml"
    path.write_text(path.read_text().replace('crisis_line: "+18002738255"', 'crisis_line: "988"'))
    result = runner.invoke(main, ["check", str(path)])
    assert result.exit_code == 1 and "crisis_line '988' is not a phone number in E.164 form" in result.output


def test_check_refuses_an_ordinary_word_in_a_crisis_list(flow_dir, runner):
    path = flow_dir / "call_flows.yaml"
    path.write_text(path.read_text().replace("crisis_words: [\n        overdose,", "crisis_words: [\n        help, detox, overdose,"))
    result = runner.invoke(main, ["check", str(path)])
    assert result.exit_code == 1
    assert "crisis word 'help' is also a counselor word: an ordinary choice would be taken as a crisis." in result.output
    assert "crisis word 'detox' is also a word of menu 'detox'" in result.output


def test_a_staff_added_phrase_is_heard(flow_dir, settings):
    path = flow_dir / "call_flows.yaml"
    path.write_text(path.read_text().replace("crisis_words: [\n        overdose,", "crisis_words: [\n        jump off a bridge, overdose,"))
    app = create_app({**settings, "IVR_CALL_FLOWS": str(path)})
    call = Phone(client_post(app.test_client()))
    call.dial_in()
    since = len(call.heard)
    call.say("I'm going to jump off a bridge tonight")
    assert_crisis_answer(call, since, "en")


def test_check_refuses_a_prompt_over_3000_characters(flow_dir, runner):
    (flow_dir / "prompts" / "en" / "family.txt").write_text("a" * 2999 + ".")
    path = flow_dir / "call_flows.yaml"
    assert runner.invoke(main, ["check", str(path)]).exit_code == 0
    (flow_dir / "prompts" / "en" / "family.txt").write_text("a" * 3000 + ".")
    result = runner.invoke(main, ["check", str(path)])
    assert result.exit_code == 1 and "prompts/en/family.txt has 3001 characters" in result.output


def test_the_helpline_number_is_said_once_per_language_and_never_as_a_big_number():
    spoken = "8 5 6, 4 4 3, 7 7 0 1"
    for lang in ("en", "es"):
        texts = {name: t for (code, name), t in FLOW.prompts.items() if code == lang}
        assert sum(t.count(spoken) for t in texts.values()) == 1
        assert not any(re.search(r"856.?443.?7701", t) for t in texts.values())


@pytest.mark.parametrize("lang", ["en", "es"])
def test_detox_makes_no_unconditional_safety_promise_and_warns_about_alcohol_and_opioids(lang):
    detox = text(lang, "detox") + text(lang, "detox_withdrawal")
    assert "safe the whole way" not in detox and "recibe protección" not in detox
    crash, relapse, other = {"en": ("emotional crash", "relapse", "talk with a counselor before you stop"),
                             "es": ("caída emocional", "recaída", "hable con un consejero antes de dejarlos")}[lang]
    assert crash in text(lang, "detox") and relapse in text(lang, "detox") and other in text(lang, "detox")


def test_spanish_wording_is_fixed():
    assert "da cuenta" not in text("es", "rehab")
    assert "Y la rehabilitación prepara" not in text("es", "choosing")


@pytest.mark.parametrize("path,words,menu", [
    ([], "apoyo continuo", "aftercare"), ([], "la vida después del tratamiento", "aftercare"),
    ([], "salud mental", "mental_health"), ([], "llamo por un ser querido", "family"),
    (["1"], "la atención médica", "detox_withdrawal"), (["2"], "el tratamiento residencial", "rehab_detail"),
    (["2"], "en qué se diferencian", "choosing"), (["3"], "hogares de vida sobria", "aftercare_detail"),
])
def test_the_spanish_menus_own_terms_are_understood(phone, path, words, menu):
    call = phone(voice_path="/voice?l=es")
    call.dial_in()
    for key in path:
        call.press(key)
    since = len(call.heard)
    call.say(words)
    assert text("es", menu) in call.said(since)


def test_check_requires_the_callback_promise_a_prompt_says(flow_dir, runner):
    path = flow_dir / "call_flows.yaml"
    path.write_text(path.read_text().replace('      callback_promise: "en un plazo de un día hábil"\n', ""))
    result = runner.invoke(main, ["check", str(path)])
    assert result.exit_code == 1
    assert ("prompts/es/after_hours.txt says {callback_promise}, but language 'es' has no callback_promise"
            in result.output)
