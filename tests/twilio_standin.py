"""A stand-in of Twilio's REST API on a loopback port, held to Twilio's own OpenAPI description.

Every request the line sends is checked by openapi-core against tests/twilio_contract/
(Twilio's description of the operations the line uses): path, method, path and query
parameters, the form body and its fields, and HTTP Basic auth. The stand-in then checks the
credentials as Twilio would, answers from the description's own examples with its state put in,
and checks its answer against the description too. A request the description does not allow is
answered 400 and noted in `problems`, which every test using it expects to stay empty.

Recordings' audio (`.wav`, `.mp3`) is not in the description (it is media, not a resource):
such a request is checked as the recording's fetch operation (the same path parameters and auth).

It can fail on purpose: `fail(...)` makes matching requests answer 404 or 500, or hold the
answer past the client's timeout ("timeout").
"""
from __future__ import annotations

import base64
import copy
import io
import json
import math
import re
import secrets
import struct
import threading
import wave
from dataclasses import dataclass, field
from pathlib import Path

from openapi_core import Config, OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

CONTRACT = Path(__file__).parent / "twilio_contract" / "twilio_api_v2010.json"
TWILIO = "https://api.twilio.com"
ACCOUNT = "AC" + "1f" * 16
TOKEN = "standin-auth-token-0123456789abcdef"  # a StandIn's default
MEDIA = re.compile(r"(/2010-04-01/Accounts/[^/]+/Recordings/[^/.]+)\.(wav|mp3)")
E164 = re.compile(r"\+[1-9][0-9]{6,14}")
# Twilio's own formats in the description, as Twilio documents them.
FORMATS = {
    "phone-number": lambda v: bool(re.fullmatch(r"\+?[0-9*]{1,15}", v)),  # a query may use * wildcards
    "endpoint": lambda v: bool(E164.fullmatch(v) or re.match(r"(sip|client):.+", v)),
    "uri": lambda v: bool(re.fullmatch(r"https?://[^\s/]+(/\S*)?|/\S*", v)),
    "http-method": lambda v: v in ("GET", "POST"),
}
OTHER_FORMATS = ("twiml", "date-time-rfc-2822", "uri-map", "currency", "phone-number-capabilities", "int64")


class AtTwilio(WerkzeugOpenAPIRequest):
    """A request as it would reach Twilio: the description's server is Twilio's own host."""

    host_url = TWILIO + "/"


@dataclass
class Seen:
    """One request the stand-in received: what it was and which operation of the contract it is."""

    method: str
    path: str
    operation: str
    form: dict
    query: dict
    status: int = 0


@dataclass
class Failure:
    """Answer requests whose method and path match with a failure, `times` times (None: always)."""

    method: str
    path: str  # a regular expression searched in the path
    outcome: int | str  # an HTTP status, or "timeout"
    times: int | None = None


