"""`ivr check` through the real command line: one broken file per kind of problem, each
named at its exact line with what to do, and a non-zero exit; warnings print but pass."""
import re

import pytest

from ivr.cli import main
from tests.conftest import ROOT, tiny_wav

MENTAL_HEALTH = """
  mental_health:
    title: mental health in recovery
    intro: mental_health
    say: detail_menu
    words: {en: [mental health], es: [salud mental]}
    options:
"""
# name: (text in the shipped file, what a staff member typed instead, the line's marker, message, exit)
# The marker is text on the line the message must name (the first line of the edit when None).
BROKEN = {
    "yaml syntax": ('    say: detox_menu', '    say: [detox_menu', None,
                    "the file is not valid YAML: a list opened with [ here is not closed before line {next}. "
                    "Check the brackets and quotes from this line to line {next}.", 1),
    "tab": ('  name: Recovery Helpline', '\tname: Recovery Helpline', None,
            "a tab is used for indentation; YAML needs spaces. Replace the tab with spaces.", 1),
    "duplicate key": ('  tries: 2 ', '  tries: 2\n  tries: 3 ', '  tries: 3',
                      "'tries' is given twice here (first on line {prev}); YAML would silently keep only the last one", 1),
    "duplicate option key in a menu": ('      "1": detox_withdrawal\n', '      "1": detox_withdrawal\n      "1": rehab\n',
                                       '      "1": rehab', "'1' is given twice here", 1),
    "unquoted time (YAML 1.1 reads 13:00 as 780)": (
        '    sat: "09:00-13:00"', '    sat: {from: "09:00", to: 13:00}', None,
        "warning: hours: 13:00 is unquoted; YAML 1.1 reads it as the number 780. It is read here as the time "
        "13:00; put it in quotes (\"13:00\") to be sure.", 0),
    "unquoted no (YAML 1.1 reads it as false)": (
        '    title: rehab\n', '    title: no\n', '    title: no',
        "warning: menu 'rehab' title 'no' is unquoted, and YAML 1.1 reads it as true/false; it is read here "
        "as the text 'no'. Put it in quotes (\"no\") to be sure.", 0),
    "unquoted on as a start": ('start: welcome', 'start: on', None,
                               "warning: start 'on' is unquoted, and YAML 1.1 reads it as true/false", 1),
    "integer option key": ('      "1": detox_withdrawal', '      1: detox_withdrawal', None,
                           "warning: menu 'detox' option key 1 is unquoted; YAML 1.1 reads it as a number. "
                           "It is read here as the key \"1\"; write \"1\" to be sure.", 0),
    "unknown field": ('    title: detox\n', '    tittle: detox\n', '    tittle: detox',
                      "menu 'detox' has an unknown field 'tittle' (did you mean 'title'?); the fields are "
                      "say, intro, options, title, words.", 1),
    "wrong type": ('  tries: 2 ', '  tries: [2] ', None,
                   "tries should be a whole number from 1 to 5, not a list.", 1),
    "wrong type of section": ('routing:\n  open: desk\n  after_hours: on_call\n', 'routing: desk\n',
                              'routing: desk', "routing should be a set of 'name: value' lines, not 'desk'.", 1),
    "missing field": ('    intro: detox\n    say: detox_menu\n', '    intro: detox\n', '  detox:',
                      "menu 'detox' is missing 'say'; add a line like  say: detox_menu.", 1),
    "unknown target": ('"1": detox_withdrawal', '"1": detox_withdrawl', None,
                       "menu 'detox', key 1 goes to 'detox_withdrawl', which is not defined "
                       "(did you mean 'detox_withdrawal'?).", 1),
    "unreachable menu": ('      "5": family\n', '', '  family:',
                         "warning: menu 'family' cannot be reached: no key leads to it from 'welcome'. "
                         "Add an option for it, or remove it.", 0),
    "dead end": ('    words: {en: [mental health], es: [salud mental]}\n    options:\n      "9": welcome\n',
                 '    words: {en: [mental health], es: [salud mental]}\n    options:\n      "0": counselor\n',
                 '  mental_health:', "menu 'mental_health' is a dead end: no key leads back to 'welcome', "
                 "directly or through other menus. Add one, like '\"9\": welcome'.", 1),
    "menus that only lead to each other": (
        '      "1": mental_health\n      "9": welcome\n' + MENTAL_HEALTH + '      "9": welcome\n',
        '      "1": mental_health\n' + MENTAL_HEALTH + '      "9": choosing\n', '  choosing:',
        "menu 'choosing' is a dead end: no key leads back to 'welcome'", 1),
    "counselor key reused": ('      "1": detox_withdrawal', '      "0": detox_withdrawal', None,
                             "menu 'detox' uses key 0 for 'detox_withdrawal', but 0 reaches a counselor from "
                             "every menu; pick another key.", 1),
    "repeat key reused": ('      "1": detox_withdrawal', '      "*": detox_withdrawal', None,
                          "menu 'detox' uses key * for 'detox_withdrawal', but * repeats in every menu; "
                          "pick another key.", 1),
    "language key reused in the start menu": (
        '      "4": mental_health\n', '      "4": mental_health\n      "8": rehab\n', '      "8": rehab',
        "menu 'welcome' uses key 8 for 'rehab', but 8 chooses language 'es' in the greeting; pick another key.", 1),
    "language key that is the counselor key": (
        '      key: "8"', '      key: "0"', None,
        "language 'es' is chosen with key 0, but 0 reaches a counselor in the greeting; pick another key.", 1),
    "more than five options": ('      "5": family\n', '      "5": family\n      "6": rehab\n',
                               '    options:\n      "1": detox\n',
                               "warning: menu 'welcome' has 6 options besides 0; callers remember five at most. "
                               "Consider splitting it.", 0),
    "missing prompt file": ('    say: rehab_menu', '    say: rehab_menus', None,
                            "prompt 'rehab_menus' has no file prompts/en/rehab_menus.txt; create it with the "
                            "words to say (did you mean 'rehab_menu'?).", 1),
    "prompt name leaving prompts/": ('    say: rehab_menu', '    say: ../../etc/passwd', None,
                                     "say '../../etc/passwd' is not a plain prompt name; use letters, digits, "
                                     "'_' and '-' only (no folders, dots or slashes)", 1),
    "unknown voice": ('Polly.Lupe-Neural', 'Polly.Lupa-Neural', None,
                      "voice 'Polly.Lupa-Neural' is not a Twilio Polly voice we know (es-US voices: "
                      "Polly.Lupe, Polly.Lupe-Neural", 1),
    "voice of another language": ('Polly.Lupe-Neural', 'Polly.Joanna-Neural', '      voice: Polly.Joanna-Neural\n      language: es-US',
                                  "voice 'Polly.Joanna-Neural' speaks en-US, not es-US; pick a voice that "
                                  "speaks es-US.", 1),
    "language in the wrong form": ('language: es-US', 'language: es_US', None,
                                   "language 'es_US' is not one Twilio speaks and understands in that form "
                                   "(did you mean 'es-US'?); write it like 'en-US'.", 1),
    "not E.164": ('"+15555550110"', '"555-0110"', None,
                  "'555-0110' is not a phone number in E.164 form; write it with + and the country code, "
                  "no spaces, like \"+15555550100\".", 1),
    "group leading to nothing": ('    then: backup', '    then: bakup', None,
                                 "group 'desk' then goes to 'bakup', which is neither a counselor group nor "
                                 "voicemail (did you mean 'backup'?).", 1),
    "groups ringing in a circle": ('    seconds: 25\n    then: voicemail\n    screen: yes\n  on_call',
                                   '    seconds: 25\n    then: desk\n    screen: yes\n  on_call', '    then: backup',
                                   "groups desk -> backup -> desk ring in a circle and never reach voicemail; "
                                   "end the chain with then: voicemail.", 1),
    "group with no phones": ('    ring: ["+15555550120"]', '    ring: []', None,
                             "group 'on_call' should ring at least one number", 1),
    "group never rung": ('  on_call:\n', '  spare:\n    ring: ["+15555550130"]\n  on_call:\n', '  spare:',
                         "warning: counselor group 'spare' is never rung", 0),
    "routing to no group": ('  after_hours: on_call', '  after_hours: oncall', None,
                            "routing sends calls to 'oncall', which is not a counselor group "
                            "(did you mean 'on_call'?).", 1),
    "overlapping hours": ('    sat: "09:00-13:00"', '    sat: ["09:00-13:00", "12:00-14:00"]', None,
                          "hours: 'sat' windows '09:00-13:00' and '12:00-14:00' overlap; make each window "
                          "end before the next one starts", 1),
    "days given twice": ('    sat: "09:00-13:00"', '    sat: "09:00-13:00"\n    fri: "10:00-11:00"', '    fri:',
                         "hours: Friday is given twice, in 'mon-fri' (line {prev}) and in 'fri'", 1),
    "empty hours": ('    sat: "09:00-13:00"', '    sat: "09:00-09:00"', None,
                    "hours: 'sat' window '09:00-09:00' is empty (it opens and closes at the same time)", 1),
    "language key as a mapping": ('      key: "8"', '      key: {x: 1}', None,
                                  'key should be one phone key, like  key: "8"; use one of 0-9, * or #.', 1),
    "unknown timezone": ('America/New_York', 'America/NewYork', None,
                         "hours: timezone 'America/NewYork' is not a known time zone (did you mean "
                         "'America/New_York'?)", 1),
}


