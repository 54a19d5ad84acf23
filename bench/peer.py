"""The textbook peer: the phone tree Twilio's own Flask tutorials add up to, written the usual way.

What a helpline would otherwise run: the documented `validate_twilio_request` decorator
(`RequestValidator.validate` on every request), every reply built with `VoiceResponse`, and one
`logging` line per request. No hours, no store, no metrics, no crisis words, no whisper check:
it does less than the line. bench/run.py serves it with the line's gunicorn settings and the
line's own recorded calls, so every route the line answers, it answers too (each a TwiML of
the same kind and about the same size), and the two can be compared step by step.

It signs against IVR_PUBLIC_URL (what the tutorials' "behind a proxy" advice comes to: the
URL Twilio requested, not the loopback one gunicorn sees).
"""
import logging
import os
from functools import wraps

from flask import Flask, Response, abort, request, url_for
from twilio.request_validator import RequestValidator
from twilio.twiml.voice_response import VoiceResponse

log = logging.getLogger("peer")

VOICE = {"voice": "Polly.Joanna-Neural", "language": "en-US"}
GREETING = "You have reached the Recovery Helpline. " * 12
MENUS = {
    "1": "Detox is the body's first step. Medical detox keeps you safe through withdrawal. " * 4,
    "2": "Rehab is the mind's work: inpatient or outpatient, therapy, and support. " * 4,
    "3": "Aftercare keeps recovery going: groups, check-ins and a plan for hard days. " * 4,
    "4": "Choosing a program starts with what you need and what you can reach. " * 4,
}
OPTIONS = "To learn about detox, press 1. For rehab, press 2. For aftercare, press 3. " \
          "To talk with a counselor, press 0."
COUNSELORS = ("+15555550100", "+15555550101")


def validate_twilio_request(f):
    """Validates that incoming requests genuinely originated from Twilio (Twilio's tutorial)."""
    @wraps(f)
    def decorated_function(*args, **kwargs):
        validator = RequestValidator(os.environ.get("TWILIO_AUTH_TOKEN"))
        url = os.environ["IVR_PUBLIC_URL"].rstrip("/") + request.full_path.rstrip("?")
        request_valid = validator.validate(url, request.form, request.headers.get("X-TWILIO-SIGNATURE", ""))
        if request_valid:
            return f(*args, **kwargs)
        return abort(403)
    return decorated_function


def twiml(response: VoiceResponse) -> Response:
    """The tutorials' helper: the TwiML document as text/xml."""
    return Response(str(response), mimetype="text/xml")


def _menu(text: str, node: str) -> VoiceResponse:
    """A Gather saying `text` and the options, then a Redirect when nothing comes."""
    response = VoiceResponse()
    gather = response.gather(num_digits=1, action=url_for("menu", n=node), method="POST",
                             input="dtmf speech", timeout=6, hints="counselor, agent, detox, rehab")
    gather.say(text, **VOICE)
    gather.say(OPTIONS, **VOICE)
    response.redirect(url_for("silence", n=node), method="POST")
    return response


def _transfer() -> VoiceResponse:
    """Ring the counselors, each hearing a whisper first."""
    response = VoiceResponse()
    response.say("Connecting you to a counselor now, please stay on the line.", **VOICE)
    dial = response.dial(action=url_for("dialed", g="desk"), timeout=25)
    for number in COUNSELORS:
        dial.number(number, url=url_for("whisper", c=request.form.get("CallSid", "")), method="POST")
    return response


def _voicemail() -> VoiceResponse:
    """Nobody free: say so and record a message."""
    response = VoiceResponse()
    response.say("I'm so sorry, our counselors can't answer right now. Please leave your name "
                 "and a message after the tone, and we will call you back.", **VOICE)
    response.record(action=url_for("recorded"), max_length=120, play_beep=True,
                    recording_status_callback=url_for("recording"))
    return response


def create_app() -> Flask:
    """The tutorial app: one view per step of a call."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    app = Flask(__name__)

    @app.after_request
    def log_request(response):
        log.info("%s %s %s CallSid=%s", request.method, request.path, response.status_code,
                 request.form.get("CallSid", "-"))
        return response

    @app.post("/voice")
    @validate_twilio_request
    def voice():
        return twiml(_menu(GREETING, "welcome"))

    @app.post("/voice/answer")
    @validate_twilio_request
    def menu():
        digits = request.form.get("Digits", "")
        said = request.form.get("SpeechResult", "").lower()
        if digits == "0" or "counselor" in said:
            return twiml(_transfer())
        return twiml(_menu(MENUS.get(digits, GREETING), request.args.get("n", "welcome")))

    @app.post("/voice/silence")
    @validate_twilio_request
    def silence():
        return twiml(_menu("Are you still there? " + GREETING, request.args.get("n", "welcome")))

    @app.post("/voice/dialed")
    @validate_twilio_request
    def dialed():
        status = request.form.get("DialCallStatus", "failed")
        if status == "completed":
            response = VoiceResponse()
            response.say("Thank you for calling the Recovery Helpline. Take care of yourself.", **VOICE)
            response.hangup()
            return twiml(response)
        if request.args.get("g") == "desk":
            response = VoiceResponse()
            response.say("Please stay on the line, I am still trying to reach a counselor.", **VOICE)
            dial = response.dial(action=url_for("dialed", g="backup"), timeout=25)
            dial.number("+15555550110", url=url_for("whisper", c=request.form.get("CallSid", "")))
            return twiml(response)
        return twiml(_voicemail())

    @app.post("/voice/whisper")
    @validate_twilio_request
    def whisper():
        response = VoiceResponse()
        gather = response.gather(num_digits=1, action=url_for("screened", c=request.args.get("c", "")),
                                 method="POST", timeout=8)
        gather.say("Helpline call about detox. Press 1 to take it.", **VOICE)
        response.hangup()
        return twiml(response)

    @app.post("/voice/screened")
    @validate_twilio_request
    def screened():
        response = VoiceResponse()
        if request.form.get("Digits") != "1":
            response.hangup()
        return twiml(response)

    @app.post("/voice/recorded")
    @validate_twilio_request
    def recorded():
        response = VoiceResponse()
        response.say("Thank you. Your message is saved, and a counselor will call you back.", **VOICE)
        gather = response.gather(num_digits=1, action=url_for("menu", n="_saved"), timeout=6)
        gather.say("To hear the main menu again, press 1.", **VOICE)
        return twiml(response)

    @app.post("/voice/recording")
    @validate_twilio_request
    def recording():
        return twiml(VoiceResponse())

    @app.get("/healthz")
    def healthz():  # the benchmark's start-up wait asks for it, as it does of the line
        return "ok"

    @app.post("/status")
    @validate_twilio_request
    def status():
        return twiml(VoiceResponse())

    return app
