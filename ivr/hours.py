"""The helpline's business hours: read the `hours` section, say whether the desk is open and when it opens next.

Pure stdlib plus ivr.fields and ivr.problem: no Flask, no Twilio.  All opening hours are wall-clock
times in the desk's own time zone, so 08:00 means 08:00 local on both sides of a
daylight-saving change.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from ivr.fields import Fields
from ivr.problem import Problem, did_you_mean

__all__ = ["Window", "Hours", "parse_hours", "is_open", "next_opening", "describe_opening"]

UTC = timezone.utc
DAY = timedelta(days=1)
TICK = timedelta(microseconds=1)
SEARCH_DAYS = 14
ALLOWED_KEYS = ("timezone", "open", "closed_on", "special")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_DAY_WORDS = {
    **{name.lower(): i for i, name in enumerate(DAY_NAMES)},
    **{name[:3].lower(): i for i, name in enumerate(DAY_NAMES)},
    "tues": 1, "wednes": 2, "thur": 3, "thurs": 3,
}
_DAY_CHOICES = [name[:3].lower() for name in DAY_NAMES] + [name.lower() for name in DAY_NAMES]
# Words for several days staff write as a key: said back as the range they mean.
_SPAN_WORDS = {"weekdays": "mon-fri", "weekday": "mon-fri", "weekends": "sat,sun", "weekend": "sat,sun",
               "daily": "mon-sun", "everyday": "mon-sun"}
_TIME = re.compile(r"(\d{1,2}):(\d{2})")
_RANGE = re.compile(r"\s*([^-\u2013]*?)\s*[-\u2013]\s*([^-\u2013]*?)\s*")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_MISREAD = ("sexagesimal", "int")
RANGE_EXAMPLE = '"08:00-20:00"'


@dataclass(frozen=True)
class Window:
    """One opening window on a day; end <= start means it runs past midnight ("00:00-24:00" is all day)."""

    start: time
    end: time

    @property
    def span(self) -> tuple[timedelta, timedelta]:
        """Start and end as offsets from the start of its own day (the end may pass 24 hours)."""
        start, end = _offset(self.start), _offset(self.end)
        return start, (end if end > start else end + DAY)


@dataclass(frozen=True)
class Hours:
    """The desk's weekly hours, closed dates and one-off special dates, in one time zone."""

    timezone: str
    weekly: dict[int, tuple[Window, ...]]
    closed_on: frozenset[date] = frozenset()
    special: dict[date, tuple[Window, ...]] = field(default_factory=dict)

    @property
    def tz(self) -> ZoneInfo:
        """The desk's time zone."""
        return ZoneInfo(self.timezone)

    def windows_on(self, day: date) -> tuple[Window, ...]:
        """Windows that start on this local date, after closed dates and special dates."""
        if day in self.closed_on:
            return ()
        if day in self.special:
            return self.special[day]
        return self.weekly.get(day.weekday(), ())


# ---------------------------------------------------------------- parsing


def parse_hours(raw, line_at, implicit) -> tuple[Hours | None, list[Problem]]:
    """Read the raw `hours` section into Hours (None if anything is an error), with every problem found."""
    reader = _Reader(line_at, implicit)
    if not isinstance(raw, dict):
        reader.error((), "should be a mapping with timezone, open, closed_on and special")
        return None, reader.problems
    reader.check_keys(raw)
    tz_name = reader.timezone(raw.get("timezone"))
    weekly = reader.weekly(raw.get("open"))
    closed = reader.closed_on(raw.get("closed_on"))
    special = reader.special(raw.get("special"))
    reader.check_contradictions(closed, special)
    reader.check_ever_open(weekly, special)
    if tz_name is None or any(p.is_error for p in reader.problems):
        return None, reader.problems
    windows = {day: found for day, (found, _key) in special.items()}
    return Hours(tz_name, weekly, frozenset(closed), windows), reader.problems


