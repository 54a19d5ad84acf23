"""The benchmark runs (short mode) and reports well-formed figures for the floor, the peer and the line;
speeds are not judged here."""
import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def test_short_bench_reports_all_three_apps(tmp_path):
    out = tmp_path / "bench.json"
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--short", "--parts", "--json", str(out),
                          "--results", str(tmp_path / "RESULTS.md")],
                         cwd=str(ROOT), capture_output=True, text=True, timeout=400)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads(out.read_text())
    for app in ("baseline", "peer", "line", "line_big"):
        figures = results["apps"][app]
        assert figures["requests"] > 0 and figures["errors"] == 0, (app, figures)
        assert figures["rps"] > 0
        assert 0 < figures["p50_ms"] <= figures["p90_ms"] <= figures["p99_ms"] <= figures["max_ms"]
        assert figures["rss_mb_per_worker"] > 0 and figures["cpu_us"] > 0
    ratios = results["ratios"]
    assert all(isinstance(ratios[k], float) and ratios[k] > 0
               for k in ("throughput", "p99", "floor_throughput", "big_throughput"))
    assert set(ratios["met"]) == {"throughput", "p99", "steps_throughput", "steps_p99", "floor_throughput",
                                  "big_throughput", "check_seconds", "helpline_p99", "helpline_reload",
                                  "no_errors", "reload"}
    # Every step of a call, measured on the peer and the line, each answering every request.
    assert list(results["steps"]) == ["greeting", "menu answer", "transfer", "whisper", "voicemail"]
    for step, figures in results["steps"].items():
        for app in ("peer", "line"):
            assert figures[app]["requests"] > 0 and figures[app]["errors"] == 0, (step, app, figures[app])
            assert 0 < figures[app]["p50_ms"] <= figures[app]["p99_ms"]
        assert figures["throughput"] > 0 and figures["p99"] > 0
    # The helpline's own load on all three, and a reload of the big flow at it.
    helpline = results["helpline"]
    assert helpline["calls_per_second"] == 20 and helpline["rate"] == 120  # the calls make six requests each
    for app in ("baseline", "peer", "line"):
        assert helpline[app]["errors"] == 0 and 0 < helpline[app]["p50_ms"] <= helpline[app]["p99_ms"]
    for name, reload in (("at the helpline's load", helpline["reload"]), ("at full load", results["reload"])):
        assert reload["requests_during"] > 0 and reload["errors"] == 0, (name, reload)
        assert reload["all_workers_live_after_s"] is not None and reload["max_during_ms"] > 0, (name, reload)
    assert 0 < results["check_seconds"]["shipped"] and 0 < results["check_seconds"]["big"]
    for line in ("throughput, line / peer:", "throughput, line / floor:", "helpline load, line p99:",
                 "slowest request meanwhile", "textbook peer", "floor (fixed TwiML)", "machine load average"):
        assert line in run.stdout, line
    # The line less each part of its work, and less all of them, each answering every request.
    assert set(results["parts"]) == {"store", "log", "metrics", "signature", "store,log,metrics,signature"}
    for figures in results["parts"].values():
        assert figures["requests"] > 0 and figures["errors"] == 0 and figures["cpu_us"] > 0
        assert figures["of_line"] > 0
    assert "without store, log, metrics, signature" in run.stdout
    assert not (tmp_path / "RESULTS.md").exists()  # a short run leaves the real results alone


def test_in_process_figures_come_for_all_three_apps_and_each_step():
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "inproc.py"), "--calls", "10", "--rounds", "1",
                          "--steps"],
                         cwd=str(ROOT), capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    figures = {line.split()[0]: int(line.split()[1]) for line in run.stdout.splitlines()
               if "us of CPU per request" in line and not line.startswith("step ")}
    assert set(figures) == {"baseline", "peer", "line"} and all(us > 0 for us in figures.values())
    steps = [line.split()[1] for line in run.stdout.splitlines() if line.startswith("step ")]
    assert steps == ["greeting", "menu", "transfer", "whisper", "voicemail"], run.stdout
