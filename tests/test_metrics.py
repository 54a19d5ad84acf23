"""GET /metrics under real gunicorn with several workers: counts add up across them; no caller numbers."""
import os
import re
import signal
import time
import urllib.request
from collections import Counter
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, func, select

from ivr import db
from ivr.cli import main
from tests.conftest import PUBLIC_URL, TOKEN

pytestmark = pytest.mark.slow
CALLER = "+15557654321"
WORKERS = 3


def scrape(server) -> dict:
    """Every sample of /metrics as {(name, frozenset(labels)): value}."""
    with urllib.request.urlopen(server.base + "/metrics", timeout=10) as response:
        body = response.read().decode()
    assert CALLER[1:] not in body and CALLER[-7:] not in body  # never a caller's number
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


def total(samples: dict, name: str, **labels) -> float:
    """The sum of a metric's samples that carry these labels."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def wait_for(check, seconds: float = 20.0, poke=None, describe=None):
    """Poll until check() is true (poking the server meanwhile); fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        if poke:
            poke()
        time.sleep(0.1)
    raise AssertionError("gave up waiting: " + (describe() if describe else ""))


@pytest.fixture
def line(serve, flow_dir, tmp_path):
    metrics_dir = tmp_path / "metrics"
    return serve({"TWILIO_AUTH_TOKEN": TOKEN, "IVR_PUBLIC_URL": PUBLIC_URL,
                  "IVR_CALL_FLOWS": str(flow_dir / "call_flows.yaml"),
                  "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}, workers=WORKERS)


def make_calls(line) -> list:
    """Answered, voicemail and greeting-only calls, signed as Twilio signs them."""
    phones = []
    for n in range(3):
        call = line.phone(auth_token=TOKEN, caller=CALLER)
        call.dial_in()
        call.press("1")
        call.press("0")
        call.ring_ends("completed", counselor_keys="1")
        call.hang_up()
        phones.append(call)
    for n in range(2):
        call = line.phone(auth_token=TOKEN, caller=CALLER)
        call.dial_in()
        call.say("counselor")
        call.ring_ends("no-answer")
        call.ring_ends("busy")
        call.stay_silent()
        call.leave_message(15)
        call.hang_up()
        phones.append(call)
    call = line.phone(auth_token=TOKEN, caller=CALLER)
    call.dial_in()
    call.hang_up()
    return phones + [call]


def test_metrics_add_up_across_workers_and_report_shows_the_calls(line, flow_dir, tmp_path):
    # Every worker has booted and says which flow it serves: the gauge sums the three of them.
    wait_for(lambda: total(scrape(line), "ivr_flow_workers") == WORKERS)
    phones = make_calls(line)
    sent = Counter(urlsplit(url).path for call in phones for url, _ in call.requests)
    samples = scrape(line)

    assert total(samples, "ivr_calls_total") == len(phones) == 6
    for path, n in sent.items():
        assert total(samples, "ivr_requests_total", route=path, status="200") == n, path
    assert total(samples, "ivr_request_seconds_count", route="/voice/answer") == sent["/voice/answer"]
    assert total(samples, "ivr_calls_ended_total", status="completed") == 6
    assert total(samples, "ivr_transfers_total", reason="asked") == 5
    assert total(samples, "ivr_transfer_outcomes_total", outcome="answered") == 3
    assert total(samples, "ivr_transfer_outcomes_total", outcome="no-answer") == 2
    assert total(samples, "ivr_transfer_outcomes_total", outcome="busy") == 2
    assert total(samples, "ivr_transfer_outcomes_total", outcome="voicemail") == 2
    version = line.health()["flow"]["version"]
    assert total(samples, "ivr_flow_workers", version=version) == WORKERS
    # The counts above came from more than one worker, each writing its own file.
    counted_by = {name.split("_")[-1] for name in os.listdir(tmp_path / "metrics") if name.startswith("counter_")}
    assert len(counted_by) >= 2

    # `ivr report` reads what the workers wrote (within a moment): the same calls, transfers, hang-ups.
    path = flow_dir / "call_flows.yaml"
    url = line.env["DATABASE_URL"]
    engine = create_engine(url)
    stepped = sum(n for path, n in sent.items()  # every step the workers queue as an event
                  if path in ("/voice", "/voice/answer", "/voice/silence", "/voice/dialed", "/voice/recorded"))
    wait_for(lambda: _ended(engine) == 6 and _count(engine, db.events) == stepped)
    runner = CliRunner()
    page = tmp_path / "report.html"
    result = runner.invoke(main, ["report", "--html", str(page)],
                           env={"DATABASE_URL": url, "IVR_CALL_FLOWS": str(path)})
    assert result.exit_code == 0, result.output
    rows = {}
    for text in result.output.splitlines():
        found = re.fullmatch(r"\s*(.+?)\s{2,}(\d+)(?:\s+(\d+%|-))?", text)
        if found:
            rows.setdefault(found.group(1), found.group(2, 3))
    assert rows["calls"] == ("6", None)
    assert rows["answered"] == ("3", "60%")
    assert rows["voicemail"] == ("2", "40%")
    assert rows["after talking with a counselor"] == ("3", "50%")
    assert rows["after leaving a message"] == ("2", "33%")
    assert "answered: 3</title>" in page.read_text()

    # A worker dies: its counts stay, its live gauge goes (child_exit), a new worker takes its place.
    os.kill(line.workers_now()[0], signal.SIGKILL)
    wait_for(lambda: total(scrape(line), "ivr_flow_workers", version=version) == WORKERS
             and len(line.workers_now()) == WORKERS)
    assert total(scrape(line), "ivr_calls_total") == 6

    # A broken edit is refused and a good one goes live, in every worker.
    good = path.read_text()
    save(path, good.replace("start: welcome", "start: welcom"))
    wait_for(lambda: total(scrape(line), "ivr_flow_reloads_total", result="refused") >= 1, poke=line.health)
    save(path, good.replace("title: detox\n", "title: detox and withdrawal\n"))
    seen = []
    wait_for(lambda: seen.append(line.health()["flow"]["version"]) or seen[-1] != version)
    new = seen[-1]
    wait_for(lambda: total(scrape(line), "ivr_flow_workers", version=new) == WORKERS, poke=line.health,
             describe=lambda: str({k: v for k, v in scrape(line).items() if k[0].startswith("ivr_flow")}))
    after = scrape(line)
    assert total(after, "ivr_flow_workers", version=version) == 0
    assert total(after, "ivr_flow_reloads_total", result="ok") >= WORKERS


def save(path, text: str) -> None:
    """Save a file the way editors do: write a copy, then put it in place."""
    spare = path.with_suffix(".saving")
    spare.write_text(text)
    os.replace(spare, path)


def _count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def _ended(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(db.calls).where(db.calls.c.ended_at.is_not(None))).scalar()


def test_metrics_are_staff_only_in_production(settings, runner):
    from base64 import b64encode

    from ivr import create_app
    from ivr.phone import Phone, client_post
    app = create_app({**settings, "IVR_ENV": "production", "TWILIO_AUTH_TOKEN": TOKEN,
                      "IVR_PUBLIC_URL": PUBLIC_URL, "IVR_STAFF_PASSWORD": "staff-pw"})
    client = app.test_client()
    call = Phone(client_post(client), base=PUBLIC_URL, auth_token=TOKEN, caller=CALLER)
    call.dial_in()
    call.press("0")
    assert client.get("/metrics").status_code == 401
    auth = {"Authorization": "Basic " + b64encode(b"staff:staff-pw").decode()}
    response = client.get("/metrics", headers=auth)
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and response.mimetype == "text/plain"
    assert 'ivr_requests_total{route="/voice/answer",status="200"}' in body
    assert CALLER[1:] not in body and CALLER[-7:] not in body
