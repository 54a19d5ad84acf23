"""Staff accounts end to end through gunicorn: add, sign in, sign out, expiry, removal and
password changes end sessions, guessing slowed across replicas, and the audit trail."""
import os
import re
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests
from sqlalchemy import select, update

from ivr import accounts, audit, db, sessions
from tests.attack import CALLER
from tests.conftest import PUBLIC_URL, ROOT, TOKEN, free_port
from tests.staffing import PASSWORD, Browser, add_account, engine, ivr, message_call, store_url  # noqa: F401
from tests.twilio_standin import api_settings, standin, with_audio  # noqa: F401

pytestmark = pytest.mark.slow
LINE = {"TWILIO_AUTH_TOKEN": TOKEN, "IVR_PUBLIC_URL": PUBLIC_URL}


# -- the command line ------------------------------------------------------------------------

def test_staff_commands_add_list_change_and_remove_without_ever_showing_a_password(store_url, engine):
    add_account(store_url, "maria", PASSWORD, "--phone", "+1 555 222 0101")
    listed = ivr(store_url, "staff", "list")
    assert listed.returncode == 0 and re.search(r"maria\s+\+15552220101\s+\d{4}-", listed.stdout)
    with engine.connect() as conn:
        stored = conn.execute(select(accounts.accounts.c.password_hash)).scalar_one()
    assert stored.startswith("scrypt:") and PASSWORD not in stored
    again = ivr(store_url, "staff", "add", "maria", stdin="another long passphrase\n")
    assert again.returncode == 1 and "already an account 'maria'" in again.stderr
    weak = ivr(store_url, "staff", "add", "sam", stdin="short\n")
    assert weak.returncode == 1 and "at least 10" in weak.stderr
    bad_phone = ivr(store_url, "staff", "add", "sam", "--phone", "555", stdin=PASSWORD + "\n")
    assert bad_phone.returncode == 1 and "E.164" in bad_phone.stderr
    phoned = ivr(store_url, "staff", "phone", "maria", "+15552220199")
    assert phoned.returncode == 0 and accounts.phone_of(engine, "maria") == "+15552220199"
    changed = ivr(store_url, "staff", "password", "maria", stdin="a brand new passphrase\n")
    assert changed.returncode == 0 and "sessions are ended" in changed.stdout
    assert accounts.verify(engine, "maria", "a brand new passphrase") == "maria"
    assert accounts.verify(engine, "maria", PASSWORD) is None
    removed = ivr(store_url, "staff", "remove", "maria")
    assert removed.returncode == 0 and "No staff accounts" in ivr(store_url, "staff", "list").stdout
    missing = ivr(store_url, "staff", "remove", "maria")
    assert missing.returncode == 1 and "no account 'maria'" in missing.stderr
    for done in (listed, again, weak, changed, removed):
        assert PASSWORD not in done.stdout + done.stderr and "brand new" not in done.stdout + done.stderr
    assert ivr(store_url, "callbacks", "--status", "new").returncode == 0  # the list, read on the server
    assert "no callback request #7" in ivr(store_url, "callbacks", "done", "7").stderr
    trail = ivr(store_url, "audit").stdout
    assert [line.split()[4:6] for line in trail.splitlines()[1:]] == [
        ["account", "added"], ["phone", "changed"], ["password", "changed"], ["account", "removed"],
        ["view", "callbacks"]]
    assert "0 shown, status new" in trail and "command line on" in trail


# -- signing in and out ----------------------------------------------------------------------

