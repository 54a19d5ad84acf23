"""The staff guide covers every field the loader accepts, with an example of each."""
import re
import textwrap

import pytest
import yaml

from ivr.flow import MESSAGES, PLACEHOLDERS, SPECIAL_TARGETS, WANTED, schema
from ivr.hours import ALLOWED_KEYS
from tests.conftest import ROOT

GUIDE = ROOT / "docs" / "editing-the-call-flow.md"
FIELDS = {
    "top level": schema.TOP, "line": schema.LINE, "each language": schema.LANGUAGE,
    "each counselor group": schema.GROUP, "each menu": schema.MENU, "hours": ALLOWED_KEYS,
    "messages": MESSAGES, "routing": ("open", "after_hours"),
}


def guide() -> str:
    return GUIDE.read_text("utf-8")


def yaml_examples() -> str:
    return "\n".join(re.findall(r"```yaml\n(.*?)```", guide(), re.S))


@pytest.mark.parametrize("section", FIELDS)
def test_every_field_the_loader_accepts_is_explained_with_an_example(section):
    text, examples = guide(), yaml_examples()
    missing = [f for f in FIELDS[section] if f"`{f}`" not in text]
    assert not missing, f"docs/editing-the-call-flow.md does not explain these {section} fields: {missing}"
    no_example = [f for f in FIELDS[section] if not re.search(rf"^\s*{re.escape(f)}:", examples, re.M)]
    assert not no_example, f"docs/editing-the-call-flow.md has no YAML example with: {no_example}"


def test_option_targets_and_placeholders_are_explained():
    text = guide()
    holes = [hole for table in (PLACEHOLDERS, WANTED) for holes in table.values() for hole in holes]
    for word in list(SPECIAL_TARGETS) + holes:
        assert f"`{word}`" in text, word


def test_every_example_is_valid_yaml():
    for block in re.findall(r"```yaml\n(.*?)```", guide(), re.S):
        assert isinstance(yaml.safe_load(textwrap.dedent(block)), dict), block


def test_readme_links_to_the_guide_and_has_its_sections():
    readme = (ROOT / "README.md").read_text("utf-8")
    assert "](docs/editing-the-call-flow.md)" in readme
    assert "\n## Editing the call flow\n" in readme and "\n## The flow at a glance\n" in readme
