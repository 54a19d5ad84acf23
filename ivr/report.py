"""Call statistics for staff (`ivr report`): a short table for the terminal, or a page of charts.

Everything comes from the store: calls (start, end) and the events of each step (menu,
input, language, after hours, outcome), plus when a counselor pressed 1 (screens). Nothing
here names a caller: calls are counted, never listed.
"""
from __future__ import annotations

import html
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.engine import Engine

from ivr import db
from ivr.call import SAVED_NODE, UNSAVED_NODE, VOICEMAIL_NODE
from ivr.outcome import Outcome

LANGUAGE_NAMES = {"en": "English", "es": "Spanish"}
RING_NAMES = {"answered": "answered", "completed": "not taken (no one pressed 1)", "no-answer": "no answer",
              "busy": "busy", "failed": "failed", "canceled": "canceled"}
TRANSFER_ENDS = ("answered", "voicemail", "crisis line", "hung up while ringing", "still ringing")
WAIT_BUCKETS = ((30, "under 30 s"), (60, "30 s to 1 min"), (120, "1 to 2 min"), (300, "2 to 5 min"),
                (None, "over 5 min"))


@dataclass
class Report:
    """The figures of one report, each a list of (label, count) in the order staff read them."""

    since: date | None
    zone: str
    calls: int = 0
    per_day: list = field(default_factory=list)
    after_hours: int = 0
    languages: list = field(default_factory=list)
    topics: list = field(default_factory=list)
    hung_up: list = field(default_factory=list)
    asked: int = 0
    asked_from: list = field(default_factory=list)
    put_through: int = 0
    crisis: int = 0  # calls where crisis words were heard (the words themselves are never kept)
    crisis_from: list = field(default_factory=list)
    crisis_line: int = 0  # calls rolled over to the crisis line when no counselor answered
    transfers: list = field(default_factory=list)
    rings: list = field(default_factory=list)
    waits: list = field(default_factory=list)  # seconds from call start to a counselor pressing 1

    @property
    def transfer_count(self) -> int:
        """How many times callers were put through to counselors."""
        return sum(n for _, n in self.transfers)


def gather(engine: Engine, flow=None, since: date | None = None, zone: ZoneInfo | None = None) -> Report:
    """Read the store and work out every figure (calls started on or after `since`, local days)."""
    zone = zone or ZoneInfo("UTC")
    start = datetime.combine(since, time(0), zone).astimezone(timezone.utc) if since else None
    started, ended, steps, accepted = _read(engine, start)
    titles = _titles(flow)
    report = Report(since=since, zone=str(zone), calls=len(started))
    days = Counter(when.astimezone(zone).date() for when in started.values())
    report.per_day = [(day.isoformat(), days[day]) for day in sorted(days)]
    firsts = {sid: events[0] for sid, events in steps.items() if events}
    report.after_hours = sum(1 for e in firsts.values() if e["after_hours"])
    languages = Counter(events[-1]["lang"] or "?" for events in steps.values() if events)
    report.languages = [(LANGUAGE_NAMES.get(code, code), n) for code, n in languages.most_common()]
    start_node = flow.start if flow is not None else "welcome"
    topics = Counter(node for events in steps.values() for node in
                     {e["node"] for e in events if e["outcome"].chose_menu and e["node"]
                      and e["node"] != start_node and not e["node"].startswith("_")})
    report.topics = [(titles.get(node, node), n) for node, n in topics.most_common()]
    report.hung_up = _count(_hang_up_place(steps.get(sid, []), titles) for sid in ended)
    asked = [e for events in steps.values() for e in events if e["outcome"] == Outcome.ASKED]
    report.asked = len({e["call_sid"] for e in asked})
    report.asked_from = _count(_place(e["node"], titles) for e in asked)
    report.put_through = sum(1 for events in steps.values() for e in events if e["outcome"] == Outcome.TRIES)
    crises = [e for events in steps.values() for e in events if e["outcome"].is_crisis]
    report.crisis = len({e["call_sid"] for e in crises})
    report.crisis_from = _count(_place(e["node"], titles) for e in crises)
    report.crisis_line = len({sid for sid, events in steps.items()
                              if any(e["outcome"] == Outcome.CRISIS_LINE for e in events)})
    ends, rings = Counter(), Counter()
    for sid, events in steps.items():
        for outcome, statuses in _transfers(events, sid in ended):
            ends[outcome] += 1
            rings.update(statuses)
    report.transfers = [(name, ends[name]) for name in TRANSFER_ENDS if ends[name]]
    report.rings = [(RING_NAMES.get(s, s), n) for s, n in rings.most_common()]
    report.waits = sorted((accepted[sid] - started[sid]).total_seconds() for sid in accepted
                          if sid in started and accepted[sid] >= started[sid])
    return report


