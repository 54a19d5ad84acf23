"""The words: short where they must be, long enough to explain, and in the right order."""
import re

import pytest

from ivr.flow import load_flow, speech_seconds
from tests.conftest import ROOT

FLOW = load_flow(ROOT / "call_flows.yaml")
TOPICS = [name for name in FLOW.menus if name != FLOW.start]


@pytest.mark.parametrize("lang", ["en", "es"])
@pytest.mark.parametrize("menu", TOPICS)
def test_each_explanation_takes_30_to_90_seconds(menu, lang):
    for prompt in FLOW.menus[menu].intro:
        seconds = speech_seconds(FLOW.text(lang, prompt))
        assert 30 <= seconds <= 90, f"prompts/{lang}/{prompt}.txt takes about {seconds:.0f} s"


@pytest.mark.parametrize("lang,phrase", [("en", "press 0"), ("es", "oprima 0")])
def test_caller_learns_the_counselor_key_within_15_seconds(phone, lang, phrase):
    call = phone()
    call.dial_in()
    if lang == "es":
        start = len(call.heard)
        call.press("8")
        said = call.said(start)
    else:
        said = call.said()
    before = said[: said.index(phrase) + len(phrase)]
    assert speech_seconds(before) < 15


@pytest.mark.parametrize("lang,word", [("en", "press"), ("es", "oprima")])
def test_main_menu_names_each_option_before_its_key(lang, word):
    text = FLOW.text(lang, "main_menu")
    sentences = [s for s in re.split(r"(?<=\.)\s+", text) if s]
    # Five choices at most; 0 (a counselor) is the same in every menu and said in the welcome.
    assert len([s for s in sentences if f"{word} 0." not in s]) <= 5
    for sentence in sentences:
        assert re.search(rf"^\w.*, {word} \d\.$", sentence), sentence
    keys = re.findall(rf"{word} (\d)", text)
    assert sorted(keys) == sorted(set(FLOW.menus["welcome"].options))


@pytest.mark.parametrize("lang", ["en", "es"])
def test_safety_notice_names_911_and_988_and_overdose_signs(lang):
    text = FLOW.text(lang, "safety").lower()
    assert "9 1 1" in text and "9 8 8" in text
    signs = {"en": ["chest pain", "seizure", "trouble breathing", "overdose"],
             "es": ["dolor en el pecho", "convulsión", "dificultad para respirar", "sobredosis"]}[lang]
    assert all(sign in text for sign in signs)


@pytest.mark.parametrize("lang", ["en", "es"])
def test_short_messages_are_one_or_two_sentences(lang):
    for purpose in ("no_input", "wrong_key", "connecting", "still_trying", "put_through",
                    "counselors_busy", "fallback_sorry"):
        text = FLOW.text(lang, purpose)
        assert len(re.findall(r"[.!?](\s|$)", text)) == 1, f"{lang}/{purpose}: {text}"
