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
