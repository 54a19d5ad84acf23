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
def test_any_body_reads_as_werkzeug_reads_it(body):
    assert parse(body) == parse_qsl(body, keep_blank_values=True, errors="werkzeug.url_quote")


@given(st.lists(st.tuples(st.sampled_from(["Digits", "From", "n", ""]), text), max_size=6),
       st.sampled_from(["Digits", "From", "n", "", "SpeechResult"]))
def test_values_answer_get_as_a_multidict_does(pairs, name):
    from werkzeug.datastructures import ImmutableMultiDict

    from ivr.form import Values
    assert Values(pairs).get(name) == ImmutableMultiDict(pairs).get(name)
    assert Values(pairs).get(name, "none") == ImmutableMultiDict(pairs).get(name, "none")
    assert Values(pairs).get(name, type=len) == ImmutableMultiDict(pairs).get(name, type=len)


def test_the_line_reads_webhook_forms_with_it(app, client):
    assert app.request_class.__name__ == "TwilioRequest"
    response = client.post("/voice/answer?n=welcome&l=en", content_type="application/x-www-form-urlencoded",
                           data="CallSid=CA" + "1" * 32 + "&Digits=1&From=%2B15551230000")
    assert "n=detox" in response.get_data(as_text=True)  # key 1 at the greeting: the detox topic
    with app.test_request_context("/voice/answer?n=rehab&l=es&x=a+b%2Bc%FF"):
        from flask import request
        assert request.args.get("n") == "rehab" and request.args.get("x") == "a b+c%FF"
        assert request.args.get("missing") is None
