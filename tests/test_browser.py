"""The browser phone end to end: a Chromium of the machine's own, driven by Playwright, against real gunicorn.

Under CI (`CI` set) `make test` installs Debian's /usr/bin/chromium when it is missing, and a
missing browser fails. Elsewhere these tests are skipped, saying how to get one, when no Chromium
is found (IVR_CHROMIUM, /usr/bin/chromium, or chromium on the PATH). Playwright only drives it:
its own browser downloads are never used. IVR_UPDATE_SCREENSHOT=1 also refreshes docs/simulator.png.
"""
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.attack import CALLER
from tests.conftest import PUBLIC_URL, ROOT, TOKEN, WEEKDAY_MORNING, Server
from tests.staffing import add_account, message_call

pytestmark = pytest.mark.slow
playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect

GET_ONE = ("install one (Debian or Ubuntu: `sudo apt-get install chromium`; macOS: `brew install --cask "
           "chromium`) or point IVR_CHROMIUM at a Chromium or Chrome binary")


def find_chromium() -> str | None:
    """The Chromium to drive: IVR_CHROMIUM, Debian's, or one on the PATH."""
    for candidate in (os.environ.get("IVR_CHROMIUM"), "/usr/bin/chromium"):
        if candidate and Path(candidate).exists():
            return candidate
    return shutil.which("chromium") or shutil.which("chromium-browser")


CHROMIUM = find_chromium()

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
STAFF = {"username": "maria", "password": "a long staff passphrase"}
# Records what the page asks the browser to speak aloud (speechSynthesis makes no sound here).
SPOKEN = """
window.__spoken = [];
if (window.speechSynthesis) {
  window.speechSynthesis.speak = (u) => window.__spoken.push({text: u.text, lang: u.lang});
}
"""


@pytest.fixture(scope="module")
def line(tmp_path_factory):
    """The line in production mode behind a pretend TLS proxy: a staff account, signed webhooks."""
    folder = tmp_path_factory.mktemp("browser")
    database = f"sqlite:///{folder / 'line.db'}"
    add_account(database, STAFF["username"], STAFF["password"])
    server = Server({"DATABASE_URL": database, "IVR_CALL_FLOWS": str(ROOT / "call_flows.yaml"),
                     "IVR_NOW": WEEKDAY_MORNING, "IVR_SECRET_KEY": "test-secret", "IVR_ENV": "production",
                     "TWILIO_AUTH_TOKEN": TOKEN, "IVR_PUBLIC_URL": PUBLIC_URL}, folder / "gunicorn.log", workers=2)
    yield server.start()
    server.stop()


@pytest.fixture(scope="module")
def chromium():
    """The machine's Chromium, driven by Playwright (CI has Debian's from `make test`)."""
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("/usr/bin/chromium is missing: under CI `make test` installs it (apt-get install chromium)")
        pytest.skip(f"the browser phone's tests need a Chromium, and none was found: {GET_ONE}")
    with playwright.sync_playwright() as driver:
        yield driver.chromium


@pytest.fixture(scope="module")
def browser(chromium, line):
    """Chromium with a fresh profile, signed in to the line as a staff member."""
    profile = tempfile.mkdtemp(prefix="ivr-chromium-")
    context = chromium.launch_persistent_context(
        profile, executable_path=CHROMIUM, headless=True, args=ARGS,
        viewport={"width": 1280, "height": 900}, locale="en-US")
    page = context.new_page()
    sign_in(page, line.base + "/simulator")
    expect(page).to_have_url(line.base + "/simulator")
    page.close()
    yield context
    context.close()
    shutil.rmtree(profile, ignore_errors=True)


def sign_in(page, url: str) -> None:
    """Open a staff page, land on the sign-in page, sign in."""
    page.goto(url)
    expect(page.get_by_role("heading", name="Recovery Helpline staff")).to_be_visible()
    page.get_by_label("Name").fill(STAFF["username"])
    page.get_by_label("Password").fill(STAFF["password"])
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def page(browser, line):
    """The browser phone, with every request that leaves the server refused and noted."""
    page = browser.new_page()
    page.set_default_timeout(15000)
    page.outside, page.problems = [], []
    page.add_init_script(SPOKEN)

    def route(request_route):
        if request_route.request.url.startswith(line.base + "/"):
            request_route.continue_()
        else:
            page.outside.append(request_route.request.url)
            request_route.abort()
    page.route("**/*", route)
    page.on("pageerror", lambda error: page.problems.append(str(error)))
    page.on("console", lambda message: message.type == "error" and page.problems.append(message.text))
    page.goto(line.base + "/simulator")
    expect(page.locator("#diagram")).to_have_attribute("data-ready", "true")
    yield page
    page.close()


def transcript(page):
    return page.locator("#transcript")


