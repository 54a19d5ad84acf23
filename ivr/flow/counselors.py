"""The `counselors` section: ring groups of counselor phones and what follows when nobody answers."""
from __future__ import annotations

from ivr.fields import Fields
from ivr.flow.model import VOICEMAIL, Group
from ivr.flow.schema import GROUP, MAX_RING_SECONDS
from ivr.flow.values import is_e164

BASE = ("counselors",)


def read_counselors(f: Fields, value) -> dict:
    """Read the counselor ring groups."""
    if not isinstance(value, dict) or not value:
        f.error(BASE, "counselors should name at least one ring group, like "
                "'desk: {ring: [\"+15555550100\"]}'.")
        return {}
    out = {}
    for name, spec in value.items():
        path = BASE + (name,)
        spec = f.mapping(path, spec, GROUP, f"counselor group '{name}'")
        numbers = _ring(f, path, name, spec.get("ring"))
        order = spec.get("order", "together")
        if order not in ("together", "in_turn"):
            f.error(path + ("order",), f"order should be 'together' (ring all at once) or "
                    f"'in_turn' (one after another), not '{order}'.")
            order = "together"
        if len(numbers) > 10 and order == "together":
            f.error(path + ("ring",), "Twilio rings at most 10 numbers at once; split the "
                    "group or use order: in_turn.")
        out[name] = Group(
            name=name, numbers=tuple(str(n) for n in numbers),
            seconds=f.number(path + ("seconds",), spec.get("seconds"), "seconds", 5, MAX_RING_SECONDS, 25),
            then=str(spec.get("then", VOICEMAIL)), order=order,
            screen=f.flag(path + ("screen",), spec.get("screen"), "screen", True))
    return out


def _ring(f: Fields, path: tuple, name: str, ring) -> list:
    """Read a group's `ring`: one number or a list of them, each in E.164 form."""
    numbers = [ring] if isinstance(ring, str) else ring
    if not isinstance(numbers, list) or not numbers:
        f.error(path + ("ring",), f"group '{name}' should ring at least one number, "
                "like ring: [\"+15555550100\"].")
        numbers = []
    for i, number in enumerate(numbers):
        where = path + ("ring",) if isinstance(ring, str) else path + ("ring", i)
        if not is_e164(number):
            f.error(where, f"'{number}' is not a phone number in E.164 form; write it "
                    "with + and the country code, no spaces, like \"+15555550100\".")
        elif f.implicit(where) in ("int", "float"):
            f.warn(where, f"'{number}' is unquoted; put it in quotes to be sure it stays a phone number.")
    return numbers
