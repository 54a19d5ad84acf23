"""The docs stay true: the architecture page names every module of ivr/, and every link leads somewhere."""
import re
import unicodedata
from pathlib import Path

from tests.conftest import ROOT

ARCHITECTURE = ROOT / "docs" / "architecture.md"
NOT_CODE = ("static", "templates")  # the browser phone's files: no modules there
FENCE = re.compile(r"^[ \t]*(```|~~~).*?^[ \t]*\1", re.M | re.S)
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def modules() -> set[str]:
    """Every Python module under ivr/, packages' __init__.py included, as `ivr/...py`."""
    found = set()
    for path in (ROOT / "ivr").rglob("*.py"):
        parts = path.relative_to(ROOT / "ivr").parts
        if parts[0] not in NOT_CODE and "__pycache__" not in parts:
            found.add(path.relative_to(ROOT).as_posix())
    return found


def named_on_page() -> set[str]:
    """The modules docs/architecture.md names, written as `ivr/...py`."""
    return set(re.findall(r"`(ivr/[\w/]+\.py)`", ARCHITECTURE.read_text("utf-8")))


def test_the_architecture_page_names_every_module_and_only_those():
    present, named = modules(), named_on_page()
    missing, gone = sorted(present - named), sorted(named - present)
    assert not missing and not gone, (
        "docs/architecture.md is out of step with ivr/ (one line each under 'Every module', as "
        "- `ivr/NAME.py`: what it is.)\n"
        + "".join(f"  add a line for {name}\n" for name in missing)
        + "".join(f"  remove {name}: there is no such module\n" for name in gone))


def markdown_pages() -> list[Path]:
    """The README and every page under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = unicodedata.normalize("NFC", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading's anchor on a page, with GitHub's -1, -2 for repeats."""
    seen: dict[str, int] = {}
    found = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", FENCE.sub("", page.read_text("utf-8")), re.M):
        base = slug(heading)
        count = seen.get(base, 0)
        found.add(base if count == 0 else f"{base}-{count}")
        seen[base] = count + 1
    return found


def broken_links(page: Path, root: Path = ROOT) -> list[str]:
    """The relative links of a page that lead to no file, or to no heading of the file."""
    broken = []
    for target in LINK.findall(FENCE.sub("", page.read_text("utf-8"))):
        if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I):
            continue  # https:, mailto: ...: not ours to check
        path, _, fragment = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        where = f"{page.relative_to(root)}: ({target})"
        if not file.exists():
            broken.append(f"{where} leads to {path}, which does not exist")
        elif fragment and file.suffix == ".md" and fragment not in anchors(file):
            broken.append(f"{where}: {file.relative_to(root)} has no heading #{fragment}")
    return broken


def test_every_relative_link_in_the_readme_and_docs_leads_somewhere():
    broken = [problem for page in markdown_pages() for problem in broken_links(page)]
    assert not broken, "broken links:\n  " + "\n  ".join(broken)


def test_the_link_checker_sees_a_missing_file_and_a_missing_heading(tmp_path):
    (tmp_path / "a.md").write_text("# Every field of `call_flows.yaml`\n\n## Twice\n\n## Twice\n")
    page = tmp_path / "b.md"
    page.write_text("[ok](a.md#every-field-of-call_flowsyaml) [ok](a.md#twice-1) [web](https://x.org/none)\n"
                    "[no file](nothing.md) [no heading](a.md#nowhere)\n```\n[in code](ignored.md)\n```\n")
    assert broken_links(page, tmp_path) == ["b.md: (nothing.md) leads to nothing.md, which does not exist",
                                  "b.md: (a.md#nowhere): a.md has no heading #nowhere"]