@dataclass
class StandIn:
    """Twilio's API for one account, on 127.0.0.1; `url` goes in TWILIO_API_URL."""

    account: str = ACCOUNT
    token: str = TOKEN
    api_key: str = ""
    api_secret: str = ""
    hold: float = 6.0  # how long "timeout" keeps a request waiting (past api_settings' timeout)
    recordings: dict = field(default_factory=dict)  # RecordingSid -> audio bytes (WAV)
    numbers: dict = field(default_factory=dict)  # PhoneNumberSid -> the resource as Twilio shows it
    calls: list = field(default_factory=list)  # the forms of the calls created
    seen: list = field(default_factory=list)
    problems: list = field(default_factory=list)  # requests or answers outside the contract
    failures: list = field(default_factory=list)

    def __post_init__(self):
        spec = json.loads(CONTRACT.read_text("utf-8"))
        self.spec = spec
        config = Config(extra_format_validators={**FORMATS, **{f: lambda v: True for f in OTHER_FORMATS}},
                        extra_format_unmarshallers={f: str for f in [*FORMATS, *OTHER_FORMATS]})
        self.api = OpenAPI.from_dict(spec, config=config)
        self._stop = threading.Event()
        self._lock = threading.Lock()

    # -- the server ---------------------------------------------------------------------------

    def start(self, ssl_context=None) -> "StandIn":
        """Listen on a free loopback port (ready once this returns) and serve in a thread."""
        self.server = make_server("127.0.0.1", 0, self.wsgi, threaded=True, ssl_context=ssl_context,
                                  request_handler=_Quiet)
        scheme = "https" if ssl_context else "http"
        self.url = f"{scheme}://127.0.0.1:{self.server.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; requests held for a "timeout" are let go."""
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()

    # -- what a test sets up --------------------------------------------------------------------

    def add_recording(self, seconds: float = 2.0, account: str | None = None) -> tuple[str, str]:
        """A recording of a tone; returns its sid and the RecordingUrl Twilio sends in webhooks."""
        sid = "RE" + secrets.token_hex(16)
        self.recordings[sid] = tone_wav(seconds)
        return sid, f"{TWILIO}/2010-04-01/Accounts/{account or self.account}/Recordings/{sid}"

    def add_number(self, phone: str, **config) -> str:
        """An incoming phone number of the account, configured as given (voice_url=..., ...)."""
        sid = "PN" + secrets.token_hex(16)
        resource = copy.deepcopy(self._example("ListIncomingPhoneNumber", "200", "readFull")
                                 ["incoming_phone_numbers"][0])
        # Twilio's example writes "" where its schema says null (an unset application SID, URL).
        resource = {name: None if value == "" else value for name, value in resource.items()}
        resource.update(sid=sid, account_sid=self.account, phone_number=phone, friendly_name=phone,
                        uri=f"/2010-04-01/Accounts/{self.account}/IncomingPhoneNumbers/{sid}.json", **config)
        self.numbers[sid] = resource
        return sid

    def fail(self, method: str, path: str, outcome, times: int | None = None) -> None:
        """Make requests to paths matching `path` fail with `outcome` (404, 500, "timeout")."""
        self.failures.append(Failure(method, path, outcome, times))

    def operations(self) -> list[str]:
        """The contract operations received, in order."""
        return [seen.operation for seen in self.seen]

    # -- answering ------------------------------------------------------------------------------

    def wsgi(self, environ, start_response):
        request = Request(environ)
        failure = self._failure(request)
        response = self._answer(request, failure)
        return response(environ, start_response)

    def _failure(self, request: Request):
        """The failure this request is to get, if any (counting it down)."""
        with self._lock:
            for failure in self.failures:
                if failure.method == request.method and re.search(failure.path, request.path):
                    if failure.times is not None:
                        if failure.times <= 0:
                            continue
                        failure.times -= 1
                    return failure.outcome
        return None

    def _answer(self, request: Request, failure) -> Response:
        media = MEDIA.fullmatch(request.path)
        checked = AtTwilio(request)
        if media:  # checked as the recording's fetch: the same path parameters and credentials
            checked = _AsPath(request, media.group(1) + ".json")
        result = self.api.unmarshal_request(checked)
        operation = self._operation(checked)
        seen = Seen(request.method, request.path, operation + (".media" if media else ""),
                    request.form.to_dict(flat=False), request.args.to_dict(flat=False))
        self.seen.append(seen)
        problems = [_describe(error) for error in result.errors]
        problems += [f"query parameter {name} is not in the description" for name in request.args
                     if name not in self._parameters(checked, "query")]
        problems += [f"form field {name} is not in the description" for name in request.form
                     if name not in self._fields(checked)]
        if problems:
            self.problems.append(f"{request.method} {request.path}: " + "; ".join(problems))
            return self._error(400, 20001, "; ".join(problems), seen)
        if not self._signed_in(request):
            return self._error(401, 20003, "Authenticate", seen)
        if result.parameters.path.get("AccountSid") != self.account:
            return self._error(404, 20404, f"The requested resource {request.path} was not found", seen)
        if failure == "timeout":
            self._stop.wait(self.hold)
            return self._error(500, 20500, "Internal Server Error (held on purpose)", seen)
        if isinstance(failure, int):
            message = "was not found" if failure == 404 else "Internal Server Error"
            return self._error(failure, 20000 + failure, f"The requested resource {request.path} {message}", seen)
        handler = getattr(self, f"_{operation}", None)
        response = handler(request, result, media) if handler else self._error(501, 0, "not stood in", seen)
        seen.status = response.status_code
        if not media and response.status_code < 300:
            checked_answer = self.api.unmarshal_response(AtTwilio(request), WerkzeugOpenAPIResponse(response))
            if checked_answer.errors:
                self.problems.append(f"the stand-in's answer to {operation}: "
                                     + "; ".join(map(_describe, checked_answer.errors)))
        return response

    def _operation(self, checked) -> str:
        """The operationId of the contract operation a request names ('' if none)."""
        return (self._spec_operation(checked) or {}).get("operationId", "")

    def _signed_in(self, request: Request) -> bool:
        """Whether the request carries the account's SID and auth token, or its API key pair."""
        auth = request.authorization
        if not auth or auth.type != "basic":
            return False
        pairs = [(self.account, self.token)] + ([(self.api_key, self.api_secret)] if self.api_key else [])
        return (auth.username, auth.password) in pairs

    def _error(self, status: int, code: int, message: str, seen: Seen) -> Response:
        """An error in Twilio's shape."""
        seen.status = status
        body = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status}
        return Response(json.dumps(body), status, mimetype="application/json")

    def _example(self, operation_id: str, status: str, name: str) -> dict:
        """The description's own example answer of an operation."""
        for item in self.spec["paths"].values():
            for method, operation in item.items():
                if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                    content = operation["responses"][status]["content"]["application/json"]
                    return copy.deepcopy(content["examples"][name]["value"])
        raise KeyError(operation_id)

    def _parameters(self, checked, where: str) -> set:
        """The names of an operation's parameters in one place (query, path, ...)."""
        operation = self._spec_operation(checked)
        return {p["name"] for p in (operation or {}).get("parameters", []) if p["in"] == where}

    def _fields(self, checked) -> set:
        """The names of the form fields an operation's body may carry."""
        body = (self._spec_operation(checked) or {}).get("requestBody", {}).get("content", {})
        form = body.get("application/x-www-form-urlencoded", {}).get("schema", {})
        return set(form.get("properties", {}))

    def _spec_operation(self, checked) -> dict | None:
        """The description's operation for a request, matched by its path template and method."""
        for template, item in self.spec["paths"].items():
            pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
            if re.fullmatch(pattern, checked.path) and checked.method in item:
                return item[checked.method]
        return None

    # -- the operations ---------------------------------------------------------------------------

    def _CreateCall(self, request: Request, result, media) -> Response:
        form = request.form
        call = self._example("CreateCall", "201", "create")
        sid = "CA" + secrets.token_hex(16)
        call.update(sid=sid, account_sid=self.account, to=form["To"], to_formatted=form["To"],
                    **{"from": form["From"], "from_formatted": form["From"]}, status="queued",
                    direction="outbound-api", duration=None, start_time=None, end_time=None,
                    uri=f"/2010-04-01/Accounts/{self.account}/Calls/{sid}.json")
        self.calls.append({"Sid": sid, **{k: form.getlist(k) if k == "StatusCallbackEvent" else form[k]
                                          for k in form}})
        return Response(json.dumps(call), 201, mimetype="application/json")

    def _FetchRecording(self, request: Request, result, media) -> Response:
        sid = result.parameters.path["Sid"]
        if sid not in self.recordings:
            return self._error(404, 20404, f"The requested resource {request.path} was not found",
                               self.seen[-1])
        if media:
            audio = self.recordings[sid]
            response = Response(audio, mimetype="audio/x-wav" if media.group(2) == "wav" else "audio/mpeg")
            return response.make_conditional(request, accept_ranges=True, complete_length=len(audio))
        body = self._example("FetchRecording", "200", "fetch")
        body.update(sid=sid, account_sid=self.account,
                    uri=f"/2010-04-01/Accounts/{self.account}/Recordings/{sid}.json")
        return Response(json.dumps(body), 200, mimetype="application/json")

    def _DeleteRecording(self, request: Request, result, media) -> Response:
        sid = result.parameters.path["Sid"]
        if self.recordings.pop(sid, None) is None:
            return self._error(404, 20404, f"The requested resource {request.path} was not found",
                               self.seen[-1])
        return Response(status=204)

    def _ListIncomingPhoneNumber(self, request: Request, result, media) -> Response:
        wanted = request.args.get("PhoneNumber")
        found = [n for n in self.numbers.values() if not wanted or n["phone_number"] == wanted]
        body = self._example("ListIncomingPhoneNumber", "200", "readFull")
        page_size = int(request.args.get("PageSize", 50))
        uri = f"/2010-04-01/Accounts/{self.account}/IncomingPhoneNumbers.json"
        body.update(incoming_phone_numbers=found[:page_size], end=max(len(found) - 1, 0), page=0,
                    page_size=page_size, start=0, next_page_uri=None, first_page_uri=uri, uri=uri)
        return Response(json.dumps(body), 200, mimetype="application/json")

    def _FetchIncomingPhoneNumber(self, request: Request, result, media) -> Response:
        number = self.numbers.get(result.parameters.path["Sid"])
        if number is None:
            return self._error(404, 20404, f"The requested resource {request.path} was not found", self.seen[-1])
        return Response(json.dumps(number), 200, mimetype="application/json")

    def _UpdateIncomingPhoneNumber(self, request: Request, result, media) -> Response:
        number = self.numbers.get(result.parameters.path["Sid"])
        if number is None:
            return self._error(404, 20404, f"The requested resource {request.path} was not found", self.seen[-1])
        for name, value in request.form.items():
            # VoiceUrl -> voice_url; "" clears a setting, which Twilio's schema shows as null
            number[re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()] = value or None
        return Response(json.dumps(number), 200, mimetype="application/json")


