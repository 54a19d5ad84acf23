"""Big flows load fast the same way small ones load: libyaml reads exactly what PyYAML reads."""
import pytest

from bench import bigflow
from ivr import source
from ivr.flow import check_flow
from tests.conftest import ROOT

QUIRKS = """\
line:
  name: Test
  tries: 2
hours:
  open: {mon-fri: 08:00-20:00, sat: 9:00}
  closed_on: [2026-12-25, no]
menus:
  welcome:
    say: "welcome"
    options:
      1: detox
      "2": 'rehab'
      "*": repeat
    words: {en: [yes, null, ~]}
  detox: {say: |
      multi line
    }
"""


def _reading(text: str) -> tuple:
    src = source.read_source(text)
    return src.data, src.lines, src.implicit, src.implicit_keys, [str(p) for p in src.problems]


@pytest.mark.skipif(source._FAST_LOADER is None, reason="this PyYAML has no libyaml")
@pytest.mark.parametrize("text", [(ROOT / "call_flows.yaml").read_text(), QUIRKS,
                                  "a: [1, 2\nb: 3\n", "a:\n  b: 1\n c: 2\n", 'a: "x\n'])
def test_libyaml_and_pyyaml_read_the_same(text, monkeypatch):
    fast = _reading(text)
    monkeypatch.setattr(source, "_FAST_LOADER", None)
    assert fast == _reading(text)


def test_a_generated_flow_of_hundreds_of_menus_checks_clean(tmp_path):
    path = bigflow.write(tmp_path, menus=300, prompts=700)
    flow, problems = check_flow(path)
    assert [str(p) for p in problems] == []
    assert len(flow.menus) == 300
    assert len({name for _, name in flow.prompts}) >= 700
    assert flow.menus["topic_1"].options == {"1": "topic_5", "2": "topic_6", "3": "topic_7", "4": "topic_8",
                                             "9": "welcome"}