def test_sign_in_see_the_callbacks_sign_out_and_the_cookie_is_dead(serve, store_url, engine):
    server = serve(LINE)
    add_account(store_url, "maria")
    browser = Browser(server.base)
    asked = browser.get("/staff/callbacks?status=new")
    assert asked.status_code == 303 and asked.headers["Location"].startswith("/staff/login?next=")
    there = browser.post("/staff/login", data={"username": "maria", "password": "not it",
                                               "next": "https://evil.example.com/"})
    assert there.status_code == 401 and 'value="/staff/callbacks"' in there.text  # only our own paths
    form = browser.get("/staff/login")
    assert form.status_code == 200 and 'name="username"' in form.text and 'name="password"' in form.text
    wrong = browser.sign_in("maria", "not the passphrase")
    assert wrong.status_code == 401 and "do not match" in wrong.text and not browser.cookies
    signed = browser.sign_in("maria")
    assert signed.status_code == 303 and signed.headers["Location"] == "/staff/callbacks"
    cookie = browser.last_set_cookie
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie  # https public URL
    assert PASSWORD not in cookie and "maria" not in cookie
    for _ in range(6):  # both workers know the session: it is in the store
        page = browser.get("/staff/callbacks")
        assert page.status_code == 200 and "Callbacks: Recovery Helpline" in page.text
    assert page.headers["X-Frame-Options"] == "DENY" and page.headers["Referrer-Policy"] == "no-referrer"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert browser.get("/simulator").status_code == 200 and browser.get("/metrics").status_code == 200
    kept = dict(browser.cookies)
    out = browser.post("/staff/logout")
    assert out.status_code == 303 and out.headers["Location"] == "/staff/login?out=1" and not browser.cookies
    stolen = Browser(server.base)
    stolen.cookies = kept  # a copy of the cookie kept from before signing out
    assert stolen.get("/staff/callbacks").status_code == 303
    assert stolen.get("/metrics", headers={"Accept": "*/*"}).status_code == 401
    # Somebody else's cookie, or one signed with another key, is nobody's.
    forged = Browser(server.base)
    forged.cookies = {"ivr_staff": kept["ivr_staff"][:-4] + "AAAA"}
    assert forged.get("/staff/callbacks").status_code == 303


def test_a_session_ends_after_a_working_day_without_use(serve, store_url, engine):
    server = serve(LINE)
    add_account(store_url, "maria")
    browser, other = Browser(server.base), Browser(server.base)
    assert browser.sign_in("maria").status_code == 303 and other.sign_in("maria").status_code == 303
    with engine.begin() as conn:  # one session last used 10 h 1 min ago, the other 9 h ago
        rows = conn.execute(select(sessions.sessions.c.token_hash).order_by(sessions.sessions.c.created_at)).scalars().all()
        now = datetime.now(timezone.utc)
        conn.execute(update(sessions.sessions).where(sessions.sessions.c.token_hash == rows[0])
                     .values(seen_at=now - sessions.IDLE - timedelta(minutes=1)))
        conn.execute(update(sessions.sessions).where(sessions.sessions.c.token_hash == rows[1])
                     .values(seen_at=now - timedelta(hours=9)))
    assert browser.get("/staff/callbacks").status_code == 303  # idle too long: sign in again
    assert other.get("/staff/callbacks").status_code == 200  # still within the working day...
    with engine.connect() as conn:  # ...and its use moved its last use to now
        seen = conn.execute(select(sessions.sessions.c.seen_at)).scalars().all()
    assert len(seen) == 1 and datetime.now(timezone.utc) - db.as_utc(seen[0]) < timedelta(minutes=1)


def test_removing_an_account_or_changing_its_password_ends_its_sessions(serve, store_url):
    server = serve(LINE)
    add_account(store_url, "maria")
    add_account(store_url, "sam", "another long passphrase")
    maria, sam = Browser(server.base), Browser(server.base)
    assert maria.sign_in("maria").status_code == 303 and sam.sign_in("sam", "another long passphrase").status_code == 303
    assert maria.get("/staff/callbacks").status_code == 200
    assert ivr(store_url, "staff", "password", "maria", stdin="a brand new passphrase\n").returncode == 0
    assert maria.get("/staff/callbacks").status_code == 303
    assert sam.get("/staff/callbacks").status_code == 200  # another account's session goes on
    assert maria.sign_in("maria", "a brand new passphrase").status_code == 303
    assert ivr(store_url, "staff", "remove", "maria").returncode == 0
    assert maria.get("/staff/callbacks").status_code == 303
    add_account(store_url, "maria", "a brand new passphrase")  # a new account of the same name...
    assert maria.get("/staff/callbacks").status_code == 303  # ...is not the old session's


def test_curl_with_http_basic_and_an_account(serve, store_url):
    server = serve(LINE)
    add_account(store_url, "maria")
    assert requests.get(server.base + "/metrics", timeout=10).status_code == 401
    good = requests.get(server.base + "/metrics", auth=("maria", PASSWORD), timeout=10)
    assert good.status_code == 200 and "ivr_staff_sign_ins_total" in good.text
    page = requests.get(server.base + "/staff/callbacks", auth=("Maria", PASSWORD), timeout=10)
    assert page.status_code == 200 and "Callbacks:" in page.text


# -- guessing ------------------------------------------------------------------------------

