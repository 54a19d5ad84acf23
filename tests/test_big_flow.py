"""Big flows load fast the same way small ones load: libyaml reads exactly what PyYAML reads."""
import re
from dataclasses import replace

import pytest

from bench import bigflow
from ivr.flow import source
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


def test_a_slow_flow_is_checked_in_a_process_of_its_own(flow_dir, monkeypatch):
    from ivr import live as stores
    from tests.conftest import settle
    monkeypatch.setattr(stores, "SLOW_LOOK", 0.0)  # any flow counts as big
    store = stores.LiveFlow(flow_dir / "call_flows.yaml")
    assert store._slow
    first = store.flow.version

    def not_here(path):
        raise AssertionError("checked in the worker's own process")
    monkeypatch.setattr(stores, "check_flow", not_here)
    path = flow_dir / "call_flows.yaml"
    good = path.read_text()
    path.write_text(good.replace('"1": detox_withdrawal', '"1": detox_withdrawl'))
    settle(flow_dir)
    assert store.reload_if_changed() is False
    assert any("detox_withdrawl" in e for e in store.error) and store.flow.version == first
    path.write_text(good.replace("title: detox\n", "title: detox and withdrawal\n"))
    settle(flow_dir)
    assert store.reload_if_changed() is True
    assert store.flow.version != first and store.flow.menus["detox"].title == "detox and withdrawal"


def test_a_parcelled_check_reads_back_as_the_same_flow(tmp_path):
    from ivr import live as stores
    path = bigflow.write(tmp_path, menus=600, prompts=1300)
    flow, problems = stores.unparcel(stores.parcel(path))
    direct, _ = check_flow(path)
    assert problems == [] and len(flow.menus) == 600 > stores.PIECE
    assert replace(flow, loaded_at=0) == replace(direct, loaded_at=0)
    assert list(flow.menus) == list(direct.menus)  # the order staff wrote them in, kept
    broken = path.read_text().replace('"1": topic_1\n', '"1": topic_one\n', 1)
    path.write_text(broken)
    flow, problems = stores.unparcel(stores.parcel(path))
    assert flow is None and any("topic_one" in str(p) for p in problems)


def test_an_old_big_flow_is_let_go_only_once_nothing_serves_it(flow_dir):
    import gc
    import threading
    import weakref

    from ivr import live
    flow, _ = check_flow(flow_dir / "call_flows.yaml")
    served = flow  # a request, or the app's Edition, still serving the old version
    gone = weakref.ref(flow)
    menu = weakref.ref(next(iter(flow.menus.values())))
    letting_go = threading.Thread(target=live._let_go, args=([flow],))
    del flow
    letting_go.start()
    letting_go.join(0.3)
    assert letting_go.is_alive() and gone() is served  # it waits for the request
    assert served.menus  # and leaves the flow whole meanwhile
    del served
    letting_go.join(5)
    gc.collect()
    assert not letting_go.is_alive() and gone() is None and menu() is None


@pytest.mark.slow
def test_workers_share_one_check_of_a_big_edit(serve, tmp_path, monkeypatch):
    from tests import test_reload
    from tests.test_reload import log_size, wait_for_log, workers
    monkeypatch.setattr(test_reload, "DEADLINE", 60.0)  # a big flow's edit may take seconds more on a busy machine
    path = bigflow.write(tmp_path / "big", menus=600, prompts=3000)  # big enough to be checked beside the calls
    server = serve({"IVR_CALL_FLOWS": str(path)}, workers=3)
    first = server.health()["flow"]["version"]
    pids = set(wait_for_log(server, rf"flow version {first} is live \(worker (\d+)\)", 3))
    assert pids == workers(server)
    since = log_size(server)
    path.write_text(path.read_text().replace("title: topic 7\n", "title: topic seven\n"))
    edited, _ = check_flow(path)
    live = wait_for_log(server, rf"flow version {edited.version} is live \(worker (\d+)\)", 3, since)
    assert set(live) == pids
    log = server.log_path.read_text()[since:]
    assert len(re.findall(r"call-flow edit checked once for every worker \(by worker (\d+)\)", log)) == 1
    call = server.phone()
    call.dial_in()
    assert call.waiting == "gather"
