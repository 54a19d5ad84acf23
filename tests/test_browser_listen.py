"""A staff member plays a caller's message on the callback page, in Debian's Chromium: the line
runs as deployed (production, staff password, signed webhooks) under gunicorn, and fetches the
recording over https from the contract stand-in of Twilio's API, with the account's credentials."""
import os
import shutil
import subprocess
import tempfile

import pytest

from tests.conftest import PUBLIC_URL, ROOT, TOKEN, WEEKDAY_MORNING, Server
from tests.test_browser import ARGS, CHROMIUM, GET_ONE, STAFF
from tests.staffing import add_account, message_call
from tests.test_callbacks import CALLER
from tests.twilio_standin import ACCOUNT, StandIn, api_settings, with_audio

pytestmark = pytest.mark.slow
playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A certificate for 127.0.0.1 that the line is told to trust: production talks https only."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make the stand-in's certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
                    "-out", str(cert)], check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="module")
def twilio(certificate):
    server = StandIn(token=TOKEN).start(ssl_context=tuple(map(str, certificate)))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def line(tmp_path_factory, twilio, certificate):
    folder = tmp_path_factory.mktemp("listen")
    database = f"sqlite:///{folder / 'line.db'}"
    add_account(database, STAFF["username"], STAFF["password"])
    server = Server({"DATABASE_URL": database, "IVR_CALL_FLOWS": str(ROOT / "call_flows.yaml"),
                     "IVR_NOW": WEEKDAY_MORNING, "IVR_SECRET_KEY": "test-secret", "IVR_ENV": "production",
                     "IVR_PUBLIC_URL": PUBLIC_URL,
                     **api_settings(twilio, timeout="5"), "TWILIO_AUTH_TOKEN": TOKEN,
                     "REQUESTS_CA_BUNDLE": str(certificate[0])}, folder / "gunicorn.log", workers=2)
    yield server.start()
    server.stop()


@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:  # as the browser phone's own tests: a failure under CI, else a skip saying why
        if os.environ.get("CI"):
            pytest.fail("/usr/bin/chromium is missing: under CI `make test` installs it (apt-get install chromium)")
        pytest.skip(f"the browser phone's tests need a Chromium, and none was found: {GET_ONE}")
    profile = tempfile.mkdtemp(prefix="ivr-chromium-")
    with playwright.sync_playwright() as driver:
        context = driver.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, headless=True, http_credentials=STAFF, locale="en-US",
            args=ARGS + ["--autoplay-policy=no-user-gesture-required", "--mute-audio"])
        yield context
        context.close()
    shutil.rmtree(profile, ignore_errors=True)


def test_the_callback_page_plays_a_message_through_the_line(line, twilio, browser):
    call = message_call(line, ACCOUNT, seconds=3, caller=CALLER)
    sid = with_audio(twilio, call, seconds=3)

    page = browser.new_page()
    outside, answers = [], []
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(line.base + "/")
               else (outside.append(route.request.url), route.abort()))
    page.on("response", lambda r: "/recording" in r.url and answers.append((r.status, r.headers)))
    page.goto(line.base + "/staff/callbacks")  # the sign-in page first
    page.get_by_label("Name").fill(STAFF["username"])
    page.get_by_label("Password").fill(STAFF["password"])
    page.get_by_role("button", name="Sign in").click()
    audio = page.get_by_label("Message 1")
    expect(audio).to_have_attribute("src", "/staff/callbacks/1/recording")
    page.get_by_role("button", name="Call back #1 now").wait_for()

    audio.evaluate("a => a.play()")
    page.wait_for_function("() => { const a = document.querySelector('audio'); return a.ended || a.currentTime > 0.5; }")
    state = audio.evaluate("a => ({duration: a.duration, error: a.error && a.error.code})")
    assert state["error"] is None and abs(state["duration"] - 3.0) < 0.05
    # Chromium asks for ranges (bytes=0-), and gets them: 206 with Content-Range.
    assert answers and all(status == 206 and headers.get("content-range", "").startswith("bytes 0-")
                           for status, headers in answers)
    assert all(headers.get("cache-control") == "no-store" for _, headers in answers)
    assert outside == [] and sid not in page.content() and "twilio.com" not in page.content()
    assert [s.operation for s in twilio.seen if s.path.endswith(".wav")] and twilio.problems == []
    page.close()