def edit(flow_dir, old: str, new: str) -> tuple:
    """Make a staff member's edit; return the file and its new text."""
    path = flow_dir / "call_flows.yaml"
    text = path.read_text()
    assert text.count(old) >= 1, old
    text = text.replace(old, new, 1)
    path.write_text(text)
    return path, text


def line_of(text: str, marker: str, after: int = 0) -> int:
    """The line number where marker starts (searching from a character offset)."""
    return text.count("\n", 0, text.index(marker, after)) + 1


@pytest.mark.parametrize("kind", BROKEN)
def test_each_kind_of_problem_is_named_at_its_line(flow_dir, runner, kind):
    old, new, marker, message, code = BROKEN[kind]
    path, text = edit(flow_dir, old, new)
    at = text.index(new) if marker is None else 0
    line = line_of(text, marker or new.lstrip("\n").splitlines()[0], at)
    prev = line - 1 if "{prev}" in message and kind == "duplicate key" else None
    nxt = line + 1
    if kind == "days given twice":
        prev = line_of(text, "    mon-fri:")
    result = runner.invoke(main, ["check", str(path)])
    expected = f"{path}:{line}: {message.format(prev=prev, next=nxt)}"
    assert expected in result.output, result.output
    assert result.exit_code == code, result.output
    if code:
        said = re.search(r"(\d+) errors?: the line will not take this file until (it is|they are) fixed",
                         result.output)
        assert said and (said.group(0).startswith("1 error: ") == (said.group(2) == "it is")), result.output
        assert said.group(0).startswith(("1 error:", f"{said.group(1)} errors:")), result.output
    else:
        assert "ok with" in result.output and "warning" in result.output and "(s)" not in result.output