def test_guessing_is_refused_after_five_failures_across_replicas(serve, store_url, engine):
    """Two replicas of two workers each, one store: the count is shared (hole 3)."""
    one, two = serve(LINE), serve(LINE)
    add_account(store_url, "maria")
    for n in range(5):
        server = (one, two)[n % 2]
        tried = Browser(server.base, f"198.51.100.{n + 1}").sign_in("maria", f"guess {n}")
        assert tried.status_code == 401, n
    # The right password, from yet another address: refused, with when to come back.
    locked = Browser(two.base, "198.51.100.77").sign_in("maria")
    assert locked.status_code == 429 and "Too many wrong passwords" in locked.text
    assert 14 * 60 <= int(locked.headers["Retry-After"]) <= 15 * 60
    assert requests.get(one.base + "/metrics", auth=("maria", PASSWORD), timeout=10).status_code == 429
    # An address that tried five names is refused for a sixth, whatever the name.
    for n in range(5):
        assert Browser(one.base, "203.0.113.5").sign_in(f"nobody{n}", "guess").status_code == 401
    assert Browser(two.base, "203.0.113.5").sign_in("sam", "guess").status_code == 429
    # Fifteen minutes on, the name may try again.
    with engine.begin() as conn:
        conn.execute(update(lockout_table()).values(at=datetime.now(timezone.utc) - timedelta(minutes=16)))
    assert Browser(one.base, "198.51.100.77").sign_in("maria").status_code == 303
    add_account(store_url, "sam")  # sign in as someone who can read /metrics (each replica counts its own)
    metrics = [requests.get(server.base + "/metrics", auth=("sam", PASSWORD), timeout=10).text for server in (one, two)]
    assert sum(_count(text, 'ivr_staff_sign_ins_total{result="locked"}') for text in metrics) == 3
    assert sum(_count(text, 'ivr_staff_sign_ins_total{result="failed"}') for text in metrics) == 10
    for server in (one, two):
        server.stop()
    logs = one.log_path.read_text() + two.log_path.read_text()
    assert "staff sign-in refused for 'maria' from 198.51.100.77" in logs
    assert "staff sign-in failed for 'maria' from 198.51.100.1" in logs
    assert PASSWORD not in logs and "guess 0" not in logs


def lockout_table():
    from ivr import lockout
    return lockout.failures


def _count(metrics: str, name: str) -> float:
    return float(re.search(re.escape(name) + r" (\S+)", metrics).group(1))


# -- the audit trail -------------------------------------------------------------------------

def test_the_audit_trail_of_a_view_a_listen_and_a_status_change(serve, store_url, engine, standin):
    server = serve({**LINE, **api_settings(standin)})  # messages play from the stand-in of Twilio's API
    add_account(store_url, "maria")
    add_account(store_url, "sam")
    call = message_call(server, standin.account)
    sid = with_audio(standin, call)
    (row,) = db.list_callbacks(engine)
    maria = Browser(server.base, "198.51.100.23")
    maria.sign_in("maria")
    page = maria.get("/staff/callbacks")
    assert CALLER in page.text
    listen = maria.get(f"/staff/callbacks/{row['id']}/recording")  # through the line, audited first
    assert listen.status_code == 200 and listen.content == standin.recordings[sid]
    token = re.search(r'name="token" value="([0-9a-f]+)"', page.text).group(1)
    marked = maria.post(f"/staff/callbacks/{row['id']}", data={"status": "called_back", "token": token})
    assert marked.status_code == 303
    sam = Browser(server.base, "203.0.113.40")
    sam.sign_in("sam")
    sam.get("/staff/callbacks?status=new")
    sam.post("/staff/logout")
    entries = [(e["who"], e["action"], e["what"], e["place"]) for e in audit.entries(engine)]
    assert entries[-7:] == [
        ("maria", "sign in", "account maria", "198.51.100.23"),
        ("maria", "view callbacks", "1 shown", "198.51.100.23"),
        ("maria", "listen", f"callback {row['id']}", "198.51.100.23"),
        ("maria", "status", f"callback {row['id']} marked called_back", "198.51.100.23"),
        ("sam", "sign in", "account sam", "203.0.113.40"),
        ("sam", "view callbacks", "0 shown, status new", "203.0.113.40"),
        ("sam", "sign out", "account sam", "203.0.113.40"),
    ]
    printed = ivr(store_url, "audit", "--user", "maria").stdout.splitlines()
    assert len(printed) == 5 and "maria" in printed[1] and "listen" in printed[3]
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC +maria +status +callback \d+ marked called_back +198.51.100.23",
                    printed[4])
    assert CALLER not in "\n".join(printed)  # the trail names callbacks by number, never a caller's
    today = datetime.now(timezone.utc).strftime("%Y-%m-%d")
    assert len(ivr(store_url, "audit", "--since", today).stdout.splitlines()) == 1 + len(audit.entries(engine))
    assert "No audit entries" in ivr(store_url, "audit", "--since", "2999-01-01").stdout


