"""Load with edits and a killed worker, and two replicas sharing PostgreSQL serving one call."""
import itertools
import os
import random
import signal
import threading
import time
import urllib.request
from http.client import HTTPException
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, select

from ivr import db
from ivr.phone import CallDropped, Phone, http_post
from tests.attack import CALLER, signature
from tests.conftest import PUBLIC_URL, TOKEN

pytestmark = pytest.mark.slow

CALLERS = 10          # calls in progress at once
CALLS = 200           # calls in all
MAX_SECONDS = 40      # and never longer than this
STEPS = 9             # things each caller does


class Twilio:
    """Posts the way Twilio does: when a request gets no answer at all, it fetches /fallback."""

    def __init__(self, base: str):
        self.base, self.post = base, http_post(timeout=15)
        self.lock = threading.Lock()
        self.dropped: list[tuple] = []  # (monotonic time, path) of requests that got no answer
        self.answers: list[int] = []

    def __call__(self, url: str, form: dict, headers: dict):
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        try:
            status, body = self.post(self.base + path, form, headers)
        except (OSError, HTTPException):  # reset, refused, closed mid-answer: a worker died
            with self.lock:
                self.dropped.append((time.monotonic(), parts.path))
            fallback = f"{PUBLIC_URL}/fallback"
            form = {**form, "ErrorCode": "11200", "ErrorUrl": url}
            headers = {"X-Twilio-Signature": signature(fallback, form)}
            status, body = self.post(self.base + "/fallback", form, headers)
        with self.lock:
            self.answers.append(status)
        return status, body


def _walk(call: Phone, rng: random.Random) -> None:
    """A caller (and the counselors) doing what people do, whatever the line is waiting for."""
    call.dial_in()
    for _ in range(STEPS):
        if call.waiting == "gather":
            rng.choice([lambda: call.press(rng.choice("0123456789*#")), call.stay_silent,
                        lambda: call.say(rng.choice(["counselor", "detox", "repeat", "mumble", "he overdosed"]))])()
        elif call.waiting == "dial":
            choice = rng.random()
            if choice < 0.2:
                call.ring_ends("completed", counselor_keys="1")
            else:
                call.ring_ends(rng.choice(["no-answer", "busy", "failed"]))
        elif call.waiting == "record":
            call.leave_message(rng.randint(3, 60)) if rng.random() < 0.7 else call.record_nothing()
        else:
            return
        time.sleep(rng.uniform(0, 0.05))  # the caller listens a moment


