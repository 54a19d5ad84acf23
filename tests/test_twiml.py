"""Every TwiML document the shipped tree can produce is valid, by rules read from the twilio package.

The rules (which verb may hold which, with which attributes) are read at test time from the
installed twilio library's VoiceResponse builder, so they follow the library, not our memory.
"""
import inspect
import itertools
import re
import xml.etree.ElementTree as ET

import pytest
from twilio import twiml as twiml_base
from twilio.twiml import voice_response

from ivr.flow import load_flow
from tests.conftest import CHRISTMAS, ROOT, WEEKDAY_MORNING

WHISPER_VERBS = {"Say", "Play", "Gather", "Hangup"}  # what a <Number url> may answer with
MAX_RING = 30


def _tag(cls) -> str:
    """The XML tag a twilio TwiML class writes."""
    try:
        return cls().name
    except TypeError:
        return cls.__name__


def twilio_rules() -> dict:
    """(parent tag) -> {child tag: allowed attribute names}, read from the twilio builder."""
    rules: dict = {}
    classes = [c for _, c in inspect.getmembers(voice_response, inspect.isclass)
               if issubclass(c, twiml_base.TwiML) and c.__module__ == voice_response.__name__]
    for cls in classes:
        parent = _tag(cls)
        for name, method in vars(cls).items():
            if name.startswith("_") or not callable(method):
                continue
            match = re.search(r"self\.nest\(\s*(\w+)\(", inspect.getsource(method))
            if not match or not hasattr(voice_response, match.group(1)):
                continue
            child_cls = getattr(voice_response, match.group(1))
            body = set(inspect.signature(child_cls.__init__).parameters) - {"self", "kwargs"}
            params = set(inspect.signature(method).parameters) - {"self", "kwargs"} - body
            attrs = {twiml_base.lower_camel(twiml_base.TwiML.MAP.get(p, p)) for p in params}
            rules.setdefault(parent, {})[_tag(child_cls)] = attrs
    return rules


RULES = twilio_rules()


def check_document(xml: str, whisper: bool = False) -> list[str]:
    """Return every way a TwiML document breaks the library's rules or our line's promises."""
    root = ET.fromstring(xml)
    faults = []
    if root.tag != "Response":
        return [f"root is <{root.tag}>"]

    def walk(node):
        allowed = RULES.get(node.tag, {})
        for child in node:
            if child.tag not in allowed:
                faults.append(f"<{child.tag}> may not be inside <{node.tag}>")
                continue
            extra = set(child.attrib) - allowed[child.tag]
            if extra:
                faults.append(f"<{child.tag}> in <{node.tag}> has unknown attributes {sorted(extra)}")
            walk(child)
    walk(root)
    verbs = list(root)
    if whisper:
        faults += [f"<{v.tag}> is not allowed in a whisper" for v in verbs if v.tag not in WHISPER_VERBS]
        return faults
    if not verbs:
        faults.append("an empty <Response/>: Twilio would hang up on the caller")
    for i, verb in enumerate(verbs):
        if verb.tag in ("Gather", "Dial", "Record") and not verb.get("action"):
            faults.append(f"<{verb.tag}> has no action")
        if verb.tag == "Dial" and int(verb.get("timeout", "30")) > MAX_RING:
            faults.append("a ring lasts longer than 30 seconds")
        if verb.tag in ("Dial",) and i != len(verbs) - 1:
            faults.append("verbs after <Dial action> never run")
        if verb.tag == "Say" and len(re.findall(r"[.!?](\s|$)", (verb.text or "").strip())) > 1:
            faults.append(f"more than one sentence outside a Gather: {verb.text!r}")
    if verbs and verbs[-1].tag in ("Say", "Play", "Pause"):
        faults.append("the document ends without waiting: Twilio would hang up")
    if verbs and verbs[-1].tag == "Gather":
        faults.append("a Gather with nothing after it: silence would hang up")
    return faults


def test_rules_are_read_from_the_library():
    assert "Say" in RULES["Gather"] and "Dial" not in RULES["Gather"]
    assert "numDigits" in RULES["Response"]["Gather"]
    assert "url" in RULES["Dial"]["Number"]
    assert check_document("<Response><Gather action='/x'><Dial>1</Dial></Gather><Hangup/></Response>")
    assert check_document("<Response/>") and not check_document("<Response/>", whisper=True)  # 1 bridges


