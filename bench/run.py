"""`make bench`: the line against the cheapest Flask app, under the same gunicorn, on this machine.

    python bench/run.py [--short] [--json FILE] [--rounds N] [--seconds S] [--connections C]

Starts gunicorn with gunicorn.conf.py (production settings: token, public URL and staff
password set, so every request's signature is checked) for three apps: the baseline (a
fixed TwiML string), the line with the shipped flow, and the line with a generated flow of
2,000 menus and 5,000 prompts. A separate load process (bench/load.py) replays signed,
Twilio-shaped calls recorded by walking each line with ivr.phone.Phone. Rounds alternate
between the apps; each round gives ratios, and the median ratio counts. Then: check and load times of both flows, a
reload of the big flow under load, and memory per worker. Writes bench/RESULTS.md (full
runs only) and exits 1 when a target is missed (full runs only).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from base64 import b64encode
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import bigflow  # noqa: E402
from bench.load import percentile  # noqa: E402
from bench.parts import PARTS  # noqa: E402
from ivr.phone import Phone  # noqa: E402
from tests.conftest import Server, _proxied  # noqa: E402

TOKEN = "bench-auth-token-0123456789abcdef"
PUBLIC_URL = "https://ivr.example.org"
STAFF_PASSWORD = "bench-staff-password"
# The desk is open (a Tuesday morning), so every run walks the same calls whatever the hour.
DESK_OPEN = "2026-12-01T10:00:00-05:00"
TARGETS = {"throughput": 0.85, "p99": 1.5, "big_throughput": 0.90, "check_seconds": 1.0,
           # a reload is not noticed: its slowest request under a second, its p99 at most twice the rest's
           "reload_slowest_ms": 1000, "reload_p99": 2.0}


# -- servers ---------------------------------------------------------------------------------

class Gunicorn(Server):
    """The tests' gunicorn on loopback (tests/conftest.py), serving any app, with its workers' figures."""

    def __init__(self, name: str, app: str, env: dict, folder: Path):
        super().__init__(env, folder / f"{name}.log", workers=None)  # as many as gunicorn.conf.py says
        self.name, self.app = name, app

    def start(self) -> "Gunicorn":
        """Start, and wait until every worker is up."""
        super().start()
        deadline = time.monotonic() + 60
        while len(self.workers_now()) < self.worker_count():
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name}: workers did not come up:\n{self.log_path.read_text()[-3000:]}")
            time.sleep(0.2)
        return self

    def rss_mb(self) -> list[float]:
        """Resident memory of each worker, in MiB (Linux /proc; empty elsewhere)."""
        sizes = []
        for pid in self.workers_now():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        sizes.append(round(int(line.split()[1]) / 1024, 1))
            except OSError:
                pass
        return sorted(sizes)

    def get(self, path: str) -> str:
        """GET a staff page with the staff password."""
        auth = b64encode(f"staff:{STAFF_PASSWORD}".encode()).decode()
        request = urllib.request.Request(self.base + path, headers={"Authorization": f"Basic {auth}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.read().decode()


def line_env(flow: Path, folder: Path, name: str, database_url: str | None) -> dict:
    """Production settings for the line: signatures checked, staff pages behind a password."""
    return {"IVR_ENV": "production", "TWILIO_AUTH_TOKEN": TOKEN, "IVR_PUBLIC_URL": PUBLIC_URL,
            "IVR_SECRET_KEY": "bench-secret-key", "IVR_STAFF_PASSWORD": STAFF_PASSWORD,
            "IVR_CALL_FLOWS": str(flow), "IVR_NOW": DESK_OPEN,
            "DATABASE_URL": database_url or f"sqlite:///{folder / (name + '.db')}"}


# -- the calls -------------------------------------------------------------------------------

def _detox_then_a_counselor(call: Phone) -> None:
    call.dial_in()
    call.press("1")
    call.press("1")
    call.press("0")
    call.ring_ends("completed", counselor_keys="1")
    call.hang_up(420)


def _rehab_nobody_free_voicemail(call: Phone) -> None:
    call.dial_in()
    call.press("2")
    call.stay_silent()
    call.say("counselor")
    call.ring_ends("no-answer")
    call.ring_ends("busy")
    call.stay_silent()
    call.leave_message(25)
    call.hang_up(140)


def _spanish_aftercare(call: Phone) -> None:
    call.dial_in()
    call.press("8")
    call.press("3")
    call.press("1")
    call.press("9")
    call.hang_up(200)


def _choosing_repeat(call: Phone) -> None:
    call.dial_in()
    call.press("4")
    call.press("*")
    call.press("1")
    call.hang_up(180)


def _greeting_only(call: Phone) -> None:
    call.dial_in()
    call.hang_up(30)


SCENARIOS = (_detox_then_a_counselor, _rehab_nobody_free_voicemail, _spanish_aftercare,
             _choosing_repeat, _greeting_only)


def record_calls(post) -> list[list[tuple]]:
    """Walk each scenario through the line with Phone, sending with `post` (an ivr.phone Post);
    return each call's requests (path, form)."""
    calls = []
    for scenario in SCENARIOS:
        call = Phone(post, base=PUBLIC_URL, auth_token=TOKEN)
        scenario(call)
        calls.append([(url[len(PUBLIC_URL):], form) for url, form in call.requests])
    return calls