def _edits(flow_dir: Path):
    """Good and bad versions of the call-flow file and a prompt, each with a mark we can hear."""
    good = (flow_dir / "call_flows.yaml").read_text()
    welcome = flow_dir / "prompts" / "en" / "welcome.txt"
    text = welcome.read_text()
    for n in itertools.count():
        yield "good prompt", lambda: _replace(welcome, f"(edit {n}) " + text)
        yield "bad yaml", lambda: _replace(flow_dir / "call_flows.yaml", good + "\nmenus: [\n")
        yield "undefined menu", lambda: _replace(flow_dir / "call_flows.yaml",
                                                 good.replace('"1": detox', '"1": detoxx', 1))
        yield "half written", lambda: (flow_dir / "call_flows.yaml").write_text(good[: len(good) // 2])
        yield "good yaml", lambda: _replace(flow_dir / "call_flows.yaml", good)


def _replace(path: Path, content: str) -> None:
    """Replace a file the way an editor does: write a new one and move it over the old."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(content)
    os.replace(tmp, path)


def test_load_with_edits_and_a_killed_worker_drops_no_caller(serve, flow_dir):
    server = serve({"TWILIO_AUTH_TOKEN": TOKEN, "IVR_PUBLIC_URL": PUBLIC_URL,
                    "IVR_CALL_FLOWS": str(flow_dir / "call_flows.yaml")}, workers=3)
    twilio = Twilio(server.base)
    original = (flow_dir / "call_flows.yaml").read_text()
    started, failures, finished = time.monotonic(), [], []
    numbers = iter(range(CALLS))
    lock = threading.Lock()

    def caller(seed: int):
        rng = random.Random(seed)
        while time.monotonic() - started < MAX_SECONDS:
            with lock:
                if next(numbers, None) is None:
                    return
            call = Phone(twilio, base=PUBLIC_URL, auth_token=TOKEN, caller=CALLER)
            try:
                _walk(call, rng)
            except (CallDropped, OSError, HTTPException) as exc:
                failures.append(f"{call.call_sid}: {exc}")
            finished.append(call)

    threads = [threading.Thread(target=caller, args=(seed,)) for seed in range(CALLERS)]
    for thread in threads:
        thread.start()
    kills, edits = [], _edits(flow_dir)
    while any(t.is_alive() for t in threads):
        name, edit = next(edits)
        edit()
        if len(finished) >= CALLS * (len(kills) + 1) // 4 and len(kills) < 2:  # at 25% and 50%
            kills.append(time.monotonic())
            os.kill(random.choice(server.workers_now()), signal.SIGKILL)  # a worker dies mid-load
        time.sleep(1.0)  # long enough for the line to judge each version (it waits for a save to settle)
    for thread in threads:
        thread.join(60)
    _replace(flow_dir / "call_flows.yaml", original)

    print(f"{len(finished)} calls, {len(twilio.answers)} answers, {len(twilio.dropped)} dropped by the kills")
    assert not failures, failures[:5]
    assert len(finished) == CALLS, f"only {len(finished)} calls in {MAX_SECONDS}s"
    assert set(twilio.answers) == {200}  # every answer we gave was TwiML, none an error
    for call in finished:
        kinds = [h.kind for h in call.heard]
        assert "end" not in kinds, call.heard
        talked = call.requests[-1][1].get("DialCallStatus") == "completed"
        # Silence after a saved message ends the call: the caller chose to, by leaving it.
        said_goodbye = "/voice/silence?n=_saved" in call.heard[-1].doc
        assert call.waiting in ("gather", "dial", "record") or (kinds[-1] == "hangup" and (talked or said_goodbye)), \
            call.heard[-3:]
    # A request only ever went unanswered when its worker was killed under it; Twilio then
    # fetched /fallback, and the caller heard the apology and was put through.
    for when, path in twilio.dropped:
        assert any(0 <= when - kill < 5 for kill in kills), (path, when, kills)
    assert len(twilio.dropped) <= 2 * 3 * 4  # at most every thread of both killed workers
    heard = " ".join(call.said() for call in finished)
    assert "(edit " in heard  # good edits went live under load
    log = server.log_path.read_text()
    assert log.count("was sent SIGKILL") == 2 and log.count("Booting worker") == 3 + 2
    assert "flow edit refused" in log
    assert server.proc.poll() is None
    with urllib.request.urlopen(server.base + "/healthz", timeout=5) as response:
        assert response.status == 200


# -- two replicas, one PostgreSQL, one call ----------------------------------------------------

def _alternating(servers):
    """A load balancer with no sticky sessions: each request goes to the next replica in turn."""
    post, turn, served = http_post(), itertools.count(), []

    def send(url: str, form: dict, headers: dict):
        server = servers[next(turn) % len(servers)]
        parts = urlsplit(url)
        served.append((servers.index(server), parts.path))
        return post(server.base + parts.path + (f"?{parts.query}" if parts.query else ""), form, headers)
    return send, served


def test_two_replicas_sharing_postgresql_serve_one_call(serve, postgres_url):
    env = {"DATABASE_URL": postgres_url, "TWILIO_AUTH_TOKEN": TOKEN, "IVR_PUBLIC_URL": PUBLIC_URL,
           "IVR_SECRET_KEY": "shared-by-replicas"}
    replicas = [serve(env, workers=1), serve(env, workers=1)]

    send, served = _alternating(replicas)
    taken = Phone(send, base=PUBLIC_URL, auth_token=TOKEN, caller=CALLER)
    taken.dial_in()
    taken.press("1")
    taken.press("0")
    taken.ring_ends("completed", counselor_keys="1")  # whisper, 1 on one replica; the ring's end on the other
    assert [h.kind for h in taken.heard[-2:]] == ["say", "hangup"]
    assert "Thank you for calling" in taken.heard[-2].text
    screened = next(i for i, (_, path) in enumerate(served) if path == "/voice/screened")
    assert served[screened + 1][1] == "/voice/dialed" and served[screened][0] != served[screened + 1][0]

    send, served = _alternating(replicas)
    message = Phone(send, base=PUBLIC_URL, auth_token=TOKEN, caller=CALLER)
    message.dial_in()
    message.press("0")
    message.ring_ends("no-answer")
    message.ring_ends("busy")
    message.stay_silent()
    message.leave_message(33)  # the Record action on one replica, its status callback on the other
    message.press("9")
    assert "To learn about detox, press 1" in message.said() and message.waiting == "gather"
    assert {replica for replica, _ in served} == {0, 1}

    engine = create_engine(postgres_url)
    with engine.connect() as conn:
        rows = conn.execute(select(db.callbacks).where(db.callbacks.c.call_sid == message.call_sid)).all()
        accepted = conn.execute(select(db.screens).where(db.screens.c.call_sid == taken.call_sid)).all()
    assert len(rows) == 1 and rows[0].caller == CALLER and rows[0].recording_seconds == 33
    assert len(accepted) == 1
    engine.dispose()
    for replica in replicas:
        replica.stop()
        assert '"POST /voice' in replica.log_path.read_text()  # each served part of the calls
