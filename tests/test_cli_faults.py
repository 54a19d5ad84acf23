"""The `ivr` command line's small faults a newcomer met: each said once, clearly, with no traceback."""
import subprocess
import sys

from ivr import db
from ivr.cli import main
from tests.conftest import CHRISTMAS, ROOT, SUNDAY_3AM

FLOW = str(ROOT / "call_flows.yaml")
IVR = [sys.executable, "-c", "from ivr.cli import main; main()"]


def test_keys_given_with_spaces_are_not_taken_for_a_file(runner):
    result = runner.invoke(main, ["call", "--keys", "1", "0"])
    assert result.exit_code == 1
    assert result.output == ("ivr: '0' is not a call-flow file; to press several keys, join them with commas "
                             "and no spaces, like --keys 1,0\n")


def test_a_missing_flow_file_is_said_once(runner, tmp_path):
    result = runner.invoke(main, ["call", str(tmp_path / "gone.yaml"), "--keys", "1"])
    assert result.exit_code == 1
    assert result.output.count("gone.yaml: cannot read the call-flow file") == 1
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


def test_a_call_piped_into_head_ends_quietly(tmp_path):
    done = subprocess.run(" ".join(f"'{a}'" for a in IVR) + f" call {FLOW} --keys 1," + ",".join("*" * 300) + " | head -1",
                          shell=True, capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.startswith("[en-US] Thank you for calling the Recovery Helpline.")
    assert "Traceback" not in done.stderr and "Broken pipe" not in done.stderr, done.stderr


def test_a_message_at_the_voicemail_notice_is_recorded_and_kept_with_a_database(runner, tmp_path, monkeypatch):
    practice = runner.invoke(main, ["call", FLOW, "--at", SUNDAY_3AM, "--keys", "0,noanswer,message"])
    assert practice.exit_code == 0, practice.output
    assert "(you wait for the tone)" in practice.output and "Your message is saved" in practice.output
    assert "(a practice call: the message was not kept; with DATABASE_URL set" in practice.output
    url = f"sqlite:///{tmp_path / 'staff.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    kept = runner.invoke(main, ["call", FLOW, "--at", SUNDAY_3AM, "--keys", "0,noanswer,message"])
    assert kept.exit_code == 0 and "practice call" not in kept.output
    assert [row["recording_seconds"] for row in db.list_callbacks(db.connect(url))] == [15]
    listed = runner.invoke(main, ["callbacks"])
    assert "1     " in listed.output and "new" in listed.output


def test_at_and_ivr_now_read_a_time_the_same_way(runner, monkeypatch):
    # Without an offset both are the desk's time (America/New_York): Christmas 10:00 there.
    by_option = runner.invoke(main, ["call", FLOW, "--at", CHRISTMAS[:16], "--keys", "hangup"])
    monkeypatch.setenv("IVR_NOW", CHRISTMAS[:16])
    by_setting = runner.invoke(main, ["call", FLOW, "--keys", "hangup"])
    assert by_option.exit_code == by_setting.exit_code == 0, by_setting.output
    assert by_option.output == by_setting.output and "It opens again tomorrow at 9 AM." in " ".join(
        by_option.output.split())
    monkeypatch.setenv("IVR_NOW", "Christmas")
    refused = runner.invoke(main, ["call", FLOW, "--keys", "hangup"])
    assert refused.exit_code == 1 and "ivr: IVR_NOW is 'Christmas'; write it like 2026-12-25T03:00" in refused.output


def test_check_counts_in_words(runner, tmp_path):
    broken = tmp_path / "call_flows.yaml"
    broken.write_text((ROOT / "call_flows.yaml").read_text().replace('"1": detox', '"1": detoxx', 1))
    (tmp_path / "prompts").symlink_to(ROOT / "prompts")
    result = runner.invoke(main, ["check", str(broken)])
    assert "1 error: the line will not take this file until it is fixed." in result.output
