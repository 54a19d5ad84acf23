"""The call flow as a Mermaid flowchart: menus, keys, transfers, voicemail, after hours."""
from __future__ import annotations

from ivr.flow import COUNSELOR, REPEAT, VOICEMAIL, Flow


def node_id(name: str) -> str:
    """A Mermaid-safe id for a menu or group name."""
    return "m_" + "".join(ch if ch.isalnum() else "_" for ch in name)


# The README shows the shipped flow's diagram between these lines; `ivr graph --readme` renews it.
BEGIN = "<!-- flow diagram: made by `ivr graph --readme README.md`; do not edit by hand -->"
END = "<!-- end of flow diagram -->"


def in_readme(text: str, diagram: str) -> str:
    """Return README text with the diagram between the markers (added at the end when missing)."""
    block = f"{BEGIN}\n```mermaid\n{diagram}```\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        return head + block + rest.split(END, 1)[1]
    return text.rstrip("\n") + "\n\n" + block + "\n"


def mermaid(flow: Flow) -> str:
    """Return the flow as Mermaid `flowchart TD` text, the same for CLI, README and browser."""
    start = node_id(flow.start)
    # "incoming", not "call": call is a Mermaid keyword (click callbacks) and breaks the parse.
    lines = ["flowchart TD", f'  incoming(["Call comes in"]) --> {start}']
    if flow.hours is not None:
        lines.append(f'  incoming -. "after hours ({_label(flow.hours.timezone)}): closed notice first" .-> {start}')
    offers = [f"{lang.key}: {code}" for code, lang in flow.languages.items() if lang.key]
    if len(flow.languages) > 1 and offers:
        lines.append(f'  {start} -. "{", ".join(offers)}: the greeting in that language" .-> {start}')
    for name, menu in flow.menus.items():
        title = menu.title if menu.title != name.replace("_", " ") else ""
        lines.append(f'  {node_id(name)}["{_label(name)}' + (f"<br/><i>{_label(title)}</i>" if title else "") + '"]')
    for name, menu in flow.menus.items():
        for key, target in menu.options.items():
            if target == REPEAT:
                continue
            to = "counselor" if target == COUNSELOR else "voicemail" if target == VOICEMAIL else node_id(target)
            lines.append(f'  {node_id(name)} -- "{_key(key)}" --> {to}')
    lines.append(f'  anywhere(("any menu")) -- "{_key(flow.counselor_key)} or counselor" --> counselor')
    lines.append('  counselor{{"Connecting to a counselor"}}')
    if flow.crisis_line:
        lines.append('  anywhere -- "crisis words, in any language" --> crisis{{"What to do now: 911, 988"}}')
        lines.append("  crisis --> counselor")
        lines.append(f'  crisis -. "no counselor answers: never voicemail" .-> crisis_line[/"crisis line '
                     f'{_label(flow.crisis_line)}"/]')
    lines += _routing(flow)
    for name, group in flow.groups.items():
        phones = f"{len(group.numbers)} phone" + ("s" if len(group.numbers) != 1 else "")
        how = ", ".join(filter(None, ["in turn" if group.order == "in_turn" else "",
                                      "screened" if group.screen else ""]))
        label = f"ring {_label(name)}<br/>{phones}, {group.seconds} s" + (f", {how}" if how else "")
        lines.append(f'  {node_id("g_" + name)}[/"{label}"/]')
        nxt = "voicemail" if group.then == VOICEMAIL else node_id("g_" + group.then)
        lines.append(f'  {node_id("g_" + name)} -- "no answer" --> {nxt}')
    lines.append('  voicemail[("Voicemail: message for a callback")]')
    lines.append(f'  voicemail -- "9" --> {start}')
    lines.append(f'  voicemail -- "{_key(flow.counselor_key)}" --> counselor')
    return "\n".join(lines) + "\n"


def _routing(flow: Flow) -> list[str]:
    """Edges from the counselor transfer to the group that takes the call, by time and language."""
    edges: dict = {}
    for (kind, lang), group in flow.routing.items():
        when = "in hours" if kind == "open" else "after hours"
        edges.setdefault(group, []).append(when if lang is None else f"{when}, {lang}")
    return [f'  counselor -- "{" / ".join(whens)}" --> {node_id("g_" + group)}'
            for group, whens in edges.items() if group in flow.groups]


def _label(text: str) -> str:
    """Text safe inside a quoted Mermaid label."""
    return text.replace('"', "'")


def _key(key: str) -> str:
    """A key as a label: the star and pound keys spelled out."""
    return {"*": "star", "#": "pound"}.get(key, key)
