"""Is the line no slower than it was at an earlier commit? Both served side by side, same settings.

    python bench/compare.py REV [--rounds N] [--seconds S] [--step voicemail]

Checks REV out into a temporary git worktree, serves it and the working tree under the same
gunicorn.conf.py settings and environment (bench/run.py's line_env), plays the same whole signed
calls at each in alternating rounds (or only one step of them, `--step`), as fast as each
answers, then at the helpline's load, and prints the medians and the median of the rounds' ratios (now / then). For a change that should
cost nothing (a refactor): a ratio near 1.0, within the spread of the rounds. Not part of
`make bench`.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import (HELPLINE_CALLS_PER_SECOND, ROOT, STEPS, Gunicorn, _proxied, calls_by_step,  # noqa: E402
                       line_env, load, record_calls)


class Checkout(Gunicorn):
    """The line served from another source tree (a checkout of an earlier commit)."""

    def __init__(self, name: str, tree: Path, env: dict, folder: Path):
        super().__init__(name, "ivr:create_app()", {**env, "PYTHONPATH": str(tree)}, folder)
        self.tree = tree

    def start(self) -> "Checkout":
        """Start gunicorn in the other tree, with its own gunicorn.conf.py; wait for every worker."""
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(self.tree / "gunicorn.conf.py"),
             "--bind", f"127.0.0.1:{self.port}", self.app],
            cwd=str(self.tree), env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_until_ready()
        return self


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rev", help="the earlier commit (a hash, a tag, main~3)")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--step", choices=STEPS, help="play only this step of the calls")
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="ivr-compare-"))
    tree = folder / "then"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), args.rev],
                   check=True, capture_output=True)
    servers = {"then": Checkout("then", tree, line_env(tree / "call_flows.yaml", folder, "then", None), folder),
               "now": Gunicorn("now", "ivr:create_app()", line_env(ROOT / "call_flows.yaml", folder, "now", None),
                               folder)}
    try:
        for server in servers.values():
            server.start()
        replies: list = []
        calls = record_calls(_proxied(servers["now"].base), replies)
        if args.step:
            calls = calls_by_step(calls, replies)[args.step]
        rate = round(HELPLINE_CALLS_PER_SECOND * sum(len(c) for c in calls) / len(calls))
        runs: dict = {name: [] for name in servers}
        for i in range(args.rounds):
            order = list(servers.items()) if i % 2 == 0 else list(reversed(servers.items()))
            for name, server in order:
                runs[name].append(load(server, calls, folder, args.seconds, 1.0, args.connections))
        paced = {name: [load(server, calls, folder, args.seconds, 1.0, args.connections, rate=rate)
                        for _ in range(2)] for name, server in servers.items()}
    finally:
        for server in servers.values():
            server.stop()
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], capture_output=True)
    print(report(args.rev + (f", step {args.step}" if args.step else ""), runs, paced, rate))
    return 0


def report(rev: str, runs: dict, paced: dict, rate: int) -> str:
    """The side-by-side table and the ratios, as text."""
    lines = [f"the line at {rev} (then) and the working tree (now), {len(runs['now'])} rounds each",
             f"{'':<6}{'req/s':>9}{'p99 ms':>9}{'CPU/req us':>12}{'p99 ms @' + str(rate) + '/s':>16}{'errors':>8}"]
    for name in ("then", "now"):
        rs = runs[name]
        errors = sum(r["errors"] for r in rs + paced[name])
        lines.append(f"{name:<6}{statistics.median(r['rps'] for r in rs):>9.1f}"
                     f"{statistics.median(r['p99_ms'] for r in rs):>9.2f}"
                     f"{statistics.median(r['cpu_us'] for r in rs):>12.0f}"
                     f"{statistics.median(r['p99_ms'] for r in paced[name]):>16.2f}{errors:>8}")
    throughput = [n["rps"] / t["rps"] for n, t in zip(runs["now"], runs["then"])]
    latency = [n["p99_ms"] / t["p99_ms"] for n, t in zip(runs["now"], runs["then"])]
    lines.append(f"now / then: throughput {statistics.median(throughput):.3f} "
                 f"(rounds {', '.join(f'{x:.2f}' for x in throughput)}); "
                 f"p99 {statistics.median(latency):.3f}x (rounds {', '.join(f'{x:.2f}' for x in latency)})")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
