"""`make mutation`'s report: the score of each mutated file and the mutants the fast tests let live.

Run after `mutmut run` (it reads mutmut's results under mutants/). Mutants listed in
tests/mutation_equivalent.txt change nothing anyone could meet (each line says why); they are
left out of the score and shown apart. Not a test: pytest collects only test_*.py.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from mutmut.stats import status_by_exit_code

ROOT = Path(__file__).resolve().parent.parent
FILES = ("ivr/call.py", "ivr/hours.py", "ivr/speech.py")
CAUGHT = ("killed", "timeout")  # a mutant that made the tests hang was caught too
TARGET = {"ivr/call.py": 92.0, "ivr/hours.py": 92.0}


def equivalents(path: Path = ROOT / "tests" / "mutation_equivalent.txt") -> dict:
    """Mutant name -> why it is equivalent, from the list (`name  reason`, # comments)."""
    found = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip() if line.lstrip().startswith("#") else line.strip()
        if line:
            name, _, why = line.partition(" ")
            found[name] = why.strip()
    return found


def results(source: str) -> dict:
    """Mutant name -> status, from mutmut's record of one file."""
    meta = ROOT / "mutants" / f"{source}.meta"
    if not meta.exists():
        return {}
    codes = json.loads(meta.read_text())["exit_code_by_key"]
    return {name: status_by_exit_code[code] for name, code in codes.items()}


def main() -> int:
    """Print the score per file and every survivor; exit 1 when a file misses its target."""
    same = equivalents()
    missed = False
    for source in FILES:
        status = results(source)
        if not status:
            print(f"{source}: no results (run `mutmut run` first)")
            missed = True
            continue
        counted = {n: s for n, s in status.items() if n not in same}
        checked = {n: s for n, s in counted.items() if s != "not checked"}
        caught = sum(s in CAUGHT for s in checked.values())
        score = 100.0 * caught / len(checked) if checked else 0.0
        target = TARGET.get(source)
        unrun = len(counted) - len(checked)
        if target is None:
            verdict = ""
        elif unrun:  # a partial run (MUTANTS=...) says nothing of the file's score
            verdict = " (target 92%: not judged, part of the file only)"
        else:
            verdict = " (target 92%: met)" if score >= target else " (target 92%: MISSED)"
        missed |= target is not None and (unrun > 0 or score < target)
        print(f"{source}: {score:.1f}% of {len(checked)} non-equivalent mutants caught "
              f"({caught} caught, {len(checked) - caught} not; {len(status) - len(counted)} equivalent left out"
              f"{f'; {len(counted) - len(checked)} not run' if len(counted) > len(checked) else ''}){verdict}")
        for name, state in sorted(checked.items()):
            if state not in CAUGHT:
                print(f"    {state}: {name}")
        for name in sorted(n for n in status if n in same):
            print(f"    equivalent ({status[name]}): {name}: {same[name]}")
    print("See one with: .venv/bin/mutmut show NAME")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