@pytest.mark.parametrize("damage,message", [
    ("missing", "prompt 'safety' has no file prompts/es/safety.txt; create it with the words to say "
                "(did you mean 'safety_short'?)."),
    ("empty", "prompts/es/safety.txt is empty; write the words to say."),
    ("long", "prompts/es/safety.txt has 5000 characters; Twilio's Polly voices say at most 3000 in one go. "
             "Split it into two prompts."),
])
def test_prompt_files_missing_empty_or_too_long(flow_dir, runner, damage, message):
    prompt = flow_dir / "prompts" / "es" / "safety.txt"
    if damage == "missing":
        prompt.unlink()
    else:
        prompt.write_text("" if damage == "empty" else "palabra." * 625)  # 5,000 characters
    path = flow_dir / "call_flows.yaml"
    line = line_of(path.read_text(), "    intro: [welcome, safety]")
    result = runner.invoke(main, ["check", str(path)])
    assert f"{path}:{line}: {message}" in result.output
    assert result.exit_code == 1


def test_a_message_prompt_without_a_messages_section_names_the_file(flow_dir, runner):
    (flow_dir / "prompts" / "en" / "goodbye.txt").unlink()
    path = flow_dir / "call_flows.yaml"
    result = runner.invoke(main, ["check", str(path)])
    assert f"{path}: prompt 'goodbye' has no file prompts/en/goodbye.txt; create it with the words to say." \
        in result.output
    assert result.exit_code == 1


def test_every_problem_at_once(flow_dir, runner):
    path, text = edit(flow_dir, '"1": detox_withdrawal', '"1": detox_withdrawl')
    path, text = edit(flow_dir, '    then: backup', '    then: bakup')
    path, text = edit(flow_dir, 'America/New_York', 'America/NewYork')
    result = runner.invoke(main, ["check", str(path)])
    lines = [line for line in result.output.splitlines() if line.startswith(f"{path}:")]
    assert [int(line.split(":")[1]) for line in lines if "warning" not in line] == sorted(
        [line_of(text, '    then: bakup'), line_of(text, "  timezone:"), line_of(text, '"1": detox_withdrawl')])
    assert "3 errors: the line will not take this file until they are fixed" in result.output
    assert result.exit_code == 1


