"""The call-flow file read, checked and built into a Flow: `check_flow` and `load_flow`.

Pure: knows neither Flask nor Twilio. `check_flow` finds every problem at once;
`load_flow` returns a Flow or raises FlowError with all of them.
"""
from __future__ import annotations

import hashlib
import time
from dataclasses import replace
from pathlib import Path

from ivr.fields import Fields
from ivr.flow import checks
from ivr.flow.counselors import read_counselors
from ivr.flow.languages import read_languages
from ivr.flow.line import read_line
from ivr.flow.menus import read_menus
from ivr.flow.messages import read_messages
from ivr.flow.model import Flow
from ivr.flow.prompts import read_calendar, read_prompts
from ivr.flow.routing import read_routing
from ivr.flow.schema import EXAMPLES, LINE, TOP
from ivr.flow.source import Source, read_source
from ivr.hours import Hours, parse_hours
from ivr.problem import FlowError, Problem, did_you_mean


def load_flow(path) -> Flow:
    """Load and check a call-flow file; raise FlowError listing every problem."""
    flow, problems = check_flow(path)
    if flow is None:
        raise FlowError([p for p in problems if p.is_error])
    return flow


def check_flow(path) -> tuple[Flow | None, list[Problem]]:
    """Check a call-flow file; return the Flow (None on errors) and every problem found."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, [Problem(f"cannot read the call-flow file ({exc.strerror}); check the path "
                              "or IVR_CALL_FLOWS.", None, file=str(path))]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [Problem("the file is not UTF-8 text; save it as UTF-8.", line, file=str(path))]
    src = read_source(text)
    f = Fields(src.lines.get, src.implicit.get, src.implicit_keys.get, examples=EXAMPLES)
    flow = build(f, src, path) if src.data is not None else None
    problems = [Problem(p.message, p.line, p.severity, p.file or str(path))
                for p in src.problems + f.problems]
    problems.sort(key=lambda p: (p.file or "", p.line or 0))
    if any(p.is_error for p in problems):
        return None, problems
    if flow is not None:
        flow = replace(flow, warnings=tuple(problems), version=_version(raw, flow))
    return flow, problems


def build(f: Fields, src: Source, path: Path) -> Flow | None:
    """Build the whole Flow from the source, or None when the top level is unusable.

    Every section is read first, then the cross-checks judge the Flow they make, then the
    prompt files are read: problems on one line are said in that order.
    """
    top = f.mapping((), src.data, TOP, "the file")
    if not top:
        return None
    line = f.mapping(("line",), top.get("line", {}), LINE, "'line'")
    languages = read_languages(f, line.get("languages"))
    groups = read_counselors(f, top.get("counselors"))
    routing = read_routing(f, top.get("routing"), groups, languages)
    hours = _hours(f, top.get("hours"))
    menus = read_menus(f, top.get("menus"), languages)
    start = _start(f, top.get("start", ""), menus)
    messages = read_messages(f, top.get("messages"))
    flow = Flow(path=str(path), languages=languages, start=start, menus=menus, groups=groups,
                routing=routing, hours=hours, prompts={}, audio={}, messages=messages,
                **read_line(f, line))
    f.report(checks.run(flow))
    prompts, audio = read_prompts(f, path.parent, menus, messages, languages)
    return replace(flow, prompts=prompts, audio=audio, calendar=read_calendar(f, path.parent, languages),
                   loaded_at=time.time())


def _start(f: Fields, value, menus: dict) -> str:
    """Read `start`: the menu a call begins in."""
    start = f.text(("start",), value, "start") or ""
    if menus and start not in menus:
        f.error(("start",), f"start is '{start}', which is not a menu{did_you_mean(start, menus)}.")
    return start


def _hours(f: Fields, value) -> Hours | None:
    """Read the business hours through ivr.hours, with lines from this file."""
    if value is None:
        return None
    base = ("hours",)
    hours, problems = parse_hours(value, lambda p: f.line(base + tuple(p)),
                                  lambda p: f.implicit(base + tuple(p)))
    f.problems.extend(problems)
    return hours


def _version(raw: bytes, flow: Flow) -> str:
    """A short hash of the flow file (as checked), every prompt, the day and month names, and
    every recording's size and time."""
    digest = hashlib.sha256(raw)
    for key in sorted(flow.prompts):
        digest.update(repr((key, flow.prompts[key])).encode())
    for key in sorted(flow.calendar):
        digest.update(repr((key, flow.calendar[key])).encode())
    folder = Path(flow.path).parent / "prompts"
    for (code, name), file in sorted(flow.audio.items()):
        try:  # a re-recorded prompt is a new version, so Twilio fetches it anew
            stat = (folder / code / file).stat()
            digest.update(repr((code, name, file, stat.st_size, stat.st_mtime_ns)).encode())
        except OSError:
            digest.update(repr((code, name, file)).encode())
    return digest.hexdigest()[:12]
