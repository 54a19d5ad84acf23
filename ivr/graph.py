"""The call flow as a Mermaid flowchart: menus, keys, transfers, voicemail, after hours."""
from __future__ import annotations

from ivr.flow import COUNSELOR, REPEAT, VOICEMAIL, Flow


def node_id(name: str) -> str:
    """A Mermaid-safe id for a menu or group name."""
    return "m_" + "".join(ch if ch.isalnum() else "_" for ch in name)


def mermaid(flow: Flow) -> str:
    """Return the flow as Mermaid `flowchart TD` text, the same for CLI, README and browser."""
    # "incoming", not "call": call is a Mermaid keyword (click callbacks) and breaks the parse.
    lines = ["flowchart TD", f'  incoming(["Call comes in"]) --> {node_id(flow.start)}']
    if flow.hours is not None:
        lines.append(f'  incoming -. "after hours: closed notice" .-> {node_id(flow.start)}')
    for name, menu in flow.menus.items():
        lines.append(f'  {node_id(name)}["{_label(name)}"]')
    for name, menu in flow.menus.items():
        for key, target in menu.options.items():
            if target == REPEAT:
                continue
            to = "counselor" if target == COUNSELOR else "voicemail" if target == VOICEMAIL else node_id(target)
            lines.append(f'  {node_id(name)} -- "{_key(key)}" --> {to}')
    lines.append(f'  anywhere(("any menu")) -- "{_key(flow.counselor_key)} or counselor" --> counselor')
    lines.append('  counselor{{"Connecting to a counselor"}}')
    groups = {flow.routing[("open", None)]: "in hours", flow.routing[("after_hours", None)]: "after hours"}
    for group, when in groups.items():
        lines.append(f'  counselor -- "{when}" --> {node_id("g_" + group)}')
    for name, group in flow.groups.items():
        screened = ", screened" if group.screen else ""
        phones = f"{len(group.numbers)} phone" + ("" if len(group.numbers) == 1 else "s")
        lines.append(f'  {node_id("g_" + name)}[/"ring {_label(name)} ({phones}{screened})"/]')
        nxt = "voicemail" if group.then == VOICEMAIL else node_id("g_" + group.then)
        lines.append(f'  {node_id("g_" + name)} -- "no answer" --> {nxt}')
    lines.append('  voicemail[("Voicemail: message for a callback")]')
    lines.append(f'  voicemail -- "9" --> {node_id(flow.start)}')
    return "\n".join(lines) + "\n"


def _label(text: str) -> str:
    """Text safe inside a quoted Mermaid label."""
    return text.replace('"', "'")


def _key(key: str) -> str:
    """A key as a label: the star and pound keys spelled out."""
    return {"*": "star", "#": "pound"}.get(key, key)