class _Reader(Fields):
    """Walks the raw hours section, collecting problems with their source lines (ivr.fields)."""

    def __init__(self, line_at, implicit):
        super().__init__(line_at, implicit, prefix="hours: ")

    def check_keys(self, raw: dict) -> None:
        """Flag keys the hours section does not know."""
        for key in raw:
            if key not in ALLOWED_KEYS:
                hint = did_you_mean(key, ALLOWED_KEYS)
                self.error((key,), f"unknown key '{key}'{hint}; the hours section takes "
                           "timezone, open, closed_on and special")

    def timezone(self, value) -> str | None:
        """The checked time zone name, or None after recording why not."""
        name = value.strip() if isinstance(value, str) else ""
        if not name:
            self.error(("timezone",), "no timezone given; add a line like  timezone: America/New_York")
            return None
        if name not in _zones():
            self.error(("timezone",), f"timezone '{name}' is not a known time zone{_suggest_zone(name)}; "
                       "use a name from the tz database like America/New_York")
            return None
        return name

    # -- the weekly `open` section

    def weekly(self, raw) -> dict[int, tuple[Window, ...]]:
        """Windows for each weekday (0=Monday) from the `open` section."""
        week: dict[int, tuple[Window, ...]] = {day: () for day in range(7)}
        if raw is None or raw == "":
            return week
        if not isinstance(raw, dict):
            self.error(("open",), f"'open' should map days to hours, like  mon-fri: {RANGE_EXAMPLE}")
            return week
        given: dict[int, str] = {}
        for key, value in raw.items():
            days = self.days(key)
            windows = self.windows(value, ("open", key), f"'{key}'")
            if days is None or windows is None:
                continue
            self.check_given_once(key, days, given)
            for day in days:
                if given.setdefault(day, key) == key:
                    week[day] = windows
        return week

    def days(self, key) -> list[int] | None:
        """Weekdays named by a key like "mon-fri", "sat,sun" or "Monday"."""
        found: list[int] = []
        for part in str(key).split(","):
            bounds = [word.strip().lower() for word in re.split("[-\u2013]", part)]
            if len(bounds) > 2 or not all(bounds):
                self.error(("open", key), f"'{key}' is not a day or range of days; "
                           "write it like \"mon-fri\" or \"sat,sun\"")
                return None
            ends = [self.day_number(word, key) for word in bounds]
            if None in ends:
                return None
            found += [(ends[0] + step) % 7 for step in range((ends[-1] - ends[0]) % 7 + 1)]
        twice = sorted({day for day in found if found.count(day) > 1})
        if twice:
            self.error(("open", key), f"'{key}' names {_and(DAY_NAMES[d] for d in twice)} more than once; "
                       "give each day once")
            return None
        return found

    def day_number(self, word: str, key) -> int | None:
        """0-6 for a day name, or None after recording an error."""
        if word in _DAY_WORDS:
            return _DAY_WORDS[word]
        where = f"'{key}'" if word == str(key).strip().lower() else f"'{word}' in '{key}'"
        hint = f" (did you mean '{_SPAN_WORDS[word]}'?)" if word in _SPAN_WORDS else did_you_mean(word, _DAY_CHOICES)
        self.error(("open", key), f"{where} is not a day name{hint}; "
                   "use mon, tue, wed, thu, fri, sat, sun, a range like mon-fri or a list like sat,sun")
        return None

    def check_given_once(self, key, days: list[int], given: dict[int, str]) -> None:
        """Flag days this key gives that an earlier key already gave."""
        earlier: dict[str, list[int]] = {}
        for day in days:
            if day in given:
                earlier.setdefault(given[day], []).append(day)
        for other, repeated in earlier.items():
            names = _and(DAY_NAMES[d] for d in repeated)
            verb = "is" if len(repeated) == 1 else "are"
            self.error(("open", key), f"{names} {verb} given twice, in '{other}' "
                       f"(line {self.line(('open', other))}) and in '{key}'; give each day once")

    # -- windows

    def windows(self, value, path: tuple, label: str) -> tuple[Window, ...] | None:
        """Windows from one value: a range, a list of ranges, or "closed"; None on error."""
        if _is_closed(value):
            return ()
        if isinstance(value, list):
            read = [self.window(item, path + (i,), label) for i, item in enumerate(value)]
        else:
            read = [self.window(value, path, label)]
        if None in read:
            return None
        return self.without_overlap(read, label)

    def window(self, value, path: tuple, label: str) -> tuple[Window, str, tuple] | None:
        """One window with its source text and path, or None after recording an error."""
        if isinstance(value, dict):
            return self.window_from_to(value, path, label)
        match = _RANGE.fullmatch(value) if isinstance(value, str) else None
        start = _parse_time(match.group(1)) if match else None
        end = _parse_time(match.group(2), allow_24=True) if match else None
        if start is None or end is None:
            also = ' (or "closed" on its own, not in a list)' if _is_closed(value) else ' or "closed"'
            self.error(path, f"{label} window '{_text(value)}' is not a time range; "
                       f"write it like {RANGE_EXAMPLE}{also}")
            return None
        return self.checked(start, end, f"{match.group(1)}-{match.group(2)}", path, label)

    def window_from_to(self, value: dict, path: tuple, label: str) -> tuple[Window, str, tuple] | None:
        """A window written as a mapping {from: HH:MM, to: HH:MM}."""
        if set(value) != {"from", "to"}:
            self.error(path, f"{label} should be a time range like {RANGE_EXAMPLE}, "
                       "or a mapping with just 'from' and 'to'")
            return None
        start = self.time(value["from"], path + ("from",), label, allow_24=False)
        end = self.time(value["to"], path + ("to",), label, allow_24=True)
        if start is None or end is None:
            return None
        return self.checked(start, end, f"{value['from'].strip()}-{value['to'].strip()}", path, label)

    def time(self, value, path: tuple, label: str, allow_24: bool) -> time | None:
        """A single time of day, warning when YAML 1.1 would have read it as a number."""
        parsed = _parse_time(value, allow_24) if isinstance(value, str) else None
        if parsed is None:
            self.error(path, f"{label} '{path[-1]}' time '{_text(value)}' is not a time; write it like \"08:00\"")
            return None
        if self.implicit(path) in _MISREAD:
            text = value.strip()
            self.warn(path, f"{text} is unquoted; YAML 1.1 reads it as the number {_yaml11_number(text)}. "
                      f"It is read here as the time {text}; put it in quotes (\"{text}\") to be sure.")
        return parsed

    def checked(self, start: time, end: time, text: str, path: tuple, label: str):
        """The window, unless it opens and closes at the same moment."""
        if start == end and not text.endswith("24:00"):
            self.error(path, f"{label} window '{text}' is empty (it opens and closes at the same time); "
                       'write the real hours, or "00:00-24:00" for all day')
            return None
        return Window(start, end), text, path

    def without_overlap(self, read: list, label: str) -> tuple[Window, ...] | None:
        """The windows sorted by start, or None after flagging any two that overlap."""
        read = sorted(read, key=lambda item: item[0].span)
        clashes = [(a, b) for a, b in zip(read, read[1:]) if b[0].span[0] < a[0].span[1]]
        for (_, first, _), (_, second, where) in clashes:
            self.error(where, f"{label} windows '{first}' and '{second}' overlap; "
                       "make each window end before the next one starts")
        return None if clashes else tuple(window for window, _, _ in read)

    # -- dates

    def closed_on(self, raw) -> dict[date, int]:
        """Closed dates, each with its index in the closed_on list."""
        if raw is None or raw == "":
            return {}
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, list):
            self.error(("closed_on",), "closed_on should be a list of dates, like  - \"2026-12-25\"")
            return {}
        found: dict[date, int] = {}
        for i, text in enumerate(items):
            day = self.date(text, ("closed_on", i), "closed_on")
            if day is not None and day in found:
                self.warn(("closed_on", i), f"closed_on lists {day} twice; once is enough")
            if day is not None:
                found.setdefault(day, i)
        return found

    def special(self, raw) -> dict[date, tuple[tuple[Window, ...], str]]:
        """Special dates, each with its windows (empty = closed) and source key."""
        if raw is None or raw == "":
            return {}
        if not isinstance(raw, dict):
            self.error(("special",), f"special should map dates to hours, like  \"2026-12-24\": {RANGE_EXAMPLE}")
            return {}
        found: dict[date, tuple[tuple[Window, ...], str]] = {}
        for key, value in raw.items():
            day = self.date(key, ("special", key), "special")
            windows = self.windows(value, ("special", key), f"special '{key}'")
            if day is not None and day in found:
                self.error(("special", key), f"special gives {day} twice ('{found[day][1]}' and '{key}'); "
                           "give it once")
            elif day is not None and windows is not None:
                found[day] = (windows, key)
        return found

    def date(self, value, path: tuple, where: str) -> date | None:
        """A YYYY-MM-DD date, or None after recording an error."""
        text = value.strip() if isinstance(value, str) else ""
        if not _DATE.fullmatch(text):
            self.error(path, f"{where} date '{_text(value)}' is not a date; write it like 2026-12-25")
            return None
        try:
            return date.fromisoformat(text)
        except ValueError:
            self.error(path, f"{where} date '{text}' does not exist; check the month and day")
            return None

    # -- whole-section checks

    def check_contradictions(self, closed: dict[date, int], special: dict) -> None:
        """Flag dates that are both closed and given special hours."""
        for day, (_, key) in special.items():
            if day in closed:
                self.error(("special", key), f"{day} is in closed_on (line {self.line(('closed_on', closed[day]))}) "
                           f"and in special (line {self.line(('special', key))}); keep it in only one of them")

    def check_ever_open(self, weekly: dict, special: dict) -> None:
        """Warn when the desk never opens (unless errors already explain it)."""
        if any(weekly.values()) or any(p.is_error for p in self.problems):
            return
        if any(windows for windows, _ in special.values()):
            self.warn(("open",), "no weekly open hours; outside the special dates every call will take "
                      "the after-hours path")
        else:
            self.warn(("open",), "the desk is never open; every call will take the after-hours path")


