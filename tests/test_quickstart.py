"""The README's commands run as printed, from a fresh copy of the project, after `make run`.

The copy holds what a clone holds (git's files); its .venv is this checkout's, linked file by
file with a fresh install marker, so make does not install again. Every ```sh line of the
README, and of the docs pages its commands moved to (PAGES), runs in it, in order, with a
newcomer's environment (no IVR_*, TWILIO_* or DATABASE_URL).
"""
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from ivr.phone import Phone, http_post
from tests.conftest import ROOT, Server, free_port

pytestmark = pytest.mark.slow
# The README first, then the pages for staff and operators that carry the rest of its commands.
PAGES = ("README.md", "docs/staff-guide.md", "docs/operating.md", "docs/security-and-privacy.md")
PASSPHRASE = "a newcomer's long passphrase"
# Lines the test cannot run as printed, and why.
NOT_HERE = {"make test": "this is the test suite itself",
            "docker": "no Docker daemon in the test machine (tests/test_deploy.py checks the image's files)",
            ".venv/bin/ivr twilio": "needs a Twilio account's credentials (tests/test_twilio_number.py runs "
                                    "both commands against the stand-in of Twilio's API)"}


def readme_commands() -> list[str]:
    """Every command line of the README's ```sh blocks (and its PAGES'), comments dropped, in order."""
    blocks = [block for page in PAGES
              for block in re.findall(r"```sh\n(.*?)```", (ROOT / page).read_text("utf-8"), re.S)]
    lines = []
    for block in blocks:
        for line in block.splitlines():
            line = re.sub(r"\s+#.*$", "", line).strip()
            if line.endswith("\\"):
                continue  # a continued line (docker run ...): skipped with its command below
            if line and not line.startswith(("-e ", "#")):
                lines.append(line)
    return lines


def fresh_copy(folder: Path) -> Path:
    """The project as a clone has it, with this checkout's installed .venv."""
    if not (ROOT / ".venv" / "bin" / "ivr").exists():
        pytest.skip("no .venv here to lend the copy: run the tests through `make test`")
    files = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=ROOT,
                           capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, files):
        if (ROOT / name).is_file():
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, folder / name)
    venv = folder / ".venv"
    venv.mkdir()
    for entry in (ROOT / ".venv").iterdir():
        if entry.name != ".installed":
            (venv / entry.name).symlink_to(entry)
    (venv / ".installed").touch()  # newer than pyproject.toml: make installs nothing again
    return folder


def newcomer_env(**extra) -> dict:
    """A shell's environment with none of the line's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IVR_", "TWILIO_", "DATABASE_URL",
                                                                     "PROMETHEUS_MULTIPROC_DIR"))}
    return {**env, **extra}


class _Master:
    """The gunicorn master `make run` started (make's child), seen as Server sees its process."""

    def __init__(self, shell: subprocess.Popen):
        self.shell = shell

    def poll(self):
        return self.shell.poll()

    @property
    def pid(self) -> int:
        """The gunicorn process of this session whose parent is no gunicorn (0 until it runs)."""
        found = {}  # gunicorn processes (not a shell naming it) of make's session: pid -> parent
        for entry in Path("/proc").iterdir():
            try:
                stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except (OSError, IndexError):
                continue
            if (entry.name.isdigit() and int(stat[3]) == self.shell.pid and b"gunicorn" in b" ".join(argv)
                    and Path(argv[0].decode()).name not in ("sh", "bash", "dash", "make")):
                found[int(entry.name)] = int(stat[1])
        return next((pid for pid, parent in found.items() if parent not in found), 0)


def test_every_readme_command_runs_as_printed_from_a_fresh_copy(tmp_path):
    commands = readme_commands()
    assert "make run" in commands and ".venv/bin/ivr doctor" in commands
    assert not [c for c in commands if c.startswith("ivr ")], "a README command needs ivr on the PATH"
    clone = fresh_copy(tmp_path / "clone")
    port = free_port()
    env = newcomer_env(PORT=str(port))  # make's PORT ?= 5000 takes the environment's
    log = open(tmp_path / "make-run.log", "wb")
    server = subprocess.Popen(["sh", "-c", "make run"], cwd=clone, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        line = Server({}, tmp_path / "make-run.log", workers=None, port=port)
        line.proc, line.env = _Master(server), env
        began = time.monotonic()
        line.wait_until_ready()
        print(f"make run: every worker answered within {time.monotonic() - began:.1f} s")
        said = (tmp_path / "make-run.log").read_text()
        assert f"Browser phone:         http://127.0.0.1:{port}/simulator" in said
        # A caller leaves a message, so the callback commands have one to show and mark.
        call = Phone(http_post(), base=line.base)
        call.dial_in()
        call.press("0")
        while call.waiting == "dial":  # the desk and its backup, or the on-call phone after hours
            call.ring_ends("no-answer")
        call.stay_silent()
        call.leave_message(20)
        readme = (clone / "README.md").read_text("utf-8")
        ran = []
        for command in commands:
            skipped = next((why for start, why in NOT_HERE.items() if command.startswith(start)), None)
            if skipped or command.startswith("make run"):
                continue  # make run: it is the server above
            # A password for the commands that ask for one (twice, hidden), and the README's $PASSWORD.
            done = subprocess.run(["sh", "-c", command], cwd=clone, env=newcomer_env(PASSWORD=PASSPHRASE),
                                  input=f"{PASSPHRASE}\n{PASSPHRASE}\n", capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, f"`{command}` failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
            assert "Traceback" not in done.stdout + done.stderr, command
            ran.append((command, done.stdout))
        out = dict(ran)
        assert "0 problems" in out[".venv/bin/ivr doctor"]
        assert "Callback #1 is now closed." in out[".venv/bin/ivr callbacks done 1 --status closed"]
        assert (clone / "README.md").read_text("utf-8") == readme  # the diagram was up to date
        assert len(ran) >= 10
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)
        log.close()
    assert "Traceback" not in (tmp_path / "make-run.log").read_text()


def test_make_run_with_a_missing_flow_file_says_so_once_and_stops(tmp_path):
    clone = fresh_copy(tmp_path / "clone")
    (clone / "call_flows.yaml").unlink()
    started = time.monotonic()
    done = subprocess.run(["make", "run", f"PORT={free_port()}"], cwd=clone, env=newcomer_env(),
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and time.monotonic() - started < 60
    said = done.stdout + done.stderr
    assert "Traceback" not in said and "Booting worker" not in said
    assert said.count("The line will not start: ./call_flows.yaml has problems:") == 1
    assert "\ncall_flows.yaml: cannot read the call-flow file (No such file or directory)" in said
