"""The sign-in page's lockout message: a wait that is true when taken at its word."""
import math
import re

from ivr import accounts, parts


def test_a_locked_out_name_is_told_a_wait_that_works_in_plain_words(app, client):
    accounts.add(parts.storage(app).engine, "maria", "a long staff passphrase")
    for attempt in range(5):
        assert client.post("/staff/login", data={"username": "maria", "password": f"guess {attempt}"}).status_code == 401
    locked = client.post("/staff/login", data={"username": "maria", "password": "a long staff passphrase"})
    assert locked.status_code == 429
    seconds = int(locked.headers["Retry-After"])
    minutes = re.search(r"Try again in (\d+) (minutes?),", locked.text)
    assert minutes, locked.text
    # Rounded up, so trying again when told is never refused again; a plural said as one.
    assert int(minutes.group(1)) == math.ceil(seconds / 60)
    assert minutes.group(2) == ("minute" if int(minutes.group(1)) == 1 else "minutes")
    assert "minute(s)" not in locked.text


def test_staff_can_lift_a_lockout_on_the_command_line_and_it_is_audited(app, client, runner, monkeypatch):
    from ivr import audit
    from ivr.cli import main
    engine = parts.storage(app).engine
    accounts.add(engine, "maria", "a long staff passphrase")
    for attempt in range(5):
        client.post("/staff/login", data={"username": "maria", "password": f"guess {attempt}"})
    assert client.post("/staff/login", data={"username": "maria", "password": "a long staff passphrase"}).status_code == 429
    monkeypatch.setenv("DATABASE_URL", str(engine.url.render_as_string(hide_password=False)))
    result = runner.invoke(main, ["staff", "unlock", "maria"])
    assert result.exit_code == 0 and "'maria' may sign in again now (5 failed tries forgotten)" in result.output
    signed_in = client.post("/staff/login", data={"username": "maria", "password": "a long staff passphrase"})
    assert signed_in.status_code == 303  # to the page asked for: the lockout is lifted
    assert audit.entries(engine)[-2]["what"] == "name maria, 5 failed tries forgotten"
    again = runner.invoke(main, ["staff", "unlock", "maria"])
    assert again.exit_code == 0 and "nothing to lift" in again.output
