"""The benchmark runs (short mode) and reports well-formed figures for both apps; speeds are not judged here."""
import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def test_short_bench_reports_both_apps(tmp_path):
    out = tmp_path / "bench.json"
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "run.py"), "--short", "--parts", "--json", str(out),
                          "--results", str(tmp_path / "RESULTS.md")],
                         cwd=str(ROOT), capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    results = json.loads(out.read_text())
    for app in ("baseline", "line", "line_big"):
        figures = results["apps"][app]
        assert figures["requests"] > 0 and figures["errors"] == 0, (app, figures)
        assert figures["rps"] > 0
        assert 0 < figures["p50_ms"] <= figures["p90_ms"] <= figures["p99_ms"] <= figures["max_ms"]
        assert figures["rss_mb_per_worker"] > 0 and figures["cpu_us"] > 0
    assert all(isinstance(results["ratios"][k], float) for k in ("throughput", "p99", "big_throughput"))
    assert set(results["ratios"]["met"]) == {"throughput", "p99", "big_throughput", "check_seconds", "no_errors", "reload"}
    assert 0 < results["check_seconds"]["shipped"] and 0 < results["check_seconds"]["big"]
    assert results["reload"]["requests_during"] > 0 and results["reload"]["errors"] == 0
    assert results["reload"]["all_workers_live_after_s"] is not None
    assert "throughput, line / baseline:" in run.stdout
    # The line less each part of its work, and less all of them, each answering every request.
    assert set(results["parts"]) == {"store", "log", "metrics", "signature", "store,log,metrics,signature"}
    for figures in results["parts"].values():
        assert figures["requests"] > 0 and figures["errors"] == 0 and figures["cpu_us"] > 0
        assert figures["throughput"] > 0
    assert "without store, log, metrics, signature" in run.stdout
    assert not (tmp_path / "RESULTS.md").exists()  # a short run leaves the real results alone


def test_in_process_figures_come_for_both_apps():
    run = subprocess.run([sys.executable, str(ROOT / "bench" / "inproc.py"), "--calls", "10", "--rounds", "1"],
                         cwd=str(ROOT), capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    figures = {line.split()[0]: int(line.split()[1]) for line in run.stdout.splitlines()
               if "us of CPU per request" in line}
    assert set(figures) == {"baseline", "line"} and all(us > 0 for us in figures.values())