def test_call_hear_the_greeting_press_1_hear_detox_press_0_see_the_transfer(page, tmp_path):
    page.get_by_role("button", name="Call", exact=True).click()
    log = transcript(page)
    expect(log).to_contain_text("Thank you for calling the Recovery Helpline. You are not alone.")
    expect(log.locator(".line.say").first.locator(".source")).to_contain_text("menu “welcome” (the main menu) · prompt “welcome”")
    expect(page.locator("#diagram g.node.here")).to_have_id("flow-diagram-flowchart-m_welcome-1")

    page.get_by_role("button", name="1", exact=True).click()
    expect(log).to_contain_text("Detox is the first stage of recovery.")
    expect(log.locator(".line.say").last.locator(".source")).to_contain_text("menu “detox” · prompt “detox_menu”")
    expect(page.locator("#where")).to_have_text("In the menu 'detox' (detox).")
    expect(page.locator("#diagram g.node.here")).to_have_count(1)
    assert "m_detox-" in page.locator("#diagram g.node.here").get_attribute("id")

    page.get_by_role("button", name="0", exact=True).click()
    expect(log).to_contain_text("Connecting you to a counselor now")
    expect(log.locator(".line.dial")).to_contain_text("Ringing counselor desk (+15555550100, +15555550101) for 25 seconds; screened")
    assert "m_g_desk-" in page.locator("#diagram g.node.here").get_attribute("id")
    expect(page.get_by_role("button", name="1", exact=True)).to_be_disabled()
    expect(page.get_by_role("button", name="Counselor takes the call")).to_be_enabled()

    _screenshot(page, tmp_path / "simulator.png")
    page.get_by_role("button", name="Counselor takes the call").click()
    expect(log.locator(".line.hangup")).to_have_text("Hang-upThe line hangs up.")
    expect(page.get_by_role("status")).to_contain_text("The call has ended")
    assert page.outside == [] and page.problems == []


def test_after_hours_then_spanish_by_key_8_and_by_word(page):
    page.get_by_label("After hours (the next closed hour)").check()
    page.get_by_role("button", name="Call", exact=True).click()
    log = transcript(page)
    expect(log).to_contain_text("Our counselor desk is closed right now. It opens again tomorrow at 8 AM.")
    expect(page.locator("#when")).to_contain_text("20:00 America/New_York; after hours")
    page.get_by_role("button", name="0", exact=True).click()
    expect(log.locator(".line.dial")).to_contain_text("Ringing counselor on_call (+15555550120)")
    page.get_by_role("button", name="Hang up").click()
    expect(page.get_by_role("button", name="Call", exact=True)).to_be_enabled()

    page.get_by_label("Now").check()
    page.get_by_role("button", name="Speak aloud: off").click()
    page.get_by_role("button", name="Call", exact=True).click()
    expect(log.locator(".line.wait")).to_have_count(1)
    page.keyboard.press("8")  # the keyboard presses the keypad too
    expect(log.locator('.line.say p[lang="es-US"]').filter(has_text="Para saber sobre la desintoxicación, oprima 1")).to_have_count(1)
    page.get_by_label("What the caller says").fill("consejero")
    page.get_by_role("button", name="Say it").click()
    expect(log.locator(".line.say").last).to_contain_text("Le comunico ahora con un consejero")
    expect(log.locator(".line.dial")).to_contain_text("Ringing counselor desk")
    spoken = page.evaluate("window.__spoken")
    assert {"text": "Le comunico ahora con un consejero, por favor no cuelgue.", "lang": "es-US"} in spoken
    assert spoken[0]["lang"] == "en-US" and "Thank you for calling" in spoken[0]["text"]
    assert page.outside == [] and page.problems == []


def test_choosing_espanol_starts_the_call_in_spanish(page):
    page.get_by_label("Español").check()
    page.get_by_role("button", name="Call", exact=True).click()
    log = transcript(page)
    first = log.locator(".line.say").first
    expect(first).to_contain_text("Gracias por llamar a la Línea de Ayuda para la Recuperación.")
    expect(first.locator("p")).to_have_attribute("lang", "es-US")
    expect(log).to_contain_text("For English, press 7.")
    assert page.outside == [] and page.problems == []


def test_sign_in_to_the_callback_list_and_out_again(chromium, line, tmp_path):
    call = message_call(line)  # a caller leaves a message first
    context = chromium.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=ARGS, locale="en-US")
    page = context.pages[0] if context.pages else context.new_page()
    problems = []
    page.on("console", lambda message: "Content Security Policy" in message.text and problems.append(message.text))
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(line.base + "/staff/callbacks")
    expect(page).to_have_url(re.compile(r"/staff/login\?next="))
    page.get_by_label("Name").fill(STAFF["username"])
    page.get_by_label("Password").fill("not the passphrase")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("That name and password do not match an account.")
    page.get_by_label("Password").fill(STAFF["password"])
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(line.base + "/staff/callbacks")
    expect(page.get_by_role("heading", name="Callbacks: Recovery Helpline")).to_be_visible()
    expect(page.get_by_role("link", name=CALLER)).to_have_attribute("href", f"tel:{CALLER}")
    expect(page.get_by_text("Signed in as maria.")).to_be_visible()
    (cookie,) = [c for c in context.cookies() if c["name"] == "ivr_staff"]
    assert cookie["httpOnly"] and cookie["secure"] and cookie["sameSite"] == "Lax" and cookie["expires"] == -1
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    assert not [c for c in context.cookies() if c["name"] == "ivr_staff"]
    page.goto(line.base + "/staff/callbacks")
    expect(page).to_have_url(re.compile(r"/staff/login"))
    assert CALLER not in page.content()
    assert problems == []  # nothing the page's security policy refused
    context.close()


def _screenshot(page, path: Path) -> None:
    """Take the README's screenshot; refresh the committed one when asked to."""
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 50_000
    if os.environ.get("IVR_UPDATE_SCREENSHOT"):
        target = ROOT / "docs" / "simulator.png"
        target.parent.mkdir(exist_ok=True)
        shutil.copy(path, target)