def _parse_time(text: str, allow_24: bool = False) -> time | None:
    """A time from "8:00" / "08:00" / "17:30" ("24:00" as midnight when allowed), or None."""
    match = _TIME.fullmatch(text.strip()) if isinstance(text, str) else None
    if not match:
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    if allow_24 and (hour, minute) == (24, 0):
        return time(0, 0)
    return time(hour, minute) if hour < 24 and minute < 60 else None


def _yaml11_number(text: str) -> int:
    """What YAML 1.1 makes of an unquoted base-60 number like 17:30 (1050)."""
    number = 0
    for part in text.split(":"):
        number = number * 60 + int(part)
    return number


def _is_closed(value) -> bool:
    """Whether a value says the desk is closed."""
    return isinstance(value, str) and value.strip().lower() == "closed"


def _text(value) -> str:
    """A value as it would read in a message."""
    return value if isinstance(value, str) else str(value)


def _and(words) -> str:
    """Join words as "a", "a and b", "a, b and c"."""
    words = list(words)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    """Every time zone name zoneinfo knows."""
    return frozenset(available_timezones())


def _suggest_zone(name: str) -> str:
    """' (did you mean 'Area/City'?)' for a near miss, a wrong case or a bare city name."""
    wanted = name.replace(" ", "_").lower()
    for zone in sorted(_zones()):
        if zone.lower() == wanted or zone.rsplit("/", 1)[-1].lower() == wanted:
            return f" (did you mean '{zone}'?)"
    return did_you_mean(name, sorted(_zones()))


