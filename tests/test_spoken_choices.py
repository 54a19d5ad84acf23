"""Every menu says "For the main menu, press 9": a caller who says it is understood too."""
import pytest

from ivr.flow import load_flow
from tests.conftest import ROOT

FLOW = load_flow(ROOT / "call_flows.yaml")


@pytest.mark.parametrize("lang, key, words", [("en", "1", "main menu"), ("en", "5", "go back to the main menu"),
                                              ("es", "2", "menú principal"), ("es", "3", "el menú, por favor")])
def test_saying_main_menu_at_a_topic_is_pressing_9(phone, lang, key, words):
    call = phone()
    call.dial_in()
    if lang == "es":
        call.press("8")
    call.press(key)
    assert ("main menu" if lang == "en" else "menú principal") in call.pending.get("hints")  # the recogniser expects it
    since = len(call.heard)
    call.say(words)
    assert call.said(since) == FLOW.text(lang, "main_menu")