FLOW = load_flow(ROOT / "call_flows.yaml")
NODES = list(FLOW.menus) + ["_voicemail", "_saved", "_unsaved", "_crisis", "_lifeline"]
INPUTS = [{"Digits": k} for k in "0123456789*#"] + [
    {"Digits": "12"}, {"SpeechResult": "counselor"}, {"SpeechResult": "repeat"},
    {"SpeechResult": "español"}, {"SpeechResult": "detox"}, {"SpeechResult": "mumble"},
    {"SpeechResult": "he is not breathing"}, {"SpeechResult": "quiero morir"}, {}]


def _every_request():
    """Every (path, form) the shipped tree can receive from Twilio, with its kind."""
    yield "/voice", {}, "call"
    for node, lang, tries in itertools.product(NODES, FLOW.languages, range(FLOW.tries)):
        for crisis in ("", "&x=1"):
            query = f"n={node}&l={lang}&t={tries}&p=welcome{crisis}"
            for given in INPUTS:
                yield f"/voice/answer?{query}", given, "call"
        query = f"n={node}&l={lang}&t={tries}&p=welcome"
        for given in INPUTS:
            yield f"/voice/answer?{query}", given, "call"
        yield f"/voice/silence?{query}", {}, "call"
        yield f"/voice/recorded?{query}", {"RecordingUrl": "https://api.twilio.com/R1",
                                           "RecordingDuration": "9"}, "call"
        yield f"/voice/recorded?{query}&empty=1", {}, "call"
    for group, ring in FLOW.groups.items():
        for index, status in itertools.product(range(len(ring.numbers)),
                                               ["completed", "busy", "no-answer", "failed", "canceled"]):
            yield f"/voice/dialed?n=detox&l=en&g={group}&i={index}", {"DialCallStatus": status}, "call"
            yield f"/voice/dialed?n=detox&l=es&x=1&g={group}&i={index}", {"DialCallStatus": status}, "call"
    for status in ["completed", "busy", "no-answer", "failed", "canceled"]:
        yield "/voice/dialed?n=detox&l=es&x=1&g=_crisis_line&i=0", {"DialCallStatus": status}, "call"
    for node in FLOW.menus:
        yield f"/voice/whisper?n={node}", {}, "whisper"
        yield f"/voice/whisper?n={node}&l=es&x=1", {}, "whisper"
    for key in ["1", "2", ""]:
        yield "/voice/screened?n=detox", {"Digits": key}, "whisper"
    yield "/fallback", {}, "call"
    yield "/fallback?step=after", {"DialCallStatus": "no-answer"}, "call"


@pytest.mark.parametrize("when", [WEEKDAY_MORNING, CHRISTMAS])
def test_every_document_the_tree_produces_is_valid(app, client, when, caplog):
    app.config["IVR_NOW"] = when
    seen = 0
    for path, given, kind in _every_request():
        form = {"CallSid": "CA" + "0" * 32, "From": "+15551230000", **given}
        response = client.post(path, data=form)
        assert response.status_code == 200, path
        assert response.mimetype == "text/xml"
        faults = check_document(response.get_data(as_text=True), whisper=kind == "whisper")
        assert not faults, f"{path} {given}: {faults}"
        seen += 1
    assert seen > 1000
    assert not [r for r in caplog.records if r.levelname == "ERROR"], "a step failed inside"


def test_explanations_are_spoken_inside_a_gather_that_takes_0_and_speech(client):
    for name, menu in FLOW.menus.items():
        response = client.post(f"/voice/answer?n={name}&l=en", data={"Digits": "*"})
        root = ET.fromstring(response.get_data(as_text=True))
        gather = root.find("Gather")
        assert gather is not None, name
        assert gather.get("input") == "dtmf speech" and gather.get("numDigits") == "1"
        assert "counselor" in gather.get("hints", "")
        inside = " ".join(s.text for s in gather.findall("Say"))
        for prompt in menu.intro:
            assert FLOW.text("en", prompt) in inside, f"{name}: {prompt} is not interruptible"
        assert root.find("Say") is None  # nothing spoken where a key cannot interrupt it
