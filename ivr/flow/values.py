"""The call flow's own kinds of value: phone keys, prompt names and phone numbers."""
from __future__ import annotations

import re

import phonenumbers

from ivr.fields import Fields
from ivr.flow.model import KEYS
from ivr.flow.schema import PROMPT_NAME


def phone_key(f: Fields, path: tuple, value, default: str) -> str:
    """Read a caller key: one of 0-9, * or #."""
    if value is None:
        return default
    if value not in KEYS:
        f.error(path, f"'{value}' is not a phone key; use one of 0-9, * or #.")
        return default
    return value


def prompt_names(f: Fields, path: tuple, value, what: str) -> tuple:
    """Read one prompt name or a list of them, refusing names that leave prompts/."""
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        f.error(path, f"{what} should name a prompt file (or a list of them), like 'detox'.")
        return ()
    good = []
    for i, name in enumerate(names):
        where = path if isinstance(value, str) else path + (i,)
        if not PROMPT_NAME.fullmatch(name):
            f.error(where, f"{what} '{name}' is not a plain prompt name; use letters, digits, "
                    "'_' and '-' only (no folders, dots or slashes): it names "
                    "prompts/<language>/<name>.txt.")
        else:
            good.append(name)
    return tuple(good)


def is_e164(number) -> bool:
    """Whether a value is a phone number written in E.164 form."""
    if not isinstance(number, str) or not re.fullmatch(r"\+[1-9]\d{6,14}", number):
        return False
    try:
        return phonenumbers.is_possible_number(phonenumbers.parse(number))
    except phonenumbers.NumberParseException:
        return False
