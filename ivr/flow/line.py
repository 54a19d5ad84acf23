"""The `line` section's own settings: the line's name, its keys, pace and numbers."""
from __future__ import annotations

from ivr.fields import Fields
from ivr.flow.values import is_e164, phone_key

BASE = ("line",)


def read_line(f: Fields, line: dict) -> dict:
    """Read the line's settings (its languages apart) as Flow fields, reporting each problem."""
    keys = {k: phone_key(f, BASE + (k,), line.get(k), d) for k, d in
            (("counselor_key", "0"), ("repeat_key", "*"))}
    crisis_line = _crisis_line(f, line.get("crisis_line"))
    name = f.text(BASE + ("name",), line.get("name", ""), "the line's name") or ""
    return dict(
        name=name, **keys, number=_own_number(f, line.get("number")), crisis_line=crisis_line,
        tries=f.number(BASE + ("tries",), line.get("tries"), "tries", 1, 5, 2),
        wait_seconds=f.number(BASE + ("wait_seconds",), line.get("wait_seconds"), "wait_seconds", 3, 20, 6),
        record_seconds=f.number(BASE + ("record_seconds",), line.get("record_seconds"),
                                "record_seconds", 30, 600, 120))


def _crisis_line(f: Fields, value) -> str:
    """Read line.crisis_line: the number a crisis caller reaches when no counselor answers."""
    if value is None:
        return ""  # reported as missing by Fields.mapping
    if not is_e164(value):
        f.error(BASE + ("crisis_line",), f"crisis_line '{value}' is not a phone number in E.164 "
                "form; write it with + and the country code, like \"+18002738255\" (the 988 "
                "Lifeline).")
        return ""
    return str(value)


def _own_number(f: Fields, value) -> str:
    """Read line.number, the line's own phone number in E.164 form (optional)."""
    if value is None:
        return ""
    if not is_e164(value):
        f.error(BASE + ("number",), f"'{value}' is not a phone number in E.164 form; write it "
                "like \"+18564437701\" (+, country code, number, in quotes).")
        return ""
    return value