def load(server: Gunicorn, calls: list, folder: Path, seconds: float, warmup: float,
         connections: int, samples: bool = False, during=None, rate: float | None = None) -> dict:
    """Run bench/load.py against a server; `during(started_at)` runs while it loads."""
    job = {"host": "127.0.0.1", "port": server.port, "connections": connections, "seconds": seconds,
           "warmup": warmup, "max_requests": int(seconds + warmup) * 20000, "public_url": PUBLIC_URL,
           "token": TOKEN, "calls": calls, "prepared": 600, "samples": samples, "rate": rate}
    job_path, out_path = folder / "job.json", folder / "out.json"
    job_path.write_text(json.dumps(job))
    processes = server.workers_now() + [server.proc.pid]
    proc = subprocess.Popen([sys.executable, str(ROOT / "bench" / "load.py"), str(job_path), str(out_path)])
    started = time.monotonic()
    cpu_before = cpu_seconds(processes)
    extra = during(started) if during else None
    if proc.wait(seconds + warmup + 120) != 0:
        raise RuntimeError("the load generator failed")
    cpu = cpu_seconds(processes) - cpu_before
    result = json.loads(out_path.read_text())
    # The server's CPU time (every worker and the master) for each request it answered, warm-up
    # included: the steadiest figure of a run, as it does not depend on how busy the machine is.
    done = result["requests"] + result.get("warmup_requests", 0)
    result["cpu_us"] = round(cpu / done * 1e6) if done else None
    if extra is not None:
        result["during"] = extra
    return result


def cpu_seconds(processes: list[int]) -> float:
    """User and system CPU time the processes have used so far (Linux /proc; 0 elsewhere)."""
    total = 0
    for pid in processes:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


# -- the measurements ------------------------------------------------------------------------

def median_round(rounds: list[dict]) -> dict:
    """Each figure's median over the rounds."""
    keys = ("rps", "p50_ms", "p90_ms", "p99_ms", "max_ms", "requests", "errors", "cpu_us")
    return {k: round(statistics.median(r[k] for r in rounds), 2) for k in keys} | {"rounds": len(rounds)}


def per_round(runs: dict) -> dict:
    """Each round's ratios: apps measured side by side, so a busy moment of the machine hits both."""
    out = {"throughput": [], "p99": [], "big_throughput": []}
    for base, line, big in zip(runs["baseline"], runs["line"], runs["line_big"]):
        out["throughput"].append(round(line["rps"] / base["rps"], 3) if base["rps"] else 0.0)
        out["p99"].append(round(line["p99_ms"] / base["p99_ms"], 3) if base["p99_ms"] else 99.0)
        out["big_throughput"].append(round(big["rps"] / line["rps"], 3) if line["rps"] else 0.0)
    return out


def time_check(flow: Path, times: int = 3) -> float:
    """Median seconds `check_flow` takes to read and check a flow, in a fresh process."""
    code = ("import sys, time; from ivr.flow import check_flow\n"
            "t = time.perf_counter(); f, p = check_flow(sys.argv[1]); d = time.perf_counter() - t\n"
            "assert f is not None, [str(x) for x in p]; print(d)")
    runs = [float(subprocess.check_output([sys.executable, "-c", code, str(flow)], cwd=str(ROOT)))
            for _ in range(times)]
    return round(statistics.median(runs), 3)


