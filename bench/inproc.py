"""The apps' own CPU per request, without gunicorn or sockets: the benchmark's calls replayed
straight into each WSGI app in this process (`python bench/inproc.py [--profile]`).

It shows what Flask and the line's code cost, apart from the server around them; with
--profile it prints where the line's time goes (cProfile, which inflates small calls).
"""
from __future__ import annotations

import argparse
import io
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.load import prepare  # noqa: E402
from bench.run import PUBLIC_URL, TOKEN, calls_by_step, line_env, record_calls  # noqa: E402


def environs(calls: list, count: int) -> list[dict]:
    """WSGI environs of `count` calls, each with fresh CallSids and signed as bench/load.py sends
    them, as gunicorn would pass them."""
    out = []
    for steps in prepare({"token": TOKEN, "public_url": PUBLIC_URL, "calls": calls, "prepared": count}):
        for path, body, headers in steps:
            route, _, query = path.partition("?")
            out.append({
                "REQUEST_METHOD": "POST", "SCRIPT_NAME": "", "PATH_INFO": route, "QUERY_STRING": query,
                "RAW_URI": path, "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "5000",
                "SERVER_PROTOCOL": "HTTP/1.1", "CONTENT_TYPE": headers["Content-Type"],
                "CONTENT_LENGTH": str(len(body)), "HTTP_HOST": "127.0.0.1:5000",
                "HTTP_X_TWILIO_SIGNATURE": headers["X-Twilio-Signature"],
                "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr, "wsgi.multithread": True,
                "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.version": (1, 0), "body": body})
    return out


def replay(app, requests: list[dict]) -> None:
    """Send every request to the app; fail on any answer but 200."""
    statuses = []
    for environ in requests:
        environ = dict(environ)
        environ["wsgi.input"] = io.BytesIO(environ.pop("body"))
        for _ in app(environ, lambda status, headers, exc_info=None: statuses.append(status)):
            pass
    wrong = [s for s in statuses if not s.startswith("200")]
    if wrong:
        raise SystemExit(f"the app answered {wrong[0]} ({len(wrong)} of {len(statuses)})")


def cpu_per_request(app, requests: list[dict], store=None) -> float:
    """Microseconds of this process's CPU per request, background writes included."""
    started = time.process_time()
    replay(app, requests)
    if store is not None:
        store.sink.flush()  # the events and call records this replay queued, written
    return (time.process_time() - started) / len(requests) * 1e6


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=400, help="calls to replay per app and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", action="store_true", help="also profile the line (cProfile)")
    parser.add_argument("--steps", action="store_true",
                        help="also each step of a call on its own, the peer and the line side by side")
    args = parser.parse_args(argv)
    os.environ.update(line_env(ROOT / "call_flows.yaml", Path(tempfile.mkdtemp(prefix="ivr-inproc-")), "line", None))

    from ivr import create_app, parts
    from ivr.phone import client_post
    from bench.baseline import create_app as baseline_app
    from bench.peer import create_app as peer_app
    line, baseline, peer = create_app(), baseline_app(), peer_app()
    devnull = open(os.devnull, "w")
    logging.getLogger("ivr").handlers[0].stream = devnull  # lines written, not shown
    logging.getLogger().handlers[0].stream = devnull  # the peer's (logging.basicConfig)
    logging.getLogger("ivr").propagate = False  # as under gunicorn, where the root logger has no handler
    store = parts.storage(line)
    replies: list = []
    calls = record_calls(client_post(line.test_client()), replies)
    requests = environs(calls, args.calls)
    replay(line, requests[:300])  # warm both up
    replay(baseline, requests[:300])
    replay(peer, requests[:300])
    figures: dict = {"baseline": [], "peer": [], "line": []}
    for _ in range(args.rounds):
        figures["baseline"].append(cpu_per_request(baseline, requests))
        figures["peer"].append(cpu_per_request(peer, requests))
        figures["line"].append(cpu_per_request(line, requests, store))
    for name, values in figures.items():
        print(f"{name:<9} {sorted(values)[len(values) // 2]:6.0f} us of CPU per request "
              f"(median of {len(values)} rounds of {len(requests)} requests)")
    if args.steps:
        for step, step_calls in calls_by_step(calls, replies).items():
            requests = environs(step_calls, args.calls)
            replay(peer, requests[:100])
            replay(line, requests[:100])
            pair: dict = {"peer": [], "line": []}
            for _ in range(args.rounds):
                pair["peer"].append(cpu_per_request(peer, requests))
                pair["line"].append(cpu_per_request(line, requests, store))
            ratio = sorted(p / l for p, l in zip(pair["peer"], pair["line"]))[len(pair["line"]) // 2]
            print(f"step {step:<12} peer {sorted(pair['peer'])[args.rounds // 2]:4.0f} us, line "
                  f"{sorted(pair['line'])[args.rounds // 2]:4.0f} us of CPU per request: the line does "
                  f"{ratio:.2f} of the peer's requests with the same CPU")
    if args.profile:
        import cProfile
        import pstats
        profile = cProfile.Profile()
        profile.runcall(cpu_per_request, line, requests, store)
        pstats.Stats(profile).sort_stats("cumulative").print_stats(40)
        pstats.Stats(profile).sort_stats("tottime").print_stats(40)
    return 0


if __name__ == "__main__":
    sys.exit(main())
