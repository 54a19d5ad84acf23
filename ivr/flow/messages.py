"""The `messages` section: which prompt speaks each of the line's own messages."""
from __future__ import annotations

from ivr.fields import Fields
from ivr.flow.schema import MESSAGES
from ivr.flow.values import prompt_names


def read_messages(f: Fields, value) -> dict:
    """Read purpose -> prompt name; a purpose not given is spoken by the prompt of its own name."""
    out = {purpose: purpose for purpose in MESSAGES}
    if value is None:
        return out
    value = f.mapping(("messages",), value, {m: False for m in MESSAGES}, "messages")
    for purpose, name in value.items():
        names = prompt_names(f, ("messages", purpose), name, f"message '{purpose}'")
        if names:
            out[purpose] = names[0]
    return out