def _read(engine: Engine, start: datetime | None):
    """Calls started since `start` (and their events), calls ended, and when counselors took them."""
    # A day's margin: the events and screens of a call started just after `start` are all later.
    margin = start - timedelta(days=1) if start else None
    with engine.connect() as conn:
        query = select(db.calls.c.call_sid, db.calls.c.started_at, db.calls.c.ended_at)
        if start:
            query = query.where(db.calls.c.started_at >= start)
        rows = conn.execute(query).all()
        query = select(db.events).order_by(db.events.c.at, db.events.c.id)
        if margin:
            query = query.where(db.events.c.at >= margin)
        events = [dict(r._mapping) for r in conn.execute(query)]
        query = select(db.screens.c.call_sid, db.screens.c.accepted_at)
        if margin:
            query = query.where(db.screens.c.accepted_at >= margin)
        screens = conn.execute(query).all()
    started = {r.call_sid: db.as_utc(r.started_at) for r in rows}
    ended = {r.call_sid for r in rows if r.ended_at is not None}
    steps: dict = {sid: [] for sid in started}
    for event in events:
        if event["call_sid"] in steps:
            event["outcome"] = Outcome(event["outcome"] or "")
            steps[event["call_sid"]].append(event)
    accepted = {r.call_sid: db.as_utc(r.accepted_at) for r in screens if r.call_sid in started}
    return started, ended, steps, accepted


def _titles(flow) -> dict:
    """Menu names to the titles staff gave them."""
    return {name: menu.title for name, menu in flow.menus.items()} if flow is not None else {}


def _place(node: str, titles: dict) -> str:
    """Where in the call a step was, in staff's words."""
    if node == VOICEMAIL_NODE:
        return "the voicemail notice"
    if node == SAVED_NODE:
        return "after leaving a message"
    if node == UNSAVED_NODE:
        return "after a message that could not be saved"
    return titles.get(node, node or "unknown")


def _hang_up_place(events: list, titles: dict) -> str:
    """Where an ended call was when the caller hung up."""
    if not events:
        return "before the greeting"
    last = events[-1]
    outcome = last["outcome"]
    if outcome == Outcome.TALKED:
        return "after talking with a counselor"
    if outcome.is_ringing:
        return "while a counselor's phone rang"
    if outcome == Outcome.CRISIS_LINE:
        return "while the crisis line rang"
    if outcome.awaits_message:
        return "at voicemail, before a message"
    return _place(last["node"], titles)


def _transfers(events: list, ended: bool):
    """Each transfer of a call (from a caller put through to how it ended) and its rings' results."""
    found, current = [], None
    for event in events:
        outcome, kind = event["outcome"], event["input_kind"] or ""
        if outcome.starts_transfer:
            if current is not None:
                found.append(current)
            current = [None, []]
        if current is None or not kind.startswith("dial"):
            continue
        status = kind.split(":", 1)[1] if ":" in kind else "completed"
        if outcome == Outcome.TALKED:
            current[0] = "answered"
            current[1].append("answered")
        else:
            current[1].append(status)
            if outcome == Outcome.VOICEMAIL:
                current[0] = "voicemail"
            elif outcome == Outcome.CRISIS_LINE:
                current[0] = "crisis line"
    if current is not None:
        found.append(current)
    for outcome, rings in found:
        yield outcome or ("hung up while ringing" if ended else "still ringing"), rings


def _count(labels) -> list:
    """(label, count) pairs, most common first."""
    return Counter(labels).most_common()


def _share(part: int, whole: int) -> str:
    """A share as a whole percentage."""
    return f"{round(100 * part / whole)}%" if whole else "-"


def _duration(seconds: float) -> str:
    """Seconds as m:ss."""
    seconds = round(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}"


