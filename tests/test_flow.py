"""Checking call-flow files: the shipped one is clean, broken ones say where and what."""
from ivr.flow import check_flow
from tests.conftest import ROOT


def test_shipped_flow_checks_clean():
    flow, problems = check_flow(ROOT / "call_flows.yaml")
    assert flow is not None
    assert [str(p) for p in problems] == []
    assert set(flow.languages) == {"en", "es"}


def test_unknown_target_names_line_and_closest_menu(flow_dir):
    path = flow_dir / "call_flows.yaml"
    text = path.read_text().replace('"1": detox_withdrawal', '"1": detox_withdrawl')
    path.write_text(text)
    line = text.splitlines().index('      "1": detox_withdrawl') + 1
    flow, problems = check_flow(path)
    assert flow is None
    assert any(p.line == line and "'detox_withdrawl', which is not defined (did you mean 'detox_withdrawal'?)"
               in p.message for p in problems)


def test_duplicate_key_and_unquoted_time(flow_dir):
    path = flow_dir / "call_flows.yaml"
    text = path.read_text().replace('    sat: "09:00-13:00"', '    sat: {from: 9:00, to: 13:00}\n    sat: "10:00-12:00"')
    path.write_text(text)
    flow, problems = check_flow(path)
    assert flow is None
    messages = [str(p) for p in problems]
    assert any("given twice" in m for m in messages)
    assert any("13:00" in m and "quotes" in m for m in messages)
