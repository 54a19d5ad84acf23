"""`ivr doctor`: one line per thing that matters, ok / warning / problem with the fix; exit 1 on a problem."""
import os
import re

import pytest
from sqlalchemy import create_engine, text

from ivr.cli import main
from tests.conftest import PUBLIC_URL, ROOT, TOKEN, free_port

LINE = re.compile(r"(ok|warning|problem) +([^:]+): (.+)")


def doctor(runner, **env) -> tuple[int, dict]:
    """Run `ivr doctor` with only these settings; its exit code and its lines by subject."""
    clean = {name: None for name in os.environ if name.startswith(("IVR_", "TWILIO_", "DATABASE_URL"))}
    result = runner.invoke(main, ["doctor"], env={**clean, **env}, catch_exceptions=False)
    lines = result.output.strip().splitlines()
    found = {}
    for line in lines[:-1]:
        matched = LINE.fullmatch(line)
        assert matched, f"not one finding per line: {line!r}"
        found[matched.group(2)] = (matched.group(1), matched.group(3))
    found["summary"] = lines[-1]
    return result.exit_code, found


def test_a_good_production_setup_is_all_ok(runner, tmp_path):
    from ivr import accounts, db
    engine = db.connect(f"sqlite:///{tmp_path / 'ivr.db'}")
    accounts.add(engine, "maria", "a long staff passphrase")
    engine.dispose()
    code, found = doctor(runner, IVR_ENV="production", TWILIO_AUTH_TOKEN=TOKEN, IVR_PUBLIC_URL=PUBLIC_URL,
                         IVR_SECRET_KEY="k" * 64,
                         IVR_CALL_FLOWS=str(ROOT / "call_flows.yaml"), IVR_WORKERS="3",
                         DATABASE_URL=f"sqlite:///{tmp_path / 'ivr.db'}")
    assert code == 0, found
    assert {level for level, _ in (v for k, v in found.items() if k != "summary")} == {"ok"}, found
    assert set(found) >= {"call flow", "store", "IVR_ENV", "signatures", "IVR_PUBLIC_URL", "staff access",
                          "time zones", "clock", "gunicorn", "recordings", "Twilio REST API"}
    assert found["store"][1].startswith(f"sqlite:///{tmp_path / 'ivr.db'} reachable and writable")
    assert found["gunicorn"][1].startswith("3 workers x 4 threads")
    assert found["Twilio REST API"][1].startswith("off (TWILIO_ACCOUNT_SID is not set)")
    assert found["recordings"][1].startswith("on:")
    assert found["staff access"][1] == "1 account: every staff page asks for a sign-in."
    assert found["summary"] == "0 problems, 0 warnings; the line is ready."
    with create_engine(f"sqlite:///{tmp_path / 'ivr.db'}").connect() as conn:  # the scratch row is gone
        assert conn.execute(text("SELECT count(*) FROM screens")).scalar() == 0


def test_a_broken_setup_names_each_problem_and_its_fix(runner, tmp_path):
    broken = tmp_path / "call_flows.yaml"
    broken.write_text((ROOT / "call_flows.yaml").read_text().replace('"1": detox', '"1": detoxx', 1))
    (tmp_path / "prompts").symlink_to(ROOT / "prompts")
    code, found = doctor(runner, IVR_ENV="production", IVR_PUBLIC_URL="http://ivr.example.org",
                         IVR_CALL_FLOWS=str(broken), IVR_NOW="2026-12-25T03:00",
                         DATABASE_URL=f"postgres://ivr:hunter2@127.0.0.1:{free_port()}/ivr",
                         TWILIO_ACCOUNT_SID="AC" + "0" * 32, TWILIO_API_KEY="SK" + "0" * 32)
    assert code == 1
    level, said = found["call flow"]
    assert level == "problem" and "which is not defined (did you mean 'detox'?)" in said
    assert f"Fix: run `ivr check {broken}`" in said
    level, said = found["store"]
    assert level == "problem" and "postgresql+psycopg://ivr:***@127.0.0.1:" in said and "Connection refused" in said
    assert "hunter2" not in str(found)
    assert found["secrets"][0] == "problem" and "TWILIO_AUTH_TOKEN, IVR_SECRET_KEY not set" in found["secrets"][1]
    assert found["IVR_PUBLIC_URL"][0] == "problem" and "is not https" in found["IVR_PUBLIC_URL"][1]
    assert found["staff access"][0] == "warning" and "cannot be read" in found["staff access"][1]
    assert found["clock"][0] == "problem" and "IVR_NOW" in found["clock"][1]
    assert found["Twilio REST API"][0] == "problem" and "TWILIO_API_SECRET" in found["Twilio REST API"][1]
    assert found["summary"].startswith("6 problems, ")


def test_a_store_that_takes_no_writes_is_a_problem(runner, tmp_path):
    url = f"sqlite:///{tmp_path / 'replica.db'}"
    from ivr import db
    engine = db.connect(url)
    with engine.begin() as conn:  # like a read-only replica
        conn.execute(text("CREATE TRIGGER no_writes BEFORE INSERT ON screens "
                          "BEGIN SELECT RAISE(ABORT, 'read-only replica'); END"))
    engine.dispose()
    code, found = doctor(runner, DATABASE_URL=url, IVR_CALL_FLOWS=str(ROOT / "call_flows.yaml"))
    assert code == 1
    assert found["store"] == ("problem", f"{url} is reachable but takes no writes (read-only replica). Fix: give "
                              "the database user the right to write, and check the disk has room.")
    # Development without a token: a warning, not a problem; the Twilio features are said to be off.
    assert found["signatures"][0] == "warning"
    assert found["Twilio REST API"][0] == "ok" and "off" in found["Twilio REST API"][1]


@pytest.mark.parametrize("url, says", [("mysql://u:hunter2@db/ivr", "starts with mysql://")])
def test_an_unknown_scheme_is_a_problem_without_the_password(runner, url, says):
    code, found = doctor(runner, DATABASE_URL=url, IVR_CALL_FLOWS=str(ROOT / "call_flows.yaml"))
    assert code == 1 and found["store"][0] == "problem" and says in found["store"][1]
    assert "hunter2" not in str(found)
