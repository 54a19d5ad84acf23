"""`ivr report`: calls driven through the real routes, then every figure checked against them."""
import time
from collections import Counter
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from ivr import create_app, db, parts
from ivr import report as stats
from ivr.cli import main
from ivr.flow import load_flow
from ivr.phone import Phone, client_post
from tests.conftest import ROOT, SUNDAY_3AM, WEEKDAY_MORNING

DESK = ZoneInfo("America/New_York")
FLOW = load_flow(ROOT / "call_flows.yaml")
TITLE = {name: menu.title for name, menu in FLOW.menus.items()}


# Each call returns what it did, in the report's words, so the expected figures are added
# up from the calls themselves rather than read back from the store.

def answered_from_detox(call, line):
    call.dial_in()
    call.press("1")
    call.press("0")
    call.ring_ends("completed", counselor_keys="1")
    call.hang_up()
    return dict(topics=["detox"], asked_from=["detox"], transfers=["answered"], rings=["answered"],
                hung_up="after talking with a counselor", waited=True)


def rehab_then_voicemail(call, line):
    call.dial_in()
    call.press("2")
    call.say("counselor please")
    call.ring_ends("no-answer")
    call.ring_ends("busy")
    call.stay_silent()
    call.leave_message(30)
    call.hang_up()
    return dict(topics=["rehab"], asked_from=["rehab"], transfers=["voicemail"], rings=["no answer", "busy"],
                hung_up="after leaving a message")


def spanish_aftercare(call, line):
    call.dial_in()
    call.press("8")
    call.press("3")
    call.press("1")
    call.hang_up()
    return dict(lang="Spanish", topics=["aftercare", "aftercare_detail"],
                hung_up=TITLE["aftercare_detail"])


def after_hours_busy_on_call(call, line):
    line.config["IVR_NOW"] = SUNDAY_3AM
    try:
        call.dial_in()
        call.press("0")
        assert call.last_dial.numbers == ("+15555550120",)
        call.ring_ends("busy")
        call.hang_up()
    finally:
        line.config["IVR_NOW"] = WEEKDAY_MORNING
    return dict(after_hours=True, asked_from=[FLOW.start], transfers=["voicemail"], rings=["busy"],
                hung_up="at voicemail, before a message")


def silent_then_hangs_up_while_ringing(call, line):
    call.dial_in()
    call.stay_silent()
    call.stay_silent()
    call.ring_ends("no-answer")
    call.hang_up()
    return dict(put_through=1, transfers=["hung up while ringing"], rings=["no answer"],
                hung_up="while a counselor's phone rang")


def choosing_repeat_wrong_key(call, line):
    call.dial_in()
    call.press("5")
    call.press("1")
    call.press("*")
    call.press("5")
    call.hang_up()
    return dict(topics=["family", "choosing"], hung_up=TITLE["choosing"])


def still_listening_to_detox(call, line):
    call.dial_in()
    call.press("1")
    return dict(topics=["detox"])


CALLS = (answered_from_detox, rehab_then_voicemail, spanish_aftercare, after_hours_busy_on_call,
         silent_then_hangs_up_while_ringing, choosing_repeat_wrong_key, still_listening_to_detox)


@pytest.fixture
def line(settings, database_url):
    """The line on each store the report reads (SQLite and PostgreSQL), with no calls yet."""
    app = create_app({**settings, "DATABASE_URL": database_url})
    with parts.storage(app).engine.begin() as conn:  # the PostgreSQL database lasts the session
        for table in (db.events, db.calls, db.screens, db.callbacks):
            conn.execute(table.delete())
    return app


def drive(line) -> tuple[dict, list]:
    """Make every call; return their phones and what they did."""
    client = line.test_client()
    phones, facts = {}, []
    for scenario in CALLS:
        call = Phone(client_post(client), caller="+15551234567")
        before = time.time()
        fact = scenario(call, line)
        fact.update(call=call, elapsed=time.time() - before)
        phones[scenario.__name__] = call
        facts.append(fact)
    assert parts.storage(line).sink.wait()
    return phones, facts