def wait_summary(report: Report) -> str:
    """Median, 90th percentile and longest wait for a counselor, in words."""
    waits = report.waits
    if not waits:
        return "no calls reached a counselor who pressed 1"
    p90 = waits[min(len(waits) - 1, int(0.9 * len(waits)))]
    return (f"median {_duration(statistics.median(waits))}, 9 in 10 within {_duration(p90)}, "
            f"longest {_duration(waits[-1])} ({len(waits)} calls)")


def wait_buckets(report: Report) -> list:
    """How many waits fall in each band (under 30 s, ...)."""
    counts = Counter()
    for seconds in report.waits:
        label = next(label for limit, label in WAIT_BUCKETS if limit is None or seconds < limit)
        counts[label] += 1
    return [(label, counts[label]) for _, label in WAIT_BUCKETS]


# -- the terminal table ----------------------------------------------------------------------

def text(report: Report) -> str:
    """The report as a short table for the terminal."""
    since = f"Calls since {report.since.isoformat()}" if report.since else "All recorded calls"
    rows: list = [(f"{since} (days in {report.zone})", "", "")]

    def section(title: str, pairs, whole: int | None = None) -> None:
        rows.append((title, "", ""))
        indent = " " * (len(title) - len(title.lstrip()) + 2)
        for label, n in pairs:
            rows.append((indent + label, str(n), _share(n, whole) if whole else ""))

    rows.append(("calls", str(report.calls), ""))
    rows.append(("  after hours", str(report.after_hours), _share(report.after_hours, report.calls)))
    for label, n in report.languages:
        rows.append((f"  in {label}", str(n), _share(n, report.calls)))
    section("calls per day", report.per_day)
    section("topics callers heard (calls)", report.topics, report.calls)
    rows.append(("asked for a counselor (calls)", str(report.asked), _share(report.asked, report.calls)))
    section("  asked from", report.asked_from)
    rows.append(("put through after silence or wrong keys", str(report.put_through), ""))
    rows.append(("crisis words heard (calls)", str(report.crisis), _share(report.crisis, report.calls)))
    section("  heard at", report.crisis_from)
    rows.append(("  rolled over to the crisis line", str(report.crisis_line), ""))
    section(f"transfers ({report.transfer_count}), how they ended", report.transfers, report.transfer_count)
    section("counselor rings", report.rings)
    rows.append(("time to a counselor", wait_summary(report), ""))
    section("where callers hung up", report.hung_up, sum(n for _, n in report.hung_up))
    width = max(len(r[0]) for r in rows) + 2
    lines = []
    for label, count, share in rows:
        if not count and not share:
            lines.append(label)
        elif count.isdigit():
            lines.append(f"{label:<{width}}{count:>6}  {share:>4}".rstrip())
        else:
            lines.append(f"{label:<{width}}{count}")
    return "\n".join(lines) + "\n"


# -- the page of charts ----------------------------------------------------------------------

COLORS = ("#2f6f8f", "#d08c2c", "#5b8c5a", "#a2536b", "#6c6aa8", "#8a8a8a")


def page(report: Report, name: str = "Recovery Helpline") -> str:
    """The report as one HTML page: inline SVG charts, no scripts, nothing fetched."""
    since = f"calls since {report.since.isoformat()}" if report.since else "all recorded calls"
    parts = [
        f"<h1>{_e(name)}: {_e(since)}</h1>",
        f"<p class=note>Days in {_e(report.zone)}. {report.calls} calls; {report.after_hours} after hours "
        f"({_share(report.after_hours, report.calls)}). No caller is named here.</p>",
        _figure("Calls per day", _columns(report.per_day)),
        _figure("After hours and in office hours", _stack(
            [("after hours", report.after_hours), ("office hours", report.calls - report.after_hours)])),
        _figure("Languages", _stack(report.languages)),
        _figure("Topics callers heard (calls)", _bars(report.topics)),
        _figure(f"Asked for a counselor: {report.asked} calls ({_share(report.asked, report.calls)}); "
                "from where", _bars(report.asked_from)),
        _figure(f"Crisis words heard: {report.crisis} calls ({_share(report.crisis, report.calls)}); "
                f"{report.crisis_line} rolled over to the crisis line; heard at", _bars(report.crisis_from)),
        _figure(f"Transfers ({report.transfer_count}): how they ended", _bars(report.transfers)),
        _figure("Counselor rings", _bars(report.rings)),
        _figure(f"Time from the start of a call to a counselor: {wait_summary(report)}",
                _bars(wait_buckets(report))),
        _figure("Where callers hung up", _bars(report.hung_up)),
    ]
    return ("<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
            f"<title>{_e(name)}: call report</title><style>{STYLE}</style></head><body>\n"
            + "\n".join(parts) + "\n</body></html>\n")