# ---------------------------------------------------------------- open or closed


def _offset(moment: time) -> timedelta:
    """A time of day as the time since midnight."""
    return timedelta(hours=moment.hour, minutes=moment.minute,
                     seconds=moment.second, microseconds=moment.microsecond)


def _local(hours: Hours, now: datetime) -> datetime:
    """now in the desk's time zone; now must be timezone-aware."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    return now.astimezone(hours.tz)


def _covers(hours: Hours, day: date, at: timedelta) -> bool:
    """Whether wall-clock time `at` on local date `day` is in a window (today's or last night's)."""
    today = any(start <= at < end for start, end in (w.span for w in hours.windows_on(day)))
    last_night = any(at + DAY < end for _, end in (w.span for w in hours.windows_on(day - DAY)))
    return today or last_night


def is_open(hours: Hours, now: datetime) -> bool:
    """Whether the desk is open at the aware moment now (judged on local wall-clock time)."""
    local = _local(hours, now)
    return _covers(hours, local.date(), _offset(local.time()))


def next_opening(hours: Hours, now: datetime) -> datetime | None:
    """The first moment after now (aware, in hours.tz) when the desk goes from closed to open, within 14 days."""
    local = _local(hours, now)
    for moment in _window_starts(hours, local.date()):
        if moment.astimezone(UTC) > local.astimezone(UTC) and _opens_at(hours, moment):
            return moment
    return None


def _opens_at(hours: Hours, moment: datetime) -> bool:
    """Whether the desk is open at moment and was closed just before it."""
    return is_open(hours, moment) and not is_open(hours, moment.astimezone(UTC) - TICK)


def _window_starts(hours: Hours, first: date) -> list[datetime]:
    """Real moments each window starting on first..first+14 days opens, in time order."""
    moments = []
    for n in range(SEARCH_DAYS + 1):
        day = first + n * DAY
        for window in hours.windows_on(day):
            moments += _real_moments(day, window.start, hours.tz)
    return sorted(moments, key=lambda moment: moment.astimezone(UTC))


def _real_moments(day: date, wall: time, tz: ZoneInfo) -> list[datetime]:
    """When wall-clock `wall` happens on day: twice in a fall-back hour, at the gap's end if skipped."""
    both = [datetime.combine(day, wall, tzinfo=tz).replace(fold=fold) for fold in (0, 1)]
    real: dict[datetime, datetime] = {}
    for moment in filter(_exists, both):
        real.setdefault(moment.astimezone(UTC), moment)
    return list(real.values()) if real else [_gap_end(both)]


