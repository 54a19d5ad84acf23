"""Crisis speech as callers and speech recognisers say it: whole calls through the line's real
routes. Each phrase below was once answered "Sorry, that isn't one of the choices."."""
import pytest

from ivr.flow import load_flow
from ivr.speech import plain
from tests.conftest import ROOT

FLOW = load_flow(ROOT / "call_flows.yaml")
DESK = ("+15555550100", "+15555550101")
# None of these is literally an entry of the shipped lists.
MISSED = {
    "en": ["I can't do this anymore I want to end it", "I think she ODed", "he took a bunch of pills",
           "she swallowed a whole lot of pills", "I'm going to end it tonight", "I can't go on like this",
           "I just can't take it anymore", "he fell down and he isn't moving", "she's not responsive",
           "I feel like I'm going to die", "I don't want to wake up tomorrow", "life isn't worth living",
           "I have a gun", "I'm gonna jump off the roof", "my heart is racing and won't slow down",
           "he did way too much coke", "he's blue", "I think he's dead", "he's foaming at the mouth",
           "I think I'm having a stroke", "what's the point in living", "I think I over dosed",
           "I dont want to live anymore"],  # as recognisers may write it, without the apostrophe
    "es": ["mi amigo tomó muchas pastillas", "se tomó todo el frasco", "tomó demasiadas pastillas",
           "se tomó demasiada cocaína", "creo que me voy a matar hoy", "me quiero suicidar", "quiero acabar con todo",
           "ya no puedo más con esto", "no lo puedo despertar", "está morada", "tiene los labios azules",
           "mi hermano se puso azul", "siento que me voy a morir", "me quiero cortar otra vez", "casi no se mueve",
           "creo que está muerta", "mi amiga apenas respira", "la vida no vale la pena", "tengo una pistola",
           "le está dando un ataque", "se pasó de dosis", "creo que me suicidaré"],  # suicidar + é
}
ORDINARY = {
    "en": ["my son is in rehab", "help", "detox", "I need help with detox", "I can't sleep",
           "I can't afford rehab", "how long does detox take", "I relapsed last week", "main menu",
           "sorry I have gum in my mouth"],  # gum is not gun: a word's last letter is not an ending
    "es": ["mi hijo está en rehabilitación", "ayuda", "desintoxicación", "no puedo dormir",
           "cuánto cuesta", "menú principal", "no vale la pena esperar",
           "estoy muy depresiva"],  # as long as "desmayado", ends in -a, but not it
}


def start(phone, lang: str):
    call = phone()
    call.dial_in()
    if lang == "es":
        call.press("8")
    return call


@pytest.mark.parametrize("lang, phrase", [(lang, p) for lang, ps in MISSED.items() for p in ps])
def test_a_crisis_said_in_everyday_words_is_answered_first(phone, lang, phrase):
    call = start(phone, lang)
    call.press("1")  # in the middle of an explanation
    since = len(call.heard)
    call.say(phrase)
    assert call.said(since) == FLOW.text(lang, "crisis_now")
    call.stay_silent()
    assert call.waiting == "dial" and call.last_dial.numbers == DESK


def test_the_everyday_phrases_are_not_in_the_lists():
    listed = {plain(w) for code in FLOW.languages for w in FLOW.languages[code].crisis_words}
    assert not [p for ps in MISSED.values() for p in ps if plain(p) in listed]


@pytest.mark.parametrize("lang, words", [(lang, w) for lang, ws in ORDINARY.items() for w in ws])
def test_ordinary_words_stay_ordinary(phone, lang, words):
    call = start(phone, lang)
    call.press("1")
    since = len(call.heard)
    call.say(words)
    assert FLOW.text(lang, "crisis_now") not in call.said(since)


# -- the endings a listed word is heard with (ivr.speech.heard, on plain speech) -------------------

@pytest.mark.parametrize("said, word, is_it", [
    ("morada", "morado", True), ("muertos", "muerto", True), ("ciega", "ciego", True),  # Spanish gender, number
    ("grava", "grave", False),  # only a word ending in -o takes -a, -os, -as
    ("depresiva", "desmayado", False), ("desmayaba", "desmayado", False),  # and only on the word itself
    ("cutting", "cut", True), ("stopped", "stop", True),  # a doubled last letter, then -ing or -ed
    ("stopper", "stop", False), ("cutter", "cut", False),  # doubled, but not then -ing or -ed
    ("collapse", "collapsed", False), ("gum", "gun", False),  # not the word itself
])
def test_a_listed_word_is_heard_with_its_common_endings_and_only_those(said, word, is_it):
    from ivr.speech import heard
    assert heard(said, word) is is_it
