"""The webhook form reader gives exactly what the standard library's parser gives."""
from urllib.parse import parse_qsl, urlencode

from hypothesis import given
from hypothesis import strategies as st

from ivr.form import parse

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
raw = st.text(st.sampled_from("ab1+%&=;2BE9C8é ✓\x00"), max_size=60)


@given(st.lists(st.tuples(text, text), max_size=12))
def test_a_form_twilio_encodes_reads_back_as_it_was(pairs):
    assert parse(urlencode(pairs)) == pairs


@given(raw)
def test_any_body_reads_as_parse_qsl_reads_it(body):
    assert parse(body) == parse_qsl(body, keep_blank_values=True)


def test_the_line_reads_webhook_forms_with_it(app, client):
    assert app.request_class.__name__ == "TwilioRequest"
    response = client.post("/voice/answer?n=welcome&l=en", content_type="application/x-www-form-urlencoded",
                           data="CallSid=CA" + "1" * 32 + "&Digits=1&From=%2B15551230000")
    assert "n=detox" in response.get_data(as_text=True)  # key 1 at the greeting: the detox topic
