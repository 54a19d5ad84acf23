"""A generated call flow far bigger than the shipped one, to show cost does not grow with size.

The shipped file's line, counselors, routing and hours, then `menus` menus in a tree (each
menu leads to four more, and 9 back to the start), with `prompts` prompt names, each in
English and Spanish. The keys a benchmark call presses mean the same as in the shipped flow.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORDS = ("Detox is the first step, when the body clears the drug under care. Withdrawal from "
         "cocaine can bring tiredness, low mood and strong cravings; they pass, and you do not "
         "have to face them alone. ")


def write(folder: Path, menus: int = 2000, prompts: int = 5000) -> Path:
    """Write call_flows.yaml and prompts/ into folder; return the flow file's path."""
    if prompts < 2 * menus:
        raise ValueError("every menu needs an intro and a choices prompt: prompts >= 2 * menus")
    folder.mkdir(parents=True, exist_ok=True)
    shipped = (ROOT / "call_flows.yaml").read_text("utf-8")
    head = shipped[: shipped.index("\nmenus:")]
    names = ["welcome"] + [f"topic_{i}" for i in range(1, menus)]
    extra = prompts - 2 * menus  # menus that get a second explanation prompt
    lines = [head, "", "menus:"]
    for i, name in enumerate(names):
        intro = ["welcome", "safety"] if i == 0 else [name] + ([f"{name}_more"] if i <= extra else [])
        lines += [f"  {name}:", f"    title: {name.replace('_', ' ')}",
                  f"    intro: [{', '.join(intro)}]", f"    say: {'main_menu' if i == 0 else name + '_menu'}"]
        if i:
            lines.append(f"    words: {{en: [subject {i}], es: [tema {i}]}}")
        lines.append("    options:")
        for key, child in zip("1234", range(4 * i + 1, 4 * i + 5)):
            if child < menus:
                lines.append(f'      "{key}": {names[child]}')
        lines.append('      "0": counselor' if i == 0 else '      "9": welcome')
    (folder / "call_flows.yaml").write_text("\n".join(lines) + "\n", "utf-8")
    for lang in ("en", "es"):
        target = folder / "prompts" / lang
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(ROOT / "prompts" / lang, target)
        for i, name in enumerate(names[1:], start=1):
            (target / f"{name}.txt").write_text(f"Subject {i}. " + WORDS * 2, "utf-8")
            (target / f"{name}_menu.txt").write_text(
                f"To hear more about subject {4 * i + 1}, press 1. To go back to the start, press 9. "
                "To talk with a counselor, press 0.", "utf-8")
            if i <= extra:
                (target / f"{name}_more.txt").write_text(WORDS, "utf-8")
    return folder / "call_flows.yaml"


if __name__ == "__main__":
    print(write(Path(sys.argv[1])))
