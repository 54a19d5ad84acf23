"""The `menus` section: each menu's prompts, the keys it offers and the words that choose it."""
from __future__ import annotations

from ivr.fields import Fields
from ivr.flow.model import KEYS, SPECIAL_TARGETS, Menu
from ivr.flow.schema import MENU
from ivr.flow.values import prompt_names
from ivr.problem import did_you_mean

BASE = ("menus",)


def read_menus(f: Fields, value, languages: dict) -> dict:
    """Read every menu: its prompts, options and the words that choose it."""
    if not isinstance(value, dict) or not value:
        f.error(BASE, "menus should list at least one menu.")
        return {}
    return {name: _menu(f, name, spec, languages) for name, spec in value.items()}


def _menu(f: Fields, name: str, spec, languages: dict) -> Menu:
    """Read one menu."""
    path = BASE + (name,)
    spec = f.mapping(path, spec, MENU, f"menu '{name}'")
    options = _options(f, path, name, spec.get("options", {}))
    words = spec.get("words", {})
    if isinstance(words, (str, list)):
        words = {next(iter(languages)): words}
    if not isinstance(words, dict):
        f.error(path + ("words",), "words should list words per language, like 'en: [detox]'.")
        words = {}
    menu = Menu(
        name=name, say=prompt_names(f, path + ("say",), spec.get("say", name), "say"),
        intro=prompt_names(f, path + ("intro",), spec["intro"], "intro") if "intro" in spec else (),
        options=options, title=f.text(path + ("title",), spec.get("title", name.replace("_", " ")),
                                      f"menu '{name}' title") or name,
        words={code: f.words(path + ("words", code), w, "words") for code, w in words.items()})
    for code in words:
        if code not in languages:
            f.error(path + ("words", code), f"words are given for '{code}', which is not a "
                    f"language of this line{did_you_mean(code, languages)}.")
    return menu


def _options(f: Fields, path: tuple, name: str, options) -> dict:
    """Read a menu's options: phone key -> the menu (or counselor, voicemail, repeat) it leads to."""
    if not isinstance(options, dict):
        f.error(path + ("options",), f"menu '{name}' options should be lines like '\"1\": detox'.")
        return {}
    clean = {}
    for key, target in options.items():
        where = path + ("options", key)
        if key not in KEYS:
            f.error(where, f"menu '{name}' has option key '{key}'; an option key is one "
                    "phone key: 0-9, * or #.")
        elif f.implicit_key(where) == "int":
            f.warn(where, f"menu '{name}' option key {key} is unquoted; YAML 1.1 reads it as "
                   f"a number. It is read here as the key \"{key}\"; write \"{key}\" to be sure.")
        if not isinstance(target, str):
            f.error(where, f"menu '{name}' option '{key}' should name a menu or one of "
                    f"{', '.join(SPECIAL_TARGETS)}.")
            continue
        clean[key] = target
    return clean
