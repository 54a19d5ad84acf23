"""`ivr graph`: the flow as a Mermaid flowchart, and the README's copy of it kept current."""
from ivr.cli import main
from ivr.flow import load_flow
from ivr.graph import BEGIN, END, in_readme, mermaid
from tests.conftest import ROOT


def test_readme_shows_the_shipped_flow_as_it_is_now():
    readme = (ROOT / "README.md").read_text("utf-8")
    assert BEGIN in readme and END in readme, "README.md lost its flow-diagram markers"
    committed = readme.split(BEGIN, 1)[1].split(END, 1)[0]
    current = f"\n```mermaid\n{mermaid(load_flow(ROOT / 'call_flows.yaml'))}```\n"
    assert committed == current, (
        "README.md's flow diagram is out of date with call_flows.yaml; regenerate it with:\n"
        "    ivr graph --readme README.md")


def test_graph_draws_menus_keys_transfers_voicemail_and_after_hours(runner):
    result = runner.invoke(main, ["graph", str(ROOT / "call_flows.yaml")])
    out = result.output
    assert result.exit_code == 0, out
    assert out.startswith("flowchart TD\n")
    assert 'm_welcome["welcome<br/><i>the main menu</i>"]' in out
    assert 'm_detox -- "1" --> m_detox_withdrawal' in out
    assert 'm_welcome -- "0" --> counselor' in out
    assert 'incoming -. "after hours (America/New_York): closed notice first" .-> m_welcome' in out
    assert 'm_welcome -. "7: en, 8: es: the greeting in that language" .-> m_welcome' in out
    assert 'counselor -- "in hours" --> m_g_desk' in out and 'counselor -- "after hours" --> m_g_on_call' in out
    assert 'm_g_desk[/"ring desk<br/>2 phones, 25 s, screened"/]' in out
    assert 'm_g_desk -- "no answer" --> m_g_backup' in out and 'm_g_backup -- "no answer" --> voicemail' in out


def test_graph_shows_edits_and_refuses_a_broken_file(runner, flow_dir):
    path = flow_dir / "call_flows.yaml"
    text = path.read_text()
    path.write_text(text.replace('      "9": welcome\n\n  rehab:', '      "9": welcome\n      "2": voicemail\n\n  rehab:')
                    .replace("routing:\n  open: desk\n", "routing:\n  open: desk\n  es: {open: backup}\n"))
    out = runner.invoke(main, ["graph", str(path)]).output
    assert 'm_detox_withdrawal -- "2" --> voicemail' in out
    assert 'counselor -- "in hours, es" --> m_g_backup' in out
    path.write_text(text.replace("start: welcome", "start: welcom"))
    result = runner.invoke(main, ["graph", str(path)])
    assert result.exit_code == 1
    assert "start is 'welcom', which is not a menu (did you mean 'welcome'?)" in result.output


def test_readme_option_writes_between_the_markers_only(runner, tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\nbefore\n\n{BEGIN}\n```mermaid\nold\n```\n{END}\n\n## After\n")
    result = runner.invoke(main, ["graph", str(ROOT / "call_flows.yaml"), "--readme", str(readme)])
    assert result.exit_code == 0, result.output
    text = readme.read_text()
    assert text.startswith("# Title\n\nbefore\n\n") and text.endswith(f"{END}\n\n## After\n")
    assert "old" not in text and 'm_detox -- "1" --> m_detox_withdrawal' in text
    assert in_readme(text, mermaid(load_flow(ROOT / "call_flows.yaml"))) == text
