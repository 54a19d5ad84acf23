"""A phone that plays a call the way Twilio does, through the line's real routes.

Its transport posts Twilio's parameters (signed when it knows the auth token); its player
follows Gather, Redirect, Dial and Record actions and lets silence fall through to the next
verb; the handset is the gestures a person makes. The tests, `ivr call` and the browser phone
all use it, so none of them can differ from what a caller hears.
"""
from ivr.phone.handset import Phone
from ivr.phone.player import Heard, NotWaiting
from ivr.phone.position import PositionError
from ivr.phone.transport import CallDropped, Post, client_post, http_post, sid

__all__ = ["CallDropped", "Heard", "NotWaiting", "Phone", "PositionError", "Post", "client_post", "http_post", "sid"]