def test_unreadable_file_says_so(tmp_path, runner):
    result = runner.invoke(main, ["check", str(tmp_path / "nope.yaml")])
    assert f"{tmp_path / 'nope.yaml'}: cannot read the call-flow file (No such file or directory)" in result.output
    assert result.exit_code == 1


def test_shipped_file_checks_clean_with_a_summary(runner):
    result = runner.invoke(main, ["check", str(ROOT / "call_flows.yaml")])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "warning" not in out
    assert "call_flows.yaml: ok; the line will take this file." in out
    assert "  menus       10, starting at 'welcome'" in out
    assert "  prompts     74 (37 per language)" in out
    assert "en (en-US, Polly.Joanna-Neural), es (es-US, Polly.Lupe-Neural)" in out
    assert "  longest     prompts/" in out
    assert "every caller is told how to reach one within 1 keypress and" in out
    assert "recorded    none: every prompt is spoken by text-to-speech" in out
    assert len(out.splitlines()) <= 24  # one screen


def test_counselor_reach_follows_the_greeting(flow_dir, runner):
    """Moving the counselor key out of the welcome makes callers wait through safety and the menu."""
    from ivr.flow import load_flow, speech_seconds
    from ivr.summary import counselor_reach
    before = {(r.lang, r.when): r for r in counselor_reach(load_flow(flow_dir / "call_flows.yaml"))}
    welcome = flow_dir / "prompts" / "en" / "welcome.txt"
    welcome.write_text("Thank you for calling the Recovery Helpline. You are not alone.")
    flow = load_flow(flow_dir / "call_flows.yaml")
    after = {(r.lang, r.when): r for r in counselor_reach(flow)}
    assert before[("en", "in hours")].keys == 0 and after[("en", "in hours")].keys == 0
    # welcome, the Spanish offer, safety, then the menu ends with "press 0"
    heard = ["welcome", "safety", "main_menu"]
    expected = sum(speech_seconds(flow.text("en", p)) for p in heard) + speech_seconds(flow.text("es", "language_offer"))
    assert after[("en", "in hours")].seconds == pytest.approx(expected)
    # after hours the closed notice comes before safety, and it names the key
    assert after[("en", "after hours")].seconds < after[("en", "in hours")].seconds
    assert after[("es", "in hours")].keys == 1


def test_a_greeting_that_never_says_the_counselor_key_is_flagged(flow_dir, runner):
    for name, text in {"welcome": "Hello.", "main_menu": "For detox, press 1.", "safety": "Stay safe.",
                       "after_hours": "We are closed. We open {opens}."}.items():
        (flow_dir / "prompts" / "en" / f"{name}.txt").write_text(text)
    result = runner.invoke(main, ["check", str(flow_dir / "call_flows.yaml")])
    assert "en: NEVER TOLD in hours" in result.output
    assert "warning: callers in 'en' (in hours) never hear the counselor key in the greeting" in result.output


def test_check_reports_recorded_prompts_and_strays(flow_dir, runner):
    tiny_wav(flow_dir / "prompts" / "en" / "welcome.wav")
    tiny_wav(flow_dir / "prompts" / "es" / "safety.wav")
    tiny_wav(flow_dir / "prompts" / "en" / "welcom.wav")
    path = flow_dir / "call_flows.yaml"
    result = runner.invoke(main, ["check", str(path)])
    assert result.exit_code == 0, result.output
    assert "  recorded    en/welcome.wav, es/safety.wav" in result.output
    assert (f"{path}: warning: prompts/en/welcom.wav is never played: no prompt is called 'welcom' "
            "(did you mean 'welcome'?). Rename it to the prompt it records.") in result.output


def test_an_empty_recording_is_an_error(flow_dir, runner):
    (flow_dir / "prompts" / "en" / "main_menu.mp3").write_bytes(b"")
    path = flow_dir / "call_flows.yaml"
    result = runner.invoke(main, ["check", str(path)])
    line = line_of(path.read_text(), "    say: main_menu")
    assert f"{path}:{line}: prompts/en/main_menu.mp3 is empty; record it again, or remove it" in result.output
    assert result.exit_code == 1