def reload_under_load(server: Gunicorn, flow: Path, calls: list, folder: Path, seconds: float,
                      connections: int) -> dict:
    """Edit the big flow while calls come in; compare latency around the reload with the rest."""
    def edit(started: float) -> dict:
        time.sleep(1.5)  # the warm-up (0.5 s), then a second of calls before the edit
        text = flow.read_text("utf-8").replace("title: topic 1\n", "title: topic one\n", 1)
        spare = flow.with_suffix(".new")
        spare.write_text(text, "utf-8")
        edited = time.monotonic()
        os.replace(spare, flow)
        live = None
        while time.monotonic() - edited < seconds:
            if _workers_on_new_version(server) >= server.worker_count():
                live = time.monotonic()
                break
            time.sleep(0.05)
        return {"edited": edited, "live": live}

    result = load(server, calls, folder, seconds, 0.5, connections, samples=True, during=edit)
    edited, live = result["during"]["edited"], result["during"]["live"]
    end = (live or edited + seconds) + 0.5
    inside = sorted(ms for at, ms in result["samples"] if edited - 0.1 <= at <= end)
    outside = sorted(ms for at, ms in result["samples"] if not edited - 0.1 <= at <= end)
    return {
        "all_workers_live_after_s": round(live - edited, 2) if live else None,
        "requests_during": len(inside),
        "p50_during_ms": percentile(inside, 0.5), "p99_during_ms": percentile(inside, 0.99),
        "max_during_ms": inside[-1] if inside else None,
        "p50_otherwise_ms": percentile(outside, 0.5), "p99_otherwise_ms": percentile(outside, 0.99),
        "errors": result["errors"],
    }


def _workers_on_new_version(server: Gunicorn) -> int:
    """How many workers serve a flow version other than the first one seen (from /metrics)."""
    counts = {}
    for line in server.get("/metrics").splitlines():
        if line.startswith("ivr_flow_workers{"):
            version = line.split('version="', 1)[1].split('"', 1)[0]
            counts[version] = float(line.rsplit(" ", 1)[1])
    first = server.__dict__.setdefault("first_version", max(counts, key=counts.get) if counts else None)
    return int(sum(n for v, n in counts.items() if v != first))


