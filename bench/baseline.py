"""The cheapest Flask app that answers like the line: one fixed TwiML string for any request.

The benchmark serves it with the same gunicorn settings as the line, so the line's figures
can be read as a ratio to what Flask and gunicorn cost on their own on this machine.
"""
from flask import Flask, Response

# About the size of the line's greeting, so both answers cost the same to send.
TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Gather action="/voice/answer?n=welcome&amp;l=en" '
    'actionOnEmptyResult="false" finishOnKey="" hints="counselor, agent, operator, help, detox, rehab" '
    'input="dtmf speech" language="en-US" method="POST" numDigits="1" speechTimeout="auto" timeout="6">'
    + '<Say language="en-US" voice="Polly.Joanna-Neural">' + "You have reached the Recovery Helpline. " * 12
    + '</Say><Say language="en-US" voice="Polly.Joanna-Neural">To learn about detox, press 1. '
    'To talk with a counselor, press 0.</Say></Gather>'
    '<Redirect method="POST">/voice/silence?n=welcome&amp;l=en</Redirect></Response>'
)


def create_app() -> Flask:
    """A Flask app with one view that answers every path with TWIML."""
    app = Flask(__name__)

    @app.route("/", defaults={"path": ""}, methods=["GET", "POST"])
    @app.route("/<path:path>", methods=["GET", "POST"])
    def answer(path):
        return Response(TWIML, mimetype="text/xml")

    return app