def test_purge_keeps_the_audit_trail_for_its_own_retention(store_url, engine):
    add_account(store_url, "maria")
    now = datetime.now(timezone.utc)
    for days in (40, audit.RETENTION_DAYS - 1, audit.RETENTION_DAYS + 1):
        with engine.begin() as conn:
            conn.execute(audit.trail.insert().values(at=now - timedelta(days=days), who="maria", action="listen",
                                                     what=f"callback {days}", place="198.51.100.1"))
    done = ivr(store_url, "purge", "--older-than", "30")
    assert done.returncode == 0 and "and 1 audit entry older than 2190 days" in done.stdout
    kept = {e["what"] for e in audit.entries(engine)}
    assert {"callback 40", f"callback {audit.RETENTION_DAYS - 1}"} <= kept
    assert f"callback {audit.RETENTION_DAYS + 1}" not in kept


# -- no account at all ---------------------------------------------------------------------

def test_with_no_account_staff_pages_answer_only_a_loopback_development_line(serve):
    dev = serve({})
    assert requests.get(dev.base + "/staff/callbacks", timeout=10).status_code == 200
    assert requests.get(dev.base + "/metrics", timeout=10).status_code == 200
    # Through a proxy (a request from anywhere), or on a line that is not in development: no.
    proxied = requests.get(dev.base + "/staff/callbacks", headers={"X-Forwarded-For": "203.0.113.9"}, timeout=10)
    assert proxied.status_code == 401 and "no staff account yet" in proxied.text
    production = serve({**LINE, "IVR_ENV": "production"})
    for path in ("/staff/callbacks", "/simulator", "/metrics"):
        assert requests.get(production.base + path, timeout=10).status_code == 401, path
    dev.stop()
    production.stop()
    assert "No staff account: staff pages (/staff, /simulator, /metrics) answer only on a loopback bind" \
        in dev.log_path.read_text()
    assert "No staff account: staff pages (/staff, /simulator, /metrics) refuse everyone" \
        in production.log_path.read_text()


def test_with_no_account_a_line_bound_to_another_address_refuses(tmp_path):
    address = _outside_address()
    if address is None:
        pytest.skip("this machine has no address but loopback")
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'wide.db'}", "IVR_SECRET_KEY": "test-secret",
           "IVR_CALL_FLOWS": str(ROOT / "call_flows.yaml")}
    with open(tmp_path / "wide.log", "ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "--bind", f"{address}:{port}",
             "--workers", "1", "ivr:create_app()"],
            cwd=str(ROOT), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        base = f"http://{address}:{port}"
        _wait_up(base, proc)
        refused = requests.get(base + "/staff/callbacks", timeout=10)
        assert refused.status_code == 401 and "no staff account yet" in refused.text
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)


def _outside_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))
            address = sock.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def _wait_up(base: str, proc) -> None:
    """Wait until the one worker answers (or gunicorn gave up)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if requests.get(base + "/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not come up at {base}")


def test_ivr_staff_password_becomes_the_account_staff(serve, store_url):
    """The migration path: an upgraded line keeps its shared password as the account 'staff'."""
    server = serve({**LINE, "IVR_ENV": "production", "IVR_STAFF_PASSWORD": "the old shared one"})
    assert requests.get(server.base + "/staff/", auth=("staff", "the old shared one"), timeout=10).status_code == 200
    assert "staff " in ivr(store_url, "staff", "list").stdout
    add_account(store_url, "maria")
    assert ivr(store_url, "staff", "remove", "staff").returncode == 0
    assert requests.get(server.base + "/staff/", auth=("staff", "the old shared one"), timeout=10).status_code == 401
    assert requests.get(server.base + "/staff/", auth=("maria", PASSWORD), timeout=10).status_code == 200
    server.stop()
    assert "IVR_STAFF_PASSWORD is now the staff account 'staff'" in server.log_path.read_text()