def _exists(moment: datetime) -> bool:
    """Whether this local wall-clock time really happens (it is not in a spring-forward gap)."""
    back = moment.astimezone(UTC).astimezone(moment.tzinfo)
    return back.replace(tzinfo=None) == moment.replace(tzinfo=None)


def _gap_end(both: list[datetime]) -> datetime:
    """The first real moment after a spring-forward gap, found between the two readings of a skipped time."""
    tz = both[0].tzinfo
    low, high = sorted(moment.astimezone(UTC) for moment in both)
    before = low.astimezone(tz).utcoffset()
    while high - low > TICK:
        middle = low + (high - low) / 2
        low, high = (middle, high) if middle.astimezone(tz).utcoffset() == before else (low, middle)
    return high.astimezone(tz)


# ---------------------------------------------------------------- saying it

# The day and month names are staff's, in prompts/<language>/day_names.txt and month_names.txt
# (read and checked with the flow, ivr.flow.prompts). These are said only for a language whose
# prompts/ has no such file (a folder from before those files): what the line always said.
EN_MONTHS = ("January", "February", "March", "April", "May", "June", "July",
             "August", "September", "October", "November", "December")
ES_DAYS = ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo")
ES_MONTHS = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio",
             "agosto", "septiembre", "octubre", "noviembre", "diciembre")


def describe_opening(when: datetime, now: datetime, lang: str, day_names=None, month_names=None) -> str:
    """A spoken phrase for when, e.g. "tomorrow at 9:30 AM" / "mañana a las 9 y 30 de la mañana".

    when and now are aware; "today" and "tomorrow" are the desk's (when's zone). day_names
    (Monday first) and month_names (January first) are the flow's, from prompts/; None says
    the language's own built-in names.
    """
    days = (when.date() - now.astimezone(when.tzinfo).date()).days
    spanish = str(lang).lower().replace("_", "-").split("-")[0] == "es"
    if spanish:
        return _say_es(when, days, day_names or ES_DAYS, month_names or ES_MONTHS)
    return _say_en(when, days, day_names or DAY_NAMES, month_names or EN_MONTHS)


def _say_en(when: datetime, days: int, day_names: tuple, month_names: tuple) -> str:
    """English: "today at 8 AM", "tomorrow at 9:30 AM", "on Monday at 8 AM"."""
    day = {0: "today", 1: "tomorrow"}.get(days, f"on {day_names[when.weekday()]}")
    if not 0 <= days < 7:
        day += f", {month_names[when.month - 1]} {when.day}"
    hour = when.hour % 12 or 12
    clock = f"{hour}" if when.minute == 0 else f"{hour}:{when.minute:02d}"
    return f"{day} at {clock} {'AM' if when.hour < 12 else 'PM'}"


def _say_es(when: datetime, days: int, day_names: tuple, month_names: tuple) -> str:
    """Spanish: "hoy a las 8 de la mañana", "mañana a las 9 y 30 de la mañana", "el lunes a las 8 de la mañana"."""
    day = {0: "hoy", 1: "mañana"}.get(days, f"el {day_names[when.weekday()]}")
    if not 0 <= days < 7:
        day += f" {when.day} de {month_names[when.month - 1]}"
    hour = when.hour % 12 or 12
    clock = ("a la 1" if hour == 1 else f"a las {hour}") + (f" y {when.minute}" if when.minute else "")
    if when.hour == 0 or when.hour >= 20:
        part = "de la noche"
    else:
        part = "de la mañana" if when.hour < 12 else "de la tarde"
    return f"{day} {clock} {part}"
