"""The cross-checks: what no single section shows, judged on a Flow built from all of them.

Each check takes a Flow and returns what it found, at paths of the file (so each can be
tried on a Flow built by hand); `run` applies them in order. Prompts are not needed here:
the builder runs these before it reads the prompt files.
"""
from __future__ import annotations

from ivr.fields import Finding
from ivr.flow.model import COUNSELOR, REPEAT, SPECIAL_TARGETS, VOICEMAIL, Flow
from ivr.problem import did_you_mean


def chains(flow: Flow) -> list[Finding]:
    """Each group must lead on to another group or to voicemail, never in a circle."""
    found, circles, groups = [], set(), flow.groups
    for name, group in groups.items():
        if group.then != VOICEMAIL and group.then not in groups:
            found.append(Finding(("counselors", name, "then"), f"group '{name}' then goes to '{group.then}', "
                                 f"which is neither a counselor group nor voicemail"
                                 f"{did_you_mean(group.then, list(groups) + [VOICEMAIL])}."))
            continue
        seen, current = [name], group.then
        while current in groups:
            if current in seen:
                circle = frozenset(seen[seen.index(current):])
                if circle not in circles:
                    circles.add(circle)
                    found.append(Finding(("counselors", name, "then"), f"groups {' -> '.join(seen + [current])} "
                                         "ring in a circle and never reach voicemail; end the chain with "
                                         "then: voicemail."))
                break
            seen.append(current)
            current = groups[current].then
    return found


def unused_groups(flow: Flow) -> list[Finding]:
    """Warn about a counselor group no call can ever ring."""
    used = reachable(None, {None: flow.routing.values(), **{n: [g.then] for n, g in flow.groups.items()}})
    return [Finding(("counselors", name), f"counselor group '{name}' is never rung: routing does "
                    "not send calls to it and no group's 'then' leads to it. Name it in routing "
                    "or in another group's 'then', or remove it.", "warning")
            for name in flow.groups if name not in used]


def menu_keys(flow: Flow) -> list[Finding]:
    """Check each option's target, the reserved keys and the size of each menu."""
    found, menus = [], flow.menus
    for name, menu in menus.items():
        path = ("menus", name)
        for key, target in menu.options.items():
            where = path + ("options", key)
            if target not in menus and target not in SPECIAL_TARGETS:
                found.append(Finding(where, f"menu '{name}', key {key} goes to '{target}', which is not "
                                     f"defined{did_you_mean(target, list(menus) + list(SPECIAL_TARGETS))}."))
            if key == flow.counselor_key and target != COUNSELOR:
                found.append(Finding(where, f"menu '{name}' uses key {key} for '{target}', but {key} reaches "
                                     "a counselor from every menu; pick another key."))
            if key == flow.repeat_key and target != REPEAT:
                found.append(Finding(where, f"menu '{name}' uses key {key} for '{target}', but {key} repeats "
                                     "in every menu; pick another key."))
        # The counselor key is the same in every menu and said in the welcome: not a choice to remember.
        choices = [k for k in menu.options if k != flow.counselor_key]
        if len(choices) > 5:
            found.append(Finding(path + ("options",), f"menu '{name}' has {len(choices)} options besides "
                                 f"{flow.counselor_key}; callers remember five at most. Consider splitting it.",
                                 "warning"))
    return found


def crisis_words(flow: Flow) -> list[Finding]:
    """A crisis word must never be an ordinary word of a menu, a counselor word or a repeat word."""
    from ivr.speech import plain  # one normalisation for the check and for the calls
    ordinary: dict = {}
    for code, lang in flow.languages.items():
        for kind, words in (("a counselor word", lang.counselor_words), ("a repeat word", lang.repeat_words),
                            ("a word that chooses a language", lang.words)):
            for word in words:
                ordinary.setdefault(plain(word), kind)
    for name, menu in flow.menus.items():
        for words in menu.words.values():
            for word in words:
                ordinary.setdefault(plain(word), f"a word of menu '{name}'")
    found = []
    for code, lang in flow.languages.items():
        for i, word in enumerate(lang.crisis_words):
            where = ("line", "languages", code, "crisis_words", i)
            if not plain(word):
                found.append(Finding(where, f"crisis word '{word}' has no letters or digits; remove it."))
            elif plain(word) in ordinary:
                found.append(Finding(where, f"crisis word '{word}' is also {ordinary[plain(word)]}: an ordinary "
                                     "choice would be taken as a crisis. Remove it from one of the lists."))
    return found


def language_keys(flow: Flow) -> list[Finding]:
    """A key that chooses a language must mean nothing else where it is offered."""
    found, start = [], flow.menus.get(flow.start)
    if flow.counselor_key == flow.repeat_key:
        found.append(Finding(("line", "repeat_key"), f"repeat_key and counselor_key are both {flow.repeat_key}; "
                             "give them different keys."))
    taken = {flow.counselor_key: "reaches a counselor", flow.repeat_key: "repeats"}
    for code, lang in flow.languages.items():
        if lang.key is None:
            continue
        if lang.key in taken:
            found.append(Finding(("line", "languages", code, "key"), f"language '{code}' is chosen with key "
                                 f"{lang.key}, but {lang.key} {taken[lang.key]} in the greeting; pick another key."))
            continue
        taken[lang.key] = f"chooses language '{code}'"
        if start is not None and lang.key in start.options and len(flow.languages) > 1:
            found.append(Finding(("menus", start.name, "options", lang.key), f"menu '{start.name}' uses key "
                                 f"{lang.key} for '{start.options[lang.key]}', but {lang.key} chooses language "
                                 f"'{code}' in the greeting; pick another key."))
    return found


def unreachable_menus(flow: Flow) -> list[Finding]:
    """Warn about menus no caller can reach from the start."""
    seen = reachable(flow.start, {name: menu.options.values() for name, menu in flow.menus.items()})
    return [Finding(("menus", name), f"menu '{name}' cannot be reached: no key leads to it from "
                    f"'{flow.start}'. Add an option for it, or remove it.", "warning")
            for name in flow.menus if name not in seen]


def dead_ends(flow: Flow) -> list[Finding]:
    """Every menu must lead back to the start menu, through its keys or other menus'."""
    back: dict = {}
    for name, menu in flow.menus.items():
        for target in menu.options.values():
            back.setdefault(target, []).append(name)
    leads_home = reachable(flow.start, back)
    found = []
    for name, menu in flow.menus.items():
        moves = any(t in flow.menus and t != name for t in menu.options.values())
        if not moves or (name != flow.start and name not in leads_home):
            found.append(Finding(("menus", name), f"menu '{name}' is a dead end: no key leads back to "
                                 f"'{flow.start}', directly or through other menus. Add one, like "
                                 f"'\"9\": {flow.start}'."))
    return found


def run(flow: Flow) -> list[Finding]:
    """Every cross-check's findings, in order; the menu graph is walked only from a real start."""
    found = chains(flow) + unused_groups(flow) + menu_keys(flow) + crisis_words(flow) + language_keys(flow)
    if flow.start in flow.menus:
        found += unreachable_menus(flow) + dead_ends(flow)
    return found


def reachable(start, edges: dict) -> set:
    """Every node reachable from start along edges (name -> targets), start included."""
    seen, todo = {start}, [start]
    while todo:
        for target in edges.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen
