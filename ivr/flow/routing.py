"""The `routing` section: which ring group takes calls in hours and after hours, per language if given."""
from __future__ import annotations

from ivr.fields import Fields
from ivr.problem import did_you_mean

BASE = ("routing",)
DEFAULTS = {"open": "desk", "after_hours": "on_call"}  # group names used when routing names none


def read_routing(f: Fields, value, groups: dict, languages: dict) -> dict:
    """Read routing as (kind, language or None) -> group name."""
    value = value if value is not None else {}
    allowed = {"open": False, "after_hours": False, **{code: False for code in languages}}
    value = f.mapping(BASE, value, allowed, "routing")
    out = {}
    for kind, fallback in DEFAULTS.items():
        name = value.get(kind, fallback if fallback in groups else next(iter(groups), ""))
        _check_group(f, BASE + (kind,), name, groups)
        out[(kind, None)] = name
    for code in languages:
        if code in value:
            spec = f.mapping(BASE + (code,), value[code], {"open": False, "after_hours": False},
                             f"routing for '{code}'")
            for kind, name in spec.items():
                _check_group(f, BASE + (code, kind), name, groups)
                out[(kind, code)] = name
    return out


def _check_group(f: Fields, path: tuple, name, groups: dict) -> None:
    """Report a routing entry that names no counselor group."""
    if groups and name not in groups:
        f.error(path, f"routing sends calls to '{name}', which is not a counselor group"
                f"{did_you_mean(name, groups)}.")
