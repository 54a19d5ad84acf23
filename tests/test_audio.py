"""Recorded prompts: played instead of text-to-speech, served with caching headers, and the
text again when the recording is gone."""
from urllib.parse import urlsplit

import pytest

from ivr import create_app, parts
from ivr.cli import main
from ivr.phone import Phone, client_post
from tests.conftest import settle, tiny_wav


@pytest.fixture
def recorded(flow_dir, settings):
    """An app on a flow whose English welcome is recorded."""
    tiny_wav(flow_dir / "prompts" / "en" / "welcome.wav")
    app = create_app({**settings, "IVR_CALL_FLOWS": str(flow_dir / "call_flows.yaml")})
    return app


def dial(app, **kwargs) -> Phone:
    call = Phone(client_post(app.test_client()), **kwargs)
    call.dial_in()
    return call


def test_a_recorded_prompt_is_played_instead_of_spoken(recorded, flow_dir):
    call = dial(recorded)
    first = call.heard[0]
    assert first.kind == "play"
    assert urlsplit(first.url).path == "/audio/en/welcome.wav"
    assert f"v={parts.flow(recorded).version}" in first.url
    assert "Thank you for calling" not in call.said()  # not said as well
    assert "If someone may have overdosed" in call.said()  # the prompts not recorded are still spoken


def test_the_recording_is_served_with_caching_headers(recorded, flow_dir):
    client = recorded.test_client()
    url = dial(recorded).heard[0].url
    response = client.get(url)
    assert response.status_code == 200
    assert response.mimetype in ("audio/wav", "audio/x-wav")
    assert response.data == (flow_dir / "prompts" / "en" / "welcome.wav").read_bytes()
    assert response.cache_control.max_age == 86400 and response.cache_control.public
    assert response.headers["ETag"] and response.headers["Last-Modified"]
    again = client.get(url, headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


@pytest.mark.parametrize("path", ["/audio/en/welcom.wav", "/audio/en/main_menu.wav", "/audio/fr/welcome.wav",
                                  "/audio/en/welcome.txt", "/audio/en/..%2Fcall_flows.yaml"])
def test_only_recordings_the_flow_plays_are_served(recorded, path):
    assert recorded.test_client().get(path).status_code == 404


def test_other_languages_still_hear_their_own_text(recorded):
    call = dial(recorded, voice_path="/voice?l=es")
    assert call.heard[0].kind == "say" and call.heard[0].text.startswith("Gracias por llamar")


def test_an_mp3_recording_is_played_too(flow_dir, settings):
    (flow_dir / "prompts" / "en" / "main_menu.mp3").write_bytes(b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb" * 64)
    app = create_app({**settings, "IVR_CALL_FLOWS": str(flow_dir / "call_flows.yaml")})
    played = [h.url for h in dial(app).heard if h.kind == "play"]
    assert [urlsplit(u).path for u in played] == ["/audio/en/main_menu.mp3"]
    response = app.test_client().get(played[0])
    assert response.status_code == 200 and response.mimetype == "audio/mpeg"


def test_when_the_recording_is_removed_the_text_is_spoken_again(recorded, flow_dir):
    (flow_dir / "prompts" / "en" / "welcome.wav").unlink()
    store = parts.live_flow(recorded)
    settle(flow_dir)
    assert store.reload_if_changed()
    call = dial(recorded)
    assert call.heard[0].kind == "say" and call.heard[0].text.startswith("Thank you for calling")


def test_a_rerecorded_prompt_gets_a_new_url(recorded, flow_dir):
    store = parts.live_flow(recorded)
    before = dial(recorded).heard[0].url
    tiny_wav(flow_dir / "prompts" / "en" / "welcome.wav", seconds=0.2)
    settle(flow_dir)
    assert store.reload_if_changed()
    after = dial(recorded).heard[0].url
    assert urlsplit(after).path == urlsplit(before).path and after != before


def test_ivr_call_shows_the_recording_and_its_words(flow_dir, runner):
    tiny_wav(flow_dir / "prompts" / "en" / "welcome.wav")
    result = runner.invoke(main, ["call", str(flow_dir / "call_flows.yaml"), "--keys", "hangup"])
    assert result.exit_code == 0, result.output
    first = " ".join(result.output.split("\n[")[0].split())
    assert first.startswith("[en-US] (plays the recording prompts/en/welcome.wav) Thank you for calling")
