"""Which gunicorn worker settings suit the line: gthread with 4, 2 or 1 threads, or sync workers.

    python bench/servers.py [--seconds S] [--rounds N]

Serves the textbook peer and the line under each setting (the workers gunicorn.conf.py asks
for), plays whole calls as fast as each answers and at the helpline's load, and prints
throughput and latency side by side. How the setting in gunicorn.conf.py was chosen
(bench/PROFILE.md); not part of `make bench`.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import (HELPLINE_CALLS_PER_SECOND, PUBLIC_URL, ROOT, TOKEN, Gunicorn, _proxied,  # noqa: E402
                       line_env, load, record_calls)

SETTINGS = {"gthread, 4 threads": {"IVR_THREADS": "4"}, "gthread, 2 threads": {"IVR_THREADS": "2"},
            "gthread, 1 thread": {"IVR_THREADS": "1"},
            "sync": {"GUNICORN_CMD_ARGS": "--worker-class sync"}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args(argv)
    folder = Path(tempfile.mkdtemp(prefix="ivr-servers-"))
    rows = []
    for label, extra in SETTINGS.items():
        servers = {
            "peer": Gunicorn("peer", "bench.peer:create_app()",
                             {**extra, "TWILIO_AUTH_TOKEN": TOKEN, "IVR_PUBLIC_URL": PUBLIC_URL}, folder),
            "line": Gunicorn("line", "ivr:create_app()",
                             {**extra, **line_env(ROOT / "call_flows.yaml", folder, "line-" + label[-9:].strip(), None)},
                             folder),
        }
        try:
            for server in servers.values():
                server.start()
            calls = record_calls(_proxied(servers["line"].base))
            rate = round(HELPLINE_CALLS_PER_SECOND * sum(len(c) for c in calls) / len(calls))
            runs: dict = {name: [] for name in servers}
            for _ in range(args.rounds):
                for name, server in servers.items():
                    runs[name].append(load(server, calls, folder, args.seconds, 1.0, args.connections))
            paced = {name: load(server, calls, folder, args.seconds, 1.0, args.connections, rate=rate)
                     for name, server in servers.items()}
        finally:
            for server in servers.values():
                server.stop()
        for name in servers:
            rps = statistics.median(r["rps"] for r in runs[name])
            p99 = statistics.median(r["p99_ms"] for r in runs[name])
            errors = sum(r["errors"] for r in runs[name]) + paced[name]["errors"]
            rows.append(f"{label:<20}{name:<6}{rps:>9.1f}{p99:>9.2f}{paced[name]['p50_ms']:>11}"
                        f"{paced[name]['p99_ms']:>11}{errors:>8}")
            print(rows[-1], flush=True)
    print(f"{'':<26}{'req/s':>9}{'p99 ms':>9}{'p50 @' + str(rate):>11}{'p99 @' + str(rate):>11}{'errors':>8}")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