class _Quiet(WSGIRequestHandler):
    """No access log: a test's output stays its own."""

    def log_request(self, *args, **kwargs) -> None:
        pass


class _AsPath(AtTwilio):
    """A media request, checked as the resource path it belongs to."""

    def __init__(self, request: Request, path: str):
        super().__init__(request)
        self._path = path

    @property
    def path(self) -> str:
        return self._path

    @property
    def method(self) -> str:
        return "get"


def _describe(error: Exception) -> str:
    """An openapi-core error with its cause (which field, which rule)."""
    text = str(error)
    cause = error.__cause__
    details = getattr(cause, "schema_errors", None) or ([cause] if cause else [])
    return text + "".join(f" ({getattr(d, 'message', d)})" for d in details)


def tone_wav(seconds: float, hz: int = 440) -> bytes:
    """A WAV of a quiet tone, 8 kHz 16-bit mono: what Twilio's recordings are."""
    out = io.BytesIO()
    with wave.open(out, "wb") as audio:
        audio.setnchannels(1)
        audio.setsampwidth(2)
        audio.setframerate(8000)
        frames = int(8000 * seconds)
        audio.writeframes(b"".join(struct.pack("<h", int(3000 * math.sin(2 * math.pi * hz * i / 8000)))
                                   for i in range(frames)))
    return out.getvalue()