def machine() -> dict:
    """What this machine is, for the results."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kb / 1024 / 1024:.1f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    from importlib.metadata import version
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": memory, "os": platform.platform(),
            "python": platform.python_version(), "gunicorn": version("gunicorn"), "flask": version("flask")}


# -- the run ---------------------------------------------------------------------------------

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="a quick run that only shows the benchmark works")
    parser.add_argument("--rounds", type=int, help="load rounds per app (default 5; short: 1)")
    parser.add_argument("--seconds", type=float, help="measured seconds per round (default 6; short: 1)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent keep-alive connections")
    parser.add_argument("--database-url", help="the line's store (default: a fresh SQLite file)")
    parser.add_argument("--parts", action="store_true",
                        help="also run the line with its store, log line, metrics and signature check "
                             "switched off, one at a time and all together (bench/parts.py)")
    parser.add_argument("--json", help="also write the results as JSON to this file")
    parser.add_argument("--results", default=str(ROOT / "bench" / "RESULTS.md"),
                        help="where a full run writes its report")
    args = parser.parse_args(argv)
    rounds = args.rounds or (1 if args.short else 5)
    seconds = args.seconds or (1.0 if args.short else 6.0)
    warmup = 0.5 if args.short else 1.5
    menus, prompts = (100, 250) if args.short else (2000, 5000)
    workers = "2" if args.short else os.environ.get("IVR_WORKERS", "")

    folder = Path(tempfile.mkdtemp(prefix="ivr-bench-"))
    big = bigflow.write(folder / "big", menus, prompts)
    common = {"IVR_WORKERS": workers} if workers else {}
    servers = {
        "baseline": Gunicorn("baseline", "bench.baseline:create_app()", dict(common), folder),
        "line": Gunicorn("line", "ivr:create_app()",
                         {**common, **line_env(ROOT / "call_flows.yaml", folder, "line", args.database_url)},
                         folder),
        "line_big": Gunicorn("line_big", "ivr:create_app()",
                             {**common, **line_env(big, folder, "line_big", args.database_url)}, folder),
    }
    if args.parts:  # the same line less one part (or all of them), on the same store kind
        for off in (*PARTS, ",".join(PARTS)):
            name = "no_" + off
            servers[name] = Gunicorn(name, "bench.parts:create_app()", {
                **common, **line_env(ROOT / "call_flows.yaml", folder, name, args.database_url),
                "IVR_BENCH_OFF": off}, folder)
    results: dict = {"machine": machine(), "settings": {
        "workers": servers["line"].worker_count(), "threads": int(os.environ.get("IVR_THREADS", 4)),
        "connections": args.connections, "rounds": rounds, "seconds": seconds, "warmup": warmup,
        "big_flow": {"menus": menus, "prompts": prompts}, "short": args.short,
        "database": "custom" if args.database_url else "sqlite"}}
    try:
        for server in servers.values():
            server.start()
        calls = {name: record_calls(_proxied(servers[name].base)) for name in ("line", "line_big")}
        calls["baseline"] = calls["line"]
        for name in servers:
            calls.setdefault(name, calls["line"])
        print(f"bench: {len(SCENARIOS)} calls, {sum(len(c) for c in calls['line'])} requests per set; "
              f"{rounds} round(s) of {seconds:g} s per app, {args.connections} connections", flush=True)
        runs: dict = {name: [] for name in servers}
        for n in range(rounds):
            for name, server in servers.items():
                outcome = load(server, calls[name], folder, seconds, warmup, args.connections)
                runs[name].append(outcome)
                print(f"  round {n + 1} {name:<9} {outcome['rps']:>8.1f} req/s  p50 {outcome['p50_ms']} ms  "
                      f"p99 {outcome['p99_ms']} ms  errors {outcome['errors']}", flush=True)
        results["apps"] = {name: median_round(r) for name, r in runs.items() if not name.startswith("no_")}
        results["per_round"] = per_round(runs)
        results["parts"] = {name[3:]: {**median_round(r), "throughput": round(statistics.median(
            part["rps"] / base["rps"] for part, base in zip(r, runs["baseline"])), 3)}
            for name, r in runs.items() if name.startswith("no_")}
        # Latency when the line is not saturated: both apps at half the line's throughput.
        rate = round(results["apps"]["line"]["rps"] / 2)
        results["paced"] = {"rate": rate}
        for name in ("baseline", "line"):
            paced = load(servers[name], calls[name], folder, seconds, warmup, args.connections, rate=rate)
            results["paced"][name] = {k: paced[k] for k in ("rps", "p50_ms", "p90_ms", "p99_ms", "errors")}
        for name, server in servers.items():
            if name.startswith("no_"):
                continue
            sizes = server.rss_mb()
            results["apps"][name]["rss_mb_per_worker"] = round(statistics.mean(sizes), 1) if sizes else None
        results["check_seconds"] = {"shipped": time_check(ROOT / "call_flows.yaml"), "big": time_check(big)}
        results["reload"] = reload_under_load(servers["line_big"], big, calls["line_big"], folder,
                                              4.0 if args.short else 10.0, args.connections)
    finally:
        for server in servers.values():
            server.stop()
    results["ratios"] = ratios(results)
    print(summary(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    if not args.short:
        Path(args.results).write_text(results_markdown(results))
        print(f"bench: wrote {args.results}")
        return 0 if all(results["ratios"]["met"].values()) else 1
    return 0


def ratios(results: dict) -> dict:
    """The figures that hold on any machine: the line against the baseline, big against shipped."""
    apps, rounds = results["apps"], results["per_round"]
    out = {name: round(statistics.median(values), 3) for name, values in rounds.items()}
    out["met"] = {
        "throughput": (out["throughput"] or 0) >= TARGETS["throughput"],
        "p99": (out["p99"] or 99) <= TARGETS["p99"],
        "big_throughput": (out["big_throughput"] or 0) >= TARGETS["big_throughput"],
        "check_seconds": results["check_seconds"]["big"] < TARGETS["check_seconds"],
        "no_errors": all(a["errors"] == 0 for a in apps.values()) and results["reload"]["errors"] == 0,
        "reload": _reload_unnoticed(results["reload"]),
    }
    paced = results["paced"]
    out["paced_p99"] = round(paced["line"]["p99_ms"] / paced["baseline"]["p99_ms"], 3) \
        if paced["baseline"]["p99_ms"] else None
    return out


def _reload_unnoticed(reload: dict) -> bool:
    """Whether every worker took the edit, with no request during it slow enough for a caller to notice."""
    if reload["all_workers_live_after_s"] is None or not reload["requests_during"]:
        return False
    return (reload["max_during_ms"] < TARGETS["reload_slowest_ms"]
            and reload["p99_during_ms"] <= TARGETS["reload_p99"] * reload["p99_otherwise_ms"])


def summary(results: dict) -> str:
    """The terminal summary."""
    apps, r = results["apps"], results["ratios"]
    big = results["settings"]["big_flow"]
    names = {"baseline": "baseline (fixed TwiML)", "line": "line, shipped flow",
             "line_big": f"line, {big['menus']} menus"}
    rows = [f"{'':<24}{'req/s':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'errors':>8}{'RSS/worker':>12}"
            f"{'CPU/request':>13}"]
    for key, label in names.items():
        a = apps[key]
        rows.append(f"{label:<24}{a['rps']:>9.1f}{a['p50_ms']:>9}{a['p90_ms']:>9}{a['p99_ms']:>9}"
                    f"{a['errors']:>8}{str(a['rss_mb_per_worker']) + ' MiB':>12}{str(a['cpu_us']) + ' us':>13}")
    mark = {True: "met", False: "MISSED"}
    rl = results["reload"]
    paced = results["paced"]
    rows.append(f"at {paced['rate']} req/s (half the line's throughput): p50/p99 baseline "
                f"{paced['baseline']['p50_ms']}/{paced['baseline']['p99_ms']} ms, line "
                f"{paced['line']['p50_ms']}/{paced['line']['p99_ms']} ms")
    rows += [
        "",
        f"throughput, line / baseline:  {r['throughput']:.2f}  (target >= {TARGETS['throughput']}: {mark[r['met']['throughput']]})",
        f"p99, line / baseline:         {r['p99']:.2f}x (target <= {TARGETS['p99']}x: {mark[r['met']['p99']]}); "
        f"not saturated (half the line's throughput): {r['paced_p99']:.2f}x",
        f"throughput, big / shipped:    {r['big_throughput']:.2f}  (target >= {TARGETS['big_throughput']}: {mark[r['met']['big_throughput']]})",
        f"check: shipped {results['check_seconds']['shipped']} s, big {results['check_seconds']['big']} s "
        f"(target < {TARGETS['check_seconds']} s: {mark[r['met']['check_seconds']]})",
        f"reload of the big flow under load: every worker on the new version after "
        f"{rl['all_workers_live_after_s']} s; meanwhile p50 {rl['p50_during_ms']} ms, p99 {rl['p99_during_ms']} ms, "
        f"slowest {rl['max_during_ms']} ms (otherwise p50 {rl['p50_otherwise_ms']} ms, p99 "
        f"{rl['p99_otherwise_ms']} ms) (target: slowest < {TARGETS['reload_slowest_ms']} ms, p99 <= "
        f"{TARGETS['reload_p99']}x otherwise: {mark[r['met']['reload']]})",
    ]
    if results.get("parts"):
        rows += ["", "what the line's own work costs: the line with parts switched off (bench/parts.py)",
                 f"{'':<24}{'req/s':>9}{'p99 ms':>9}{'CPU/request':>13}{'line/baseline':>15}"]
        for name, a in results["parts"].items():
            label = "without " + name.replace(",", ", ")
            rows.append(f"{label:<24}{a['rps']:>9.1f}{a['p99_ms']:>9}{str(a['cpu_us']) + ' us':>13}"
                        f"{a['throughput']:>15.2f}")
    return "\n".join(rows)


def results_markdown(results: dict) -> str:
    """bench/RESULTS.md: the results, the machine and the command."""
    m, s = results["machine"], results["settings"]
    return f"""# Benchmark results