STYLE = ("body{font:16px/1.5 system-ui,sans-serif;color:#222;max-width:56rem;margin:2rem auto;padding:0 1rem}"
         "h1{font-size:1.5rem}h2{font-size:1.1rem;margin:2rem 0 .5rem}.note{color:#555}"
         "svg text{font:14px system-ui,sans-serif;fill:#222}.empty{color:#777;font-style:italic}")


def _e(value) -> str:
    """Escape text for HTML and SVG."""
    return html.escape(str(value), quote=True)


def _figure(title: str, chart: str) -> str:
    """A titled section holding one chart."""
    return f"<section><h2>{_e(title)}</h2>\n{chart}\n</section>"


def _svg(width: float, height: float) -> str:
    """The opening of an inline SVG chart of this size."""
    return (f'<svg role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
            'xmlns="http://www.w3.org/2000/svg">')


def _bars(pairs: list) -> str:
    """Horizontal bars, one per (label, count), labelled with the count."""
    if not pairs or not any(n for _, n in pairs):
        return "<p class=empty>None yet.</p>"
    top = max(n for _, n in pairs)
    shown = [label if len(label) <= 48 else label[:46] + "…" for label, _ in pairs]
    label_w, bar_w, row = max(120, min(400, 8 * max(len(label) for label in shown) + 16)), 380, 28
    height = row * len(pairs) + 8
    out = [_svg(label_w + bar_w + 60, height)]
    for i, (label, n) in enumerate(pairs):
        y = i * row + 4
        width = round(bar_w * n / top) if top else 0
        out.append(f'<text x="{label_w - 8}" y="{y + 18}" text-anchor="end">{_e(shown[i])}</text>'
                   f'<rect x="{label_w}" y="{y + 4}" width="{max(width, 1)}" height="{row - 10}" '
                   f'fill="{COLORS[0]}"><title>{_e(label)}: {n}</title></rect>'
                   f'<text x="{label_w + width + 6}" y="{y + 18}">{n}</text>')
    out.append("</svg>")
    return "".join(out)


def _columns(pairs: list) -> str:
    """Vertical columns, one per (day, count)."""
    if not pairs:
        return "<p class=empty>None yet.</p>"
    top = max(n for _, n in pairs) or 1
    col, gap, chart_h = 44, 10, 180
    width = max(len(pairs) * (col + gap) + gap, 200)
    out = [_svg(width, chart_h + 60)]
    for i, (day, n) in enumerate(pairs):
        x = gap + i * (col + gap)
        h = round(chart_h * n / top)
        out.append(f'<rect x="{x}" y="{chart_h - h + 20}" width="{col}" height="{max(h, 1)}" fill="{COLORS[0]}">'
                   f'<title>{_e(day)}: {n}</title></rect>'
                   f'<text x="{x + col / 2}" y="{chart_h - h + 14}" text-anchor="middle">{n}</text>'
                   f'<text x="{x + col / 2}" y="{chart_h + 38}" text-anchor="middle">{_e(day[5:])}</text>')
    out.append("</svg>")
    return "".join(out)


def _stack(pairs: list) -> str:
    """One bar split into shares, with a legend giving each count and percentage."""
    whole = sum(n for _, n in pairs)
    if not whole:
        return "<p class=empty>None yet.</p>"
    width, x = 680, 0.0
    out = [_svg(width, 40 + 24 * len(pairs))]
    for i, (label, n) in enumerate(pairs):
        w = width * n / whole
        color = COLORS[i % len(COLORS)]
        out.append(f'<rect x="{x:.1f}" y="4" width="{w:.1f}" height="24" fill="{color}">'
                   f'<title>{_e(label)}: {n}</title></rect>')
        out.append(f'<rect x="0" y="{40 + 24 * i}" width="14" height="14" fill="{color}"/>'
                   f'<text x="22" y="{52 + 24 * i}">{_e(label)}: {n} ({_share(n, whole)})</text>')
        x += w
    out.append("</svg>")
    return "".join(out)