def expected(facts: list) -> dict:
    """The report's figures, added up from what each call did."""
    ended = [f for f in facts if "hung_up" in f]
    topics = Counter(TITLE[t] for f in facts for t in f.get("topics", []))
    asked_from = Counter(TITLE[m] for f in facts for m in f.get("asked_from", []))
    return {
        "calls": len(facts),
        "after_hours": sum(1 for f in facts if f.get("after_hours")),
        "languages": Counter(f.get("lang", "English") for f in facts),
        "topics": topics,
        "asked": sum(1 for f in facts if f.get("asked_from")),
        "asked_from": asked_from,
        "put_through": sum(f.get("put_through", 0) for f in facts),
        "transfers": Counter(t for f in facts for t in f.get("transfers", [])),
        "rings": Counter(r for f in facts for r in f.get("rings", [])),
        "hung_up": Counter(f["hung_up"] for f in ended),
        "waits": sum(1 for f in facts if f.get("waited")),
    }


def test_report_counts_exactly_the_calls_made(line, runner, tmp_path):
    day_before = datetime.now(DESK).date()
    phones, facts = drive(line)
    day_after = datetime.now(DESK).date()
    want = expected(facts)
    engine = parts.storage(line).engine
    got = stats.gather(engine, FLOW, None, DESK)

    assert got.calls == want["calls"] == 7
    assert got.after_hours == want["after_hours"] == 1
    assert Counter(dict(got.languages)) == want["languages"]
    assert Counter(dict(got.topics)) == want["topics"]
    assert got.asked == want["asked"] == 3
    assert Counter(dict(got.asked_from)) == want["asked_from"]
    assert got.put_through == want["put_through"] == 1
    assert Counter(dict(got.transfers)) == want["transfers"]
    assert Counter(dict(got.rings)) == want["rings"]
    assert Counter(dict(got.hung_up)) == want["hung_up"]
    if day_before == day_after:  # not across midnight in New York
        assert got.per_day == [(day_before.isoformat(), 7)]
    # The one answered call: from its start to the counselor pressing 1, within the test's own clock.
    answered = next(f for f in facts if f.get("waited"))
    assert len(got.waits) == want["waits"] == 1
    assert 0 <= got.waits[0] <= answered["elapsed"]


def test_days_and_since(line):
    phones, facts = drive(line)
    engine = parts.storage(line).engine
    moved = [phones[name].call_sid for name in ("spanish_aftercare", "choosing_repeat_wrong_key")]
    with engine.begin() as conn:  # two of the calls were made three days ago
        for table, key, column in ((db.calls, db.calls.c.call_sid, "started_at"), (db.events, db.events.c.id, "at")):
            rows = conn.execute(select(key, table.c[column]).where(table.c.call_sid.in_(moved))).all()
            for row_key, when in rows:
                conn.execute(update(table).where(key == row_key).values({column: when - timedelta(days=3)}))
    today = datetime.now(DESK).date()
    everything = stats.gather(engine, FLOW, None, DESK)
    if (datetime.now(DESK) - timedelta(hours=1)).date() == today:  # clear of midnight
        earlier = (datetime.now(DESK) - timedelta(days=3)).date()
        assert everything.per_day == [(earlier.isoformat(), 2), (today.isoformat(), 5)]
    recent = stats.gather(engine, FLOW, today - timedelta(days=1), DESK)
    assert recent.calls == 5
    assert ("Spanish", 1) not in recent.languages
    assert TITLE["choosing"] not in dict(recent.topics)
    assert sum(n for _, n in recent.hung_up) == 4


def test_ivr_report_prints_a_table_and_writes_charts(line, runner, tmp_path, database_url):
    drive(line)
    page = tmp_path / "report.html"
    env = {"DATABASE_URL": database_url, "IVR_CALL_FLOWS": str(ROOT / "call_flows.yaml")}
    result = runner.invoke(main, ["report", "--html", str(page)], env=env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.split()[:1] == ["calls"] and line.split()[1] == "7" for line in lines)
    assert any("in Spanish" in line and line.split()[-2:] == ["1", "14%"] for line in lines)
    assert any(line.strip().startswith("answered") and " 1 " in line for line in lines)
    assert "5551234567" not in result.output
    chart = page.read_text()
    assert chart.count("<svg") >= 8 and "<script" not in chart and "http://" not in chart.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    assert ">Spanish: 1 (14%)<" in chart
    assert f"{TITLE['aftercare_detail']}: 1</title>" in chart
    assert "5551234567" not in chart
    since = runner.invoke(main, ["report", "--since", "2999-01-01"], env=env)
    assert since.exit_code == 0 and any(line.split()[:2] == ["calls", "0"] for line in since.output.splitlines())