Written by `make bench` (`python bench/run.py --parts`) on {time.strftime('%Y-%m-%d')}. Run it again to
refresh this file; the ratios are what to compare across machines.

## Command

    make bench

## Machine

- CPU: {m['cpu']}, {m['cores']} cores; memory {m['memory']}
- OS: {m['os']}; Python {m['python']}, gunicorn {m['gunicorn']}, Flask {m['flask']}
- Load generator (bench/load.py) on the same machine, in its own process

## Settings

gunicorn.conf.py as in production: {s['workers']} gthread workers x {s['threads']} threads; the line
with IVR_ENV=production, TWILIO_AUTH_TOKEN and IVR_PUBLIC_URL set (every request's signature
checked), store: {s['database']}. {s['connections']} keep-alive connections playing whole signed calls
(greeting, menus, explanations, a transfer answered, a transfer to voicemail, Spanish, a repeat);
{s['rounds']} rounds of {s['seconds']:g} s per app after {s['warmup']:g} s of warm-up, alternating;
each figure is the median over the rounds, and each ratio the median of the rounds' ratios (the
apps of one round run side by side, so a busy moment of the machine weighs on all of them).

## Results

```
{summary(results)}
```

Each round's ratios (the spread shows how steady the machine was during the run):
{chr(10).join(f"- {name}: {', '.join(str(v) for v in values)}" for name, values in results["per_round"].items())}

Where the line's time goes, and what was done about it: `bench/PROFILE.md`.
"""


if __name__ == "__main__":
    sys.exit(main())
