"""One version of the call flow as a worker serves it, with what is worked out from it once."""
from __future__ import annotations

from datetime import datetime

from ivr.call import Reply, is_after_hours
from ivr.flow import Flow
from ivr.twiml import RenderCache, UrlFor

MOST_MINUTES = 1000  # minutes whose hours are kept; then a fresh start (a day has 1440)


class Edition:
    """A flow and the caches keyed by it; a new version gets a new Edition, and the old caches go with the old one."""

    def __init__(self, flow: Flow):
        self.flow = flow
        self._replies = RenderCache(flow)
        self._closed: dict = {}  # minute since the epoch -> after hours or not

    def after_hours(self, now: datetime) -> bool:
        """Whether the desk is closed now; kept per minute, as opening hours are whole minutes."""
        minute = int(now.timestamp() // 60)
        closed = self._closed.get(minute)
        if closed is None:
            if len(self._closed) > MOST_MINUTES:
                self._closed.clear()
            closed = self._closed[minute] = is_after_hours(self.flow, now)
        return closed

    def render(self, reply: Reply, url: UrlFor, scope: str = "") -> str:
        """The reply's TwiML, rendered once per reply (and `scope`, the app's root) and kept."""
        return self._replies.render(reply, url, scope)