def basic(username: str, password: str) -> str:
    """An HTTP Basic Authorization header value."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


# -- fixtures for the tests that use it -------------------------------------------------------

import pytest  # noqa: E402  (the stand-in itself needs no pytest)

from tests.conftest import TOKEN as AUTH_TOKEN  # noqa: E402  one token: webhooks' signatures and the API

LINE_NUMBER = "+18564437701"  # the shipped line.number


@pytest.fixture
def standin():
    """Twilio's API on a loopback port for one account (its auth token also signs webhooks)."""
    server = StandIn(token=AUTH_TOKEN).start()
    yield server
    server.stop()


def api_settings(server: StandIn, timeout: str = "2") -> dict:
    """The settings that point the line's REST client at the stand-in."""
    return {"TWILIO_ACCOUNT_SID": server.account, "TWILIO_AUTH_TOKEN": server.token,
            "TWILIO_API_URL": server.url, "TWILIO_API_TIMEOUT": timeout}


def with_audio(server: StandIn, call, seconds: float = 2.0) -> str:
    """Give the stand-in the audio of the message a Phone left; return its RecordingSid."""
    sid = next(form["RecordingSid"] for _, form in call.requests if "RecordingSid" in form)
    server.recordings[sid] = tone_wav(seconds)
    return sid
