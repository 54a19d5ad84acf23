"""Tests for ivr.hours: parsing the hours section, open/closed, next opening and how it is said."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st

from ivr.hours import Hours, Window, describe_opening, is_open, next_opening, parse_hours

NY = ZoneInfo("America/New_York")
UTC = timezone.utc

SHIPPED = {
    "timezone": "America/New_York",
    "open": {"mon-fri": "08:00-20:00", "sat": "09:00-13:00", "sun": "closed"},
    "closed_on": ["2026-12-25", "2027-01-01"],
}

LINES = {
    (): 1,
    ("timezone",): 2,
    ("open",): 3,
    ("open", "mon-fri"): 4,
    ("open", "sat"): 5,
    ("open", "sun"): 6,
    ("open", "wed"): 7,
    ("closed_on",): 8,
    ("closed_on", 0): 9,
    ("closed_on", 1): 10,
    ("special",): 11,
    ("special", "2026-12-24"): 12,
    ("special", "2026-12-25"): 13,
    ("special", "2026-12-26"): 14,
    ("special", "2026-12-31"): 15,
}


def no_implicit(path):
    """Every scalar was a plain string."""
    return None


def parse(raw, implicit=no_implicit, lines=LINES):
    """parse_hours with a dict-lookup line_at."""
    return parse_hours(raw, lines.get, implicit)


def build(raw):
    """Hours from a raw section that must parse without errors."""
    hours, problems = parse(raw)
    assert hours is not None, problems
    assert not [p for p in problems if p.is_error]
    return hours


def ny(*args, fold=0):
    """An aware New York datetime."""
    return datetime(*args, tzinfo=NY, fold=fold)


def errors(problems):
    return [p for p in problems if p.severity == "error"]


def warnings(problems):
    return [p for p in problems if p.severity == "warning"]


@pytest.fixture(scope="module")
def shipped():
    return build(SHIPPED)


# ---------------------------------------------------------------- parsing the shipped hours


def test_shipped_parses_cleanly():
    hours, problems = parse(SHIPPED)
    assert problems == []
    assert hours.timezone == "America/New_York"
    assert hours.tz == NY
    assert hours.weekly[0] == (Window(time(8), time(20)),)
    assert hours.weekly[4] == (Window(time(8), time(20)),)
    assert hours.weekly[5] == (Window(time(9), time(13)),)
    assert hours.weekly[6] == ()
    assert hours.closed_on == frozenset({date(2026, 12, 25), date(2027, 1, 1)})
    assert hours.special == {}


def test_example_with_specials_parses():
    raw = dict(SHIPPED, special={"2026-12-24": "08:00-14:00", "2026-12-26": "10:00-12:00",
                                 "2026-12-31": "closed"})
    hours = build(raw)
    assert hours.special == {
        date(2026, 12, 24): (Window(time(8), time(14)),),
        date(2026, 12, 26): (Window(time(10), time(12)),),
        date(2026, 12, 31): (),
    }


def test_day_keys_lists_full_names_and_case():
    hours = build({"timezone": "UTC", "open": {"Monday": "8:00-9:00", "SAT, sun": ["10:00-11:00", "12:00-13:00"],
                                               "tue-thu": "09:00-10:00"}})
    assert hours.weekly[0] == (Window(time(8), time(9)),)
    assert hours.weekly[1] == hours.weekly[2] == hours.weekly[3] == (Window(time(9), time(10)),)
    assert hours.weekly[4] == ()
    assert hours.weekly[5] == hours.weekly[6] == (Window(time(10), time(11)), Window(time(12), time(13)))


def test_range_wraps_round_the_week():
    hours = build({"timezone": "UTC", "open": {"fri-mon": "10:00-11:00"}})
    assert [d for d, w in hours.weekly.items() if w] == [0, 4, 5, 6]


def test_all_day_and_24_end():
    hours = build({"timezone": "UTC", "open": {"mon": "00:00-24:00", "tue": "18:00-24:00"}})
    assert hours.weekly[0] == (Window(time(0), time(0)),)
    assert is_open(hours, datetime(2026, 3, 2, 0, 0, tzinfo=UTC))  # a Monday
    assert is_open(hours, datetime(2026, 3, 2, 23, 59, 59, tzinfo=UTC))
    assert not is_open(hours, datetime(2026, 3, 3, 0, 0, tzinfo=UTC))  # Tuesday midnight
    assert is_open(hours, datetime(2026, 3, 3, 23, 59, tzinfo=UTC))
    assert not is_open(hours, datetime(2026, 3, 4, 0, 0, tzinfo=UTC))


# ---------------------------------------------------------------- is_open


@pytest.mark.parametrize("moment, expected", [
    (ny(2026, 3, 4, 9, 15), True),     # Wednesday morning
    (ny(2026, 3, 4, 8, 0), True),      # opening minute
    (ny(2026, 3, 4, 7, 59), False),
    (ny(2026, 3, 4, 7, 59, 59), False),
    (ny(2026, 3, 4, 19, 59, 59), True),
    (ny(2026, 3, 4, 20, 0), False),    # end is exclusive
    (ny(2026, 3, 7, 12, 59), True),    # Saturday
    (ny(2026, 3, 7, 13, 0), False),
    (ny(2026, 3, 7, 8, 30), False),
    (ny(2026, 3, 8, 3, 0), False),     # Sunday 3am
    (ny(2026, 3, 8, 12, 0), False),
    (ny(2026, 12, 25, 10, 0), False),  # Christmas, a Friday
    (ny(2026, 12, 24, 10, 0), True),
    (ny(2027, 1, 1, 10, 0), False),    # New Year's Day, a Friday
])
def test_shipped_is_open(shipped, moment, expected):
    assert is_open(shipped, moment) is expected


def test_now_in_utc_is_converted(shipped):
    # 12:30 UTC on a winter Wednesday is 07:30 in New York: closed; 13:00 UTC is 08:00: open.
    assert not is_open(shipped, datetime(2026, 1, 7, 12, 30, tzinfo=UTC))
    assert is_open(shipped, datetime(2026, 1, 7, 13, 0, tzinfo=UTC))
    # 00:30 UTC Thursday is 19:30 Wednesday in New York: open.
    assert is_open(shipped, datetime(2026, 1, 8, 0, 30, tzinfo=UTC))
    # In summer the offset is -4: 12:00 UTC is 08:00.
    assert is_open(shipped, datetime(2026, 7, 8, 12, 0, tzinfo=UTC))
    assert not is_open(shipped, datetime(2026, 7, 8, 11, 59, tzinfo=UTC))


def test_now_in_other_zone(shipped):
    london = ZoneInfo("Europe/London")
    assert is_open(shipped, datetime(2026, 1, 7, 13, 0, tzinfo=london))  # 08:00 in NY
    assert not is_open(shipped, datetime(2026, 1, 7, 12, 59, tzinfo=london))


def test_naive_now_is_refused(shipped):
    with pytest.raises(ValueError):
        is_open(shipped, datetime(2026, 1, 7, 10, 0))
    with pytest.raises(ValueError):
        next_opening(shipped, datetime(2026, 1, 7, 10, 0))


def test_special_dates_replace_the_week():
    hours = build(dict(SHIPPED, special={"2026-12-24": "08:00-14:00", "2026-12-26": "10:00-12:00",
                                         "2026-12-31": "closed"}))
    assert is_open(hours, ny(2026, 12, 24, 13, 59))
    assert not is_open(hours, ny(2026, 12, 24, 14, 0))     # short Christmas Eve
    assert not is_open(hours, ny(2026, 12, 26, 9, 30))     # Saturday moved to 10:00
    assert is_open(hours, ny(2026, 12, 26, 10, 0))
    assert not is_open(hours, ny(2026, 12, 26, 12, 0))
    assert not is_open(hours, ny(2026, 12, 31, 10, 0))     # closed on a Thursday
    assert is_open(hours, ny(2026, 12, 30, 10, 0))


def test_special_opens_a_sunday():
    hours = build(dict(SHIPPED, special={"2026-12-27": "12:00-16:00"}))
    assert is_open(hours, ny(2026, 12, 27, 12, 0))
    assert next_opening(hours, ny(2026, 12, 26, 14, 0)) == ny(2026, 12, 27, 12, 0)


CROSSING = {"timezone": "America/New_York", "open": {"fri": "22:00-02:00"}}


@pytest.mark.parametrize("moment, expected", [
    (ny(2026, 3, 6, 21, 59), False),   # Friday
    (ny(2026, 3, 6, 22, 0), True),
    (ny(2026, 3, 6, 23, 59), True),
    (ny(2026, 3, 7, 0, 0), True),      # Saturday
    (ny(2026, 3, 7, 1, 0), True),
    (ny(2026, 3, 7, 1, 59, 59), True),
    (ny(2026, 3, 7, 2, 0), False),
    (ny(2026, 3, 5, 23, 0), False),    # Thursday night
    (ny(2026, 3, 8, 1, 0), False),     # Sunday: Saturday has no window
])
def test_crossing_midnight(moment, expected):
    assert is_open(build(CROSSING), moment) is expected


def test_crossing_window_belongs_to_its_start_day():
    # Friday 2026-12-25 is closed, so its 22:00-02:00 window never opens, not even on Saturday.
    hours = build(dict(CROSSING, closed_on=["2026-12-25"]))
    assert not is_open(hours, ny(2026, 12, 25, 23, 0))
    assert not is_open(hours, ny(2026, 12, 26, 1, 0))
    # A closed Saturday does not cut short Friday's window.
    hours = build(dict(CROSSING, closed_on=["2026-12-19"]))
    assert is_open(hours, ny(2026, 12, 19, 1, 0))
    assert next_opening(hours, ny(2026, 12, 19, 3, 0)) == ny(2026, 12, 25, 22, 0)


def test_crossing_next_opening():
    hours = build(CROSSING)
    assert next_opening(hours, ny(2026, 3, 7, 2, 0)) == ny(2026, 3, 13, 22, 0)
    assert next_opening(hours, ny(2026, 3, 5, 12, 0)) == ny(2026, 3, 6, 22, 0)


# ---------------------------------------------------------------- DST


def test_spring_forward_2027_03_14(shipped):
    # A Sunday: closed all day, then Monday 08:00 is now -04:00.
    assert not is_open(shipped, ny(2027, 3, 14, 3, 30))
    opening = next_opening(shipped, ny(2027, 3, 14, 3, 0))
    assert opening == datetime(2027, 3, 15, 12, 0, tzinfo=UTC)
    assert opening.utcoffset() == timedelta(hours=-4)
    assert (opening.hour, opening.minute) == (8, 0)
    # Saturday before the change is still -05:00 and opens at 09:00 local.
    assert next_opening(shipped, ny(2027, 3, 13, 3, 0)) == datetime(2027, 3, 13, 14, 0, tzinfo=UTC)
    assert is_open(shipped, datetime(2027, 3, 15, 12, 0, tzinfo=UTC))
    assert not is_open(shipped, datetime(2027, 3, 15, 11, 59, tzinfo=UTC))


def test_fall_back_2026_11_01(shipped):
    assert not is_open(shipped, ny(2026, 11, 1, 1, 30))
    assert not is_open(shipped, ny(2026, 11, 1, 1, 30, fold=1))
    opening = next_opening(shipped, ny(2026, 11, 1, 1, 30, fold=1))
    assert opening == datetime(2026, 11, 2, 13, 0, tzinfo=UTC)
    assert opening.utcoffset() == timedelta(hours=-5)
    # Saturday before the change: 13:00 UTC is 09:00 EDT, open.
    assert is_open(shipped, datetime(2026, 10, 31, 13, 0, tzinfo=UTC))
    assert not is_open(shipped, datetime(2026, 11, 2, 12, 59, tzinfo=UTC))  # Monday 07:59 EST
    assert is_open(shipped, datetime(2026, 11, 2, 13, 0, tzinfo=UTC))


def test_window_starting_in_the_spring_gap_opens_at_three():
    hours = build({"timezone": "America/New_York", "open": {"sun": "02:30-04:00"}})
    opening = next_opening(hours, ny(2027, 3, 13, 12, 0))
    assert opening == datetime(2027, 3, 14, 7, 0, tzinfo=UTC)
    assert (opening.hour, opening.minute, opening.utcoffset()) == (3, 0, timedelta(hours=-4))
    assert is_open(hours, opening)
    assert not is_open(hours, opening.astimezone(UTC) - timedelta(microseconds=1))
    assert is_open(hours, ny(2027, 3, 14, 3, 59))
    assert not is_open(hours, ny(2027, 3, 14, 4, 0))
    # An ordinary Sunday opens at 02:30 sharp.
    assert next_opening(hours, ny(2027, 3, 15, 12, 0)) == ny(2027, 3, 21, 2, 30)


def test_window_wholly_in_the_spring_gap_never_opens_that_day():
    hours = build({"timezone": "America/New_York", "open": {"sun": "02:10-02:40"}})
    assert next_opening(hours, ny(2027, 3, 13, 12, 0)) == ny(2027, 3, 21, 2, 10)


def test_fall_back_hour_opens_twice():
    hours = build({"timezone": "America/New_York", "open": {"sun": "01:00-01:30"}})
    assert is_open(hours, ny(2026, 11, 1, 1, 15))
    assert is_open(hours, ny(2026, 11, 1, 1, 15, fold=1))
    # (compare in UTC: Python never calls a repeated-hour time equal to one in another zone)
    first = next_opening(hours, ny(2026, 10, 31, 12, 0))
    assert first.astimezone(UTC) == datetime(2026, 11, 1, 5, 0, tzinfo=UTC)    # 01:00 EDT
    second = next_opening(hours, ny(2026, 11, 1, 1, 45))
    assert second.astimezone(UTC) == datetime(2026, 11, 1, 6, 0, tzinfo=UTC)   # 01:00 EST, second time round
    assert second.fold == 1 and second.utcoffset() == timedelta(hours=-5)


def test_in_the_fall_back_hour_the_next_opening_is_the_next_in_real_time_not_on_the_clock():
    # Two short windows in the repeated hour: at 01:30 EDT the next opening is 01:40 EDT, ten
    # minutes on, though 01:10 EST (second time round) comes first on the clock.
    hours = build({"timezone": "America/New_York", "open": {"sun": ["01:10-01:20", "01:40-01:50"]}})
    opening = next_opening(hours, ny(2026, 11, 1, 1, 30))
    assert opening.astimezone(UTC) == datetime(2026, 11, 1, 5, 40, tzinfo=UTC)


# ---------------------------------------------------------------- next_opening


def test_at_the_opening_minute_the_next_opening_is_the_one_after(shipped):
    # Open from 08:00: asked at 08:00 sharp, the desk is open, and it next opens tomorrow.
    assert next_opening(shipped, ny(2026, 3, 4, 8, 0)) == ny(2026, 3, 5, 8, 0)


def test_an_opening_more_than_14_days_away_is_not_looked_for():
    # Closed for the 14 days after Tuesday 1 December: the next opening, on the 16th, is 15 days on.
    closed = [f"2026-12-{day:02d}" for day in range(2, 16)]
    hours = build({"timezone": "America/New_York", "open": {"mon-sun": "08:00-20:00"}, "closed_on": closed})
    assert next_opening(hours, ny(2026, 12, 1, 21, 0)) is None
    assert next_opening(hours, ny(2026, 12, 2, 21, 0)) == ny(2026, 12, 16, 8, 0)  # 14 days on: found


def test_next_opening_from_sunday_3am(shipped):
    opening = next_opening(shipped, ny(2026, 3, 1, 3, 0))
    assert opening == datetime(2026, 3, 2, 8, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert opening.tzinfo == NY and opening.utcoffset() == timedelta(hours=-5)
    assert (opening.year, opening.month, opening.day, opening.hour, opening.minute) == (2026, 3, 2, 8, 0)


def test_next_opening_from_sunday_3am_on_the_spring_change_day(shipped):
    # 2026-03-08 is the change day: Monday 08:00 is already -04:00.
    opening = next_opening(shipped, ny(2026, 3, 8, 3, 0))
    assert opening == datetime(2026, 3, 9, 8, 0, tzinfo=timezone(timedelta(hours=-4)))


def test_next_opening_from_christmas(shipped):
    opening = next_opening(shipped, ny(2026, 12, 25, 10, 0))
    assert opening == ny(2026, 12, 26, 9, 0)
    assert opening.weekday() == 5 and opening.utcoffset() == timedelta(hours=-5)


def test_next_opening_same_day_and_from_utc(shipped):
    assert next_opening(shipped, ny(2026, 3, 4, 6, 0)) == ny(2026, 3, 4, 8, 0)
    assert next_opening(shipped, ny(2026, 3, 4, 20, 0)) == ny(2026, 3, 5, 8, 0)
    opening = next_opening(shipped, datetime(2026, 3, 4, 11, 0, tzinfo=UTC))
    assert opening == ny(2026, 3, 4, 8, 0) and opening.tzinfo == NY


def test_next_opening_skips_new_year(shipped):
    assert next_opening(shipped, ny(2026, 12, 31, 21, 0)) == ny(2027, 1, 2, 9, 0)


def test_next_opening_while_open_is_the_next_reopening(shipped):
    assert next_opening(shipped, ny(2026, 3, 4, 9, 0)) == ny(2026, 3, 5, 8, 0)


def test_next_opening_ignores_back_to_back_windows():
    hours = build({"timezone": "UTC", "open": {"fri": "20:00-24:00", "sat": "00:00-02:00"}})
    assert next_opening(hours, datetime(2026, 3, 7, 1, 0, tzinfo=UTC)) == datetime(2026, 3, 13, 20, 0, tzinfo=ZoneInfo("UTC"))


def test_next_opening_none_when_never_open():
    hours, problems = parse({"timezone": "UTC", "open": {"mon-sun": "closed"}})
    assert hours is not None
    assert next_opening(hours, datetime(2026, 3, 4, tzinfo=UTC)) is None


def test_next_opening_only_looks_14_days_ahead():
    hours = build({"timezone": "UTC", "open": {"mon": "08:00-09:00"},
                   "closed_on": ["2026-03-09", "2026-03-16", "2026-03-23"]})
    assert next_opening(hours, datetime(2026, 3, 3, tzinfo=UTC)) is None
    assert next_opening(hours, datetime(2026, 3, 10, tzinfo=UTC)) is None    # the 30th is 20 days on
    assert next_opening(hours, datetime(2026, 3, 17, tzinfo=UTC)) == datetime(2026, 3, 30, 8, tzinfo=UTC)


# ---------------------------------------------------------------- describe_opening


@pytest.mark.parametrize("when, now, lang, said", [
    (ny(2026, 3, 4, 8, 0), ny(2026, 3, 4, 6, 0), "en", "today at 8 AM"),
    (ny(2026, 3, 5, 9, 30), ny(2026, 3, 4, 21, 0), "en", "tomorrow at 9:30 AM"),
    (ny(2026, 3, 9, 8, 0), ny(2026, 3, 7, 14, 0), "en", "on Monday at 8 AM"),
    (ny(2026, 3, 4, 13, 5), ny(2026, 3, 4, 12, 0), "en", "today at 1:05 PM"),
    (ny(2026, 3, 4, 12, 0), ny(2026, 3, 4, 11, 0), "en", "today at 12 PM"),
    (ny(2026, 3, 4, 8, 0), ny(2026, 3, 4, 6, 0), "es", "hoy a las 8 de la mañana"),
    (ny(2026, 3, 5, 9, 30), ny(2026, 3, 4, 21, 0), "es", "mañana a las 9 y 30 de la mañana"),
    (ny(2026, 3, 9, 8, 0), ny(2026, 3, 7, 14, 0), "es", "el lunes a las 8 de la mañana"),
    (ny(2026, 3, 4, 15, 0), ny(2026, 3, 4, 12, 0), "es", "hoy a las 3 de la tarde"),
    (ny(2026, 3, 4, 13, 0), ny(2026, 3, 4, 12, 0), "es", "hoy a la 1 de la tarde"),
    (ny(2026, 3, 4, 21, 15), ny(2026, 3, 4, 12, 0), "es", "hoy a las 9 y 15 de la noche"),
    (ny(2026, 3, 7, 9, 0), ny(2026, 3, 4, 21, 0), "es", "el sábado a las 9 de la mañana"),
    # The edges of the parts of the day: noon, 8 PM and midnight (and 1 AM / 11 AM either side).
    (ny(2026, 3, 4, 12, 0), ny(2026, 3, 4, 11, 0), "es", "hoy a las 12 de la tarde"),
    (ny(2026, 3, 4, 11, 0), ny(2026, 3, 4, 10, 0), "es", "hoy a las 11 de la mañana"),
    (ny(2026, 3, 4, 20, 0), ny(2026, 3, 4, 19, 0), "es", "hoy a las 8 de la noche"),
    (ny(2026, 3, 4, 19, 30), ny(2026, 3, 4, 19, 0), "es", "hoy a las 7 y 30 de la tarde"),
    (ny(2026, 3, 5, 0, 0), ny(2026, 3, 4, 21, 0), "es", "mañana a las 12 de la noche"),
    (ny(2026, 3, 5, 1, 0), ny(2026, 3, 4, 21, 0), "es", "mañana a la 1 de la mañana"),
    (ny(2026, 3, 5, 0, 0), ny(2026, 3, 4, 21, 0), "en", "tomorrow at 12 AM"),
    (ny(2026, 3, 4, 20, 0), ny(2026, 3, 4, 19, 0), "en", "today at 8 PM"),
    (ny(2026, 3, 4, 11, 59), ny(2026, 3, 4, 11, 0), "en", "today at 11:59 AM"),
    (ny(2026, 3, 5, 9, 30), ny(2026, 3, 4, 21, 0), "es-MX", "mañana a las 9 y 30 de la mañana"),
    (ny(2026, 3, 5, 9, 30), ny(2026, 3, 4, 21, 0), "es_MX", "mañana a las 9 y 30 de la mañana"),
    (ny(2026, 3, 5, 9, 30), ny(2026, 3, 4, 21, 0), "fr", "tomorrow at 9:30 AM"),
    (ny(2026, 3, 5, 9, 30), ny(2026, 3, 4, 21, 0), "", "tomorrow at 9:30 AM"),
])
def test_describe_opening(when, now, lang, said):
    assert describe_opening(when, now, lang) == said


def test_describe_opening_uses_the_desk_date_not_utc():
    # 21:00 in New York is already tomorrow in UTC; 08:00 next morning is still "tomorrow".
    now = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)
    assert describe_opening(ny(2026, 3, 5, 8, 0), now, "en") == "tomorrow at 8 AM"


def test_describe_opening_a_week_or_more_away_gives_the_date():
    # Exactly a week: "on Tuesday" alone would be heard as the coming Tuesday.
    assert describe_opening(ny(2026, 12, 8, 8, 0), ny(2026, 12, 1, 21, 0), "en") == "on Tuesday, December 8 at 8 AM"
    assert describe_opening(ny(2026, 12, 8, 8, 0), ny(2026, 12, 1, 21, 0), "es") == \
        "el martes 8 de diciembre a las 8 de la mañana"
    assert describe_opening(ny(2026, 12, 7, 8, 0), ny(2026, 12, 1, 21, 0), "en") == "on Monday at 8 AM"
    assert describe_opening(ny(2027, 1, 4, 8, 0), ny(2026, 12, 24, 21, 0), "en") == "on Monday, January 4 at 8 AM"
    assert describe_opening(ny(2027, 1, 4, 8, 0), ny(2026, 12, 24, 21, 0), "es") == \
        "el lunes 4 de enero a las 8 de la mañana"


def test_describe_what_next_opening_found(shipped):
    now = ny(2026, 12, 25, 10, 0)
    assert describe_opening(next_opening(shipped, now), now, "en") == "tomorrow at 9 AM"
    now = ny(2026, 3, 8, 3, 0)
    assert describe_opening(next_opening(shipped, now), now, "es") == "mañana a las 8 de la mañana"


# ---------------------------------------------------------------- problems


def only(problems, severity="error"):
    """The single problem of this severity."""
    found = [p for p in problems if p.severity == severity]
    assert len(found) == 1, problems
    return found[0]


def test_unknown_timezone_suggests():
    hours, problems = parse(dict(SHIPPED, timezone="America/New_Yrok"))
    assert hours is None
    problem = only(problems)
    assert problem.line == 2
    assert "America/New_Yrok" in problem.message and "did you mean 'America/New_York'" in problem.message


@pytest.mark.parametrize("name,zone", [("new york", "America/New_York"), ("america/new_york", "America/New_York"),
                                       ("New_York", "America/New_York"),
                                       ("Buenos Aires", "America/Argentina/Buenos_Aires"),  # a zone in three parts
                                       ("Indianapolis", "America/Indiana/Indianapolis")])
def test_timezone_city_or_case_suggests(name, zone):
    problem = only(parse(dict(SHIPPED, timezone=name))[1])
    assert f"did you mean '{zone}'" in problem.message


def test_missing_timezone():
    raw = {k: v for k, v in SHIPPED.items() if k != "timezone"}
    lines = {path: line for path, line in LINES.items() if path != ("timezone",)}
    hours, problems = parse(raw, lines=lines)
    assert hours is None
    problem = only(problems)
    assert problem.line == 1 and "timezone" in problem.message


@pytest.mark.parametrize("window", ["25:00-20:00", "08:00-20:60", "8am-8pm", "08:00", "08:00-", "24:00-02:00",
                                    "08:00-12:00-14:00", "open"])
def test_malformed_window(window):
    raw = dict(SHIPPED, open={"mon-fri": window, "sat": "09:00-13:00"})
    hours, problems = parse(raw)
    assert hours is None
    problem = only(problems)
    assert problem.line == 4
    assert problem.message.startswith(f"hours: 'mon-fri' window '{window}' is not a time range; "
                                      'write it like "08:00-20:00"')


def test_malformed_window_in_a_list_points_at_the_item():
    lines = {**LINES, ("open", "sat", 1): 21}
    hours, problems = parse(dict(SHIPPED, open={"sat": ["09:00-10:00", "1100-1200"]}), lines=lines)
    assert only(problems).line == 21


def test_closed_inside_a_list_is_an_error():
    problem = only(parse(dict(SHIPPED, open={"sat": ["09:00-10:00", "closed"]}))[1])
    assert "closed" in problem.message and problem.line == 5


@pytest.mark.parametrize("window", ["08:00-08:00", "00:00-00:00"])
def test_empty_window(window):
    hours, problems = parse(dict(SHIPPED, open={"mon-fri": window}))
    problem = only(problems)
    assert hours is None and problem.line == 4 and "empty" in problem.message


def test_overlapping_windows():
    lines = {**LINES, ("open", "sat", 0): 30, ("open", "sat", 1): 31}
    raw = dict(SHIPPED, open={"sat": ["11:00-14:00", "08:00-12:00"]})
    hours, problems = parse(raw, lines=lines)
    problem = only(problems)
    assert hours is None and problem.line == 30
    assert "'08:00-12:00' and '11:00-14:00' overlap" in problem.message


def test_overlap_with_a_crossing_window():
    problem = only(parse({"timezone": "UTC", "open": {"fri": ["22:00-02:00", "23:00-23:30"]}})[1])
    assert "overlap" in problem.message


def test_touching_windows_do_not_overlap():
    hours = build({"timezone": "UTC", "open": {"sat": ["09:00-12:00", "12:00-13:00"]}})
    assert len(hours.weekly[5]) == 2


def test_day_given_twice():
    raw = dict(SHIPPED, open={"mon-fri": "08:00-20:00", "wed": "10:00-12:00"})
    hours, problems = parse(raw)
    problem = only(problems)
    assert hours is None
    assert problem.line == 7
    assert "Wednesday is given twice" in problem.message and "line 4" in problem.message


def test_days_given_twice_are_named_together():
    raw = {"timezone": "UTC", "open": {"mon-fri": "08:00-20:00", "thu-sat": "10:00-12:00"}}
    problem = only(parse(raw)[1])
    assert "Thursday and Friday are given twice" in problem.message


def test_day_twice_in_one_key():
    problem = only(parse({"timezone": "UTC", "open": {"mon-fri,wed": "08:00-20:00"}})[1])
    assert "Wednesday" in problem.message and "more than once" in problem.message


@pytest.mark.parametrize("key, where, hint", [("mon-fir", "'fir' in 'mon-fir'", " (did you mean 'fri'?)"),
                                              ("Satruday", "'Satruday'", " (did you mean 'saturday'?)"),
                                              ("weekdays", "'weekdays'", " (did you mean 'mon-fri'?)"),
                                              ("Weekend", "'Weekend'", " (did you mean 'sat,sun'?)"),
                                              ("holidays", "'holidays'", "")])
def test_unknown_day_name(key, where, hint):
    lines = {**LINES, ("open", key): 40}
    hours, problems = parse({"timezone": "UTC", "open": {key: "08:00-20:00"}}, lines=lines)
    problem = only(problems)
    assert hours is None and problem.line == 40
    # The word itself when the key is one word, else the word and the key it is in.
    assert problem.message == (f"hours: {where} is not a day name{hint}; use mon, tue, wed, thu, fri, sat, sun, "
                               "a range like mon-fri or a list like sat,sun")


def test_never_open_is_a_warning():
    hours, problems = parse({"timezone": "UTC", "open": {"mon-sun": "closed"}})
    problem = only(problems, "warning")
    assert not errors(problems)
    assert hours is not None and problem.line == 3
    assert "the desk is never open; every call will take the after-hours path" in problem.message


def test_no_open_section_is_never_open():
    hours, problems = parse({"timezone": "UTC"})
    assert hours is not None and "never open" in only(problems, "warning").message


def test_only_special_dates_open_is_a_softer_warning():
    hours, problems = parse({"timezone": "UTC", "special": {"2026-12-24": "08:00-14:00"}})
    problem = only(problems, "warning")
    assert hours is not None and "special" in problem.message and "never open" not in problem.message


@pytest.mark.parametrize("bad", ["2026-13-01", "12/25/2026", "2026-02-30", "tomorrow"])
def test_malformed_closed_on_date(bad):
    hours, problems = parse(dict(SHIPPED, closed_on=["2026-12-25", bad]))
    problem = only(problems)
    assert hours is None and problem.line == 10 and f"closed_on date '{bad}'" in problem.message


def test_malformed_special_date():
    lines = {**LINES, ("special", "2026-12-32"): 50}
    problem = only(parse(dict(SHIPPED, special={"2026-12-32": "closed"}), lines=lines)[1])
    assert (problem.line, problem.message) == (
        50, "hours: special date '2026-12-32' does not exist; check the month and day")


def test_closed_on_may_be_one_date_on_its_own():
    hours, problems = parse(dict(SHIPPED, closed_on="2026-12-25"))
    assert problems == [] and hours.closed_on == frozenset({date(2026, 12, 25)})


def test_malformed_special_window():
    problem = only(parse(dict(SHIPPED, special={"2026-12-24": "8-14"}))[1])
    assert problem.line == 12 and "special '2026-12-24' window '8-14' is not a time range" in problem.message


def test_closed_and_special_contradict():
    raw = dict(SHIPPED, special={"2026-12-25": "10:00-12:00"})
    hours, problems = parse(raw)
    problem = only(problems)
    assert hours is None
    assert problem.line == 13
    assert "2026-12-25" in problem.message and "line 9" in problem.message and "line 13" in problem.message


@pytest.mark.parametrize("key, hint", [("timezon", "did you mean 'timezone'?"),
                                       ("closed", "did you mean 'closed_on'?"),
                                       ("holidays", "")])
def test_unknown_key(key, hint):
    lines = {**LINES, (key,): 60}
    hours, problems = parse(dict(SHIPPED, **{key: "x"}), lines=lines)
    problem = only(problems)
    assert hours is None and problem.line == 60
    assert f"unknown key '{key}'" in problem.message and hint in problem.message
    assert problem.message.endswith("; the hours section takes timezone, open, closed_on and special")


def test_hours_not_a_mapping():
    hours, problems = parse("08:00-20:00")
    assert hours is None and only(problems).line == 1


def test_open_not_a_mapping():
    problem = only(parse(dict(SHIPPED, open="08:00-20:00"))[1])
    assert problem.line == 3


def test_every_problem_says_hours_first():
    raw = {"timezone": "Mars/Olympus", "open": {"mon-fri": "25:00-20:00", "wed": "x"}, "closed_on": ["x"],
           "colsed_on": []}
    hours, problems = parse(raw)
    assert hours is None and len(errors(problems)) == 5
    assert all(p.message.startswith("hours: ") for p in problems)


# ---------------------------------------------------------------- the YAML 1.1 trap


def test_unquoted_sexagesimal_time_is_read_as_the_time_with_a_warning():
    lines = {**LINES, ("open", "sat", "from"): 70, ("open", "sat", "to"): 71}
    kinds = {("open", "sat", "to"): "sexagesimal"}
    raw = {"timezone": "America/New_York", "open": {"mon-fri": "08:00-20:00", "sat": {"from": "09:00", "to": "17:30"}}}
    hours, problems = parse(raw, implicit=kinds.get, lines=lines)
    problem = only(problems, "warning")
    assert not errors(problems)
    assert problem.line == 71
    assert problem.message == ('hours: 17:30 is unquoted; YAML 1.1 reads it as the number 1050. '
                               'It is read here as the time 17:30; put it in quotes ("17:30") to be sure.')
    assert hours.weekly[5] == (Window(time(9), time(17, 30)),)
    assert is_open(hours, ny(2026, 3, 7, 17, 29)) and not is_open(hours, ny(2026, 3, 7, 17, 30))


def test_unquoted_int_like_time_warns_too():
    kinds = {("open", "sat", "from"): "int"}
    raw = {"timezone": "UTC", "open": {"sat": {"from": "9:00", "to": "13:00"}}}
    hours, problems = parse(raw, implicit=kinds.get)
    assert "number 540" in only(problems, "warning").message
    assert hours.weekly[5] == (Window(time(9), time(13)),)


def test_quoted_or_string_times_do_not_warn():
    raw = {"timezone": "UTC", "open": {"sat": {"from": "09:00", "to": "13:00"}}}
    assert parse(raw)[1] == []


def test_unquoted_dates_are_accepted_silently():
    kinds = {("closed_on", 0): "date", ("closed_on", 1): "date"}
    hours, problems = parse(SHIPPED, implicit=kinds.get)
    assert problems == [] and date(2026, 12, 25) in hours.closed_on


def test_bad_from_to_mapping():
    problem = only(parse({"timezone": "UTC", "open": {"sat": {"from": "09:00", "until": "13:00"}}})[1])
    assert "'from' and 'to'" in problem.message


# ---------------------------------------------------------------- hypothesis: agree with a naive reference


def us_eastern_offset(moment: datetime) -> timedelta:
    """UTC offset for US Eastern by the 2007 rule, computed without zoneinfo."""
    year = moment.year
    march = date(year, 3, 1)
    start_day = march + timedelta(days=(6 - march.weekday()) % 7 + 7)     # second Sunday of March
    november = date(year, 11, 1)
    end_day = november + timedelta(days=(6 - november.weekday()) % 7)    # first Sunday of November
    start = datetime(year, 3, start_day.day, 7, tzinfo=UTC)              # 02:00 EST
    end = datetime(year, 11, end_day.day, 6, tzinfo=UTC)                 # 02:00 EDT
    return timedelta(hours=-4) if start <= moment.astimezone(UTC) < end else timedelta(hours=-5)


def reference_open(moment: datetime) -> bool:
    """The shipped hours, worked out by hand."""
    utc = moment.astimezone(UTC)
    local = (utc + us_eastern_offset(utc)).replace(tzinfo=None)
    if local.date() in (date(2026, 12, 25), date(2027, 1, 1)):
        return False
    if local.weekday() < 5:
        return time(8) <= local.time() < time(20)
    if local.weekday() == 5:
        return time(9) <= local.time() < time(13)
    return False


ZONES = [UTC, NY, ZoneInfo("Europe/London"), ZoneInfo("Asia/Kolkata"), ZoneInfo("Pacific/Kiritimati"),
         timezone(timedelta(hours=-3, minutes=-30)), ZoneInfo("America/Los_Angeles")]
MOMENTS = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31, 23, 59, 59),
                       timezones=st.sampled_from(ZONES))
EDGES = st.builds(
    lambda day, clock, nudge, zone: datetime.combine(day, clock, tzinfo=zone) + nudge,
    st.dates(min_value=date(2026, 1, 1), max_value=date(2028, 12, 31)),
    st.sampled_from([time(h) for h in (0, 1, 2, 3, 7, 8, 9, 12, 13, 19, 20, 23)]),
    st.sampled_from([timedelta(0), timedelta(microseconds=-1), timedelta(seconds=1), timedelta(minutes=-1)]),
    st.sampled_from([UTC, NY]),
)


@settings(max_examples=400, deadline=None, database=None)
@given(MOMENTS)
def test_is_open_agrees_with_reference(moment):
    assert is_open(build(SHIPPED), moment) == reference_open(moment)


@settings(max_examples=400, deadline=None, database=None)
@given(EDGES)
def test_is_open_agrees_with_reference_at_the_edges(moment):
    assert is_open(build(SHIPPED), moment) == reference_open(moment)


@settings(max_examples=60, deadline=None, database=None)
@given(MOMENTS)
def test_next_opening_is_the_first_open_minute(moment):
    hours = build(SHIPPED)
    opening = next_opening(hours, moment)
    assert opening is not None and opening.tzinfo == NY
    assert opening > moment and reference_open(opening)
    assert not reference_open(opening.astimezone(UTC) - timedelta(microseconds=1))
    step = moment.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    while step < opening and not reference_open(moment):
        assert not reference_open(step), step
        step += timedelta(minutes=1)


# ---------------------------------------------------------------- what `ivr check` says about hours (make mutation)

FROM_TO = {**LINES, ("open", "sat", "from"): 70, ("open", "sat", "to"): 71}


def sat(value):
    """The problems of an `open` section with one Saturday value, with lines for from/to."""
    return parse({"timezone": "UTC", "open": {"sat": value}}, lines=FROM_TO)


def test_a_from_to_window_may_end_at_24_but_not_start_there():
    hours = build({"timezone": "UTC", "open": {"sat": {"from": "20:00", "to": "24:00"}}})
    assert hours.weekly[5] == (Window(time(20), time(0)),)
    problem = only(sat({"from": "24:00", "to": "24:00"})[1])
    assert (problem.line, problem.message) == (
        70, "hours: 'sat' 'from' time '24:00' is not a time; write it like \"08:00\"")


@pytest.mark.parametrize("value,line,message", [
    ({"from": "9am", "to": "13:00"}, 70, "hours: 'sat' 'from' time '9am' is not a time; write it like \"08:00\""),
    ({"from": "09:00", "to": 13}, 71, "hours: 'sat' 'to' time '13' is not a time; write it like \"08:00\""),
    ({"from": "09:00"}, 5, "hours: 'sat' should be a time range like \"08:00-20:00\", "
                           "or a mapping with just 'from' and 'to'"),
    ({"from": " 09:00 ", "to": "09:00"}, 5, "hours: 'sat' window '09:00-09:00' is empty (it opens and closes at "
                                             "the same time); write the real hours, or \"00:00-24:00\" for all day"),
    (9, 5, "hours: 'sat' window '9' is not a time range; write it like \"08:00-20:00\" or \"closed\""),
])
def test_a_wrong_window_is_said_with_its_line_and_its_own_words(value, line, message):
    hours, problems = sat(value)
    problem = only(problems)
    assert hours is None and (problem.line, problem.message) == (line, message)


def test_days_given_twice_are_named_in_a_list():
    raw = {"timezone": "UTC", "open": {"mon-wed": "08:00-12:00", "mon,tue,wed": "13:00-14:00"}}
    problem = only(parse(raw, lines={**LINES, ("open", "mon-wed"): 4, ("open", "mon,tue,wed"): 5})[1])
    assert problem.message.startswith("hours: Monday, Tuesday and Wednesday are given twice, in 'mon-wed' (line 4)")


def test_a_time_zone_in_the_wrong_case_is_suggested_as_written_in_the_tz_database():
    problem = only(parse({"timezone": "etc/utc", "open": {"sat": "09:00-13:00"}})[1])
    assert "(did you mean 'Etc/UTC'?)" in problem.message


def test_a_date_written_as_a_number_is_an_error_not_a_crash():
    # closed_on: [20261225] (no dashes) reaches the reader as an int.
    hours, problems = parse(dict(SHIPPED, closed_on=["2026-12-25", 20261225]))
    assert hours is None and [p.message for p in errors(problems)] == [
        "hours: closed_on date '20261225' is not a date; write it like 2026-12-25"]


def test_a_special_date_with_overlapping_windows_is_one_error_not_two():
    # Its windows are not read on, so neither the date nor its clash with closed_on is reported again.
    raw = dict(SHIPPED, special={"2026-12-25": ["08:00-12:00", "11:00-14:00"]})
    hours, problems = parse(raw)
    assert hours is None and len(errors(problems)) == 1 and "overlap" in errors(problems)[0].message


class _Floating(tzinfo):
    """A tzinfo that knows no offset: aware in name only."""

    def utcoffset(self, dt):
        return None


@pytest.mark.parametrize("now", [datetime(2026, 1, 7, 10, 0), datetime(2026, 1, 7, 10, 0, tzinfo=_Floating())])
def test_a_moment_without_an_offset_is_refused_saying_why(shipped, now):
    with pytest.raises(ValueError, match="^now must be a timezone-aware datetime$"):
        is_open(shipped, now)


@pytest.mark.parametrize("key", ["mon-wed-fri", "mon-", "sat,", "-fri"])
def test_a_day_key_that_is_no_day_or_range_says_how_to_write_one_on_its_line(key):
    problem = only(parse({"timezone": "UTC", "open": {key: "08:00-12:00"}}, lines={("open", key): 7})[1])
    assert (problem.line, problem.message) == (
        7, f"hours: '{key}' is not a day or range of days; write it like \"mon-fri\" or \"sat,sun\"")


def test_a_day_named_twice_in_one_key_is_flagged_on_its_line():
    problem = only(parse({"timezone": "UTC", "open": {"mon-fri,wed": "08:00-12:00"}},
                         lines={("open", "mon-fri,wed"): 7})[1])
    assert (problem.line, problem.message) == (
        7, "hours: 'mon-fri,wed' names Wednesday more than once; give each day once")


@pytest.mark.parametrize("value, also", [(["closed"], ' (or "closed" on its own, not in a list)'),
                                         ("8-12", ' or "closed"')])
def test_a_window_that_is_no_range_says_what_else_may_stand_there(value, also):
    problem = only(parse({"timezone": "UTC", "open": {"sat": value}})[1])
    assert problem.message.endswith(f"is not a time range; write it like \"08:00-20:00\"{also}")


def test_a_bad_window_in_a_list_is_named_by_its_day():
    problem = only(parse({"timezone": "UTC", "open": {"sat": ["09:00-12:00", "8-12"]}})[1])
    assert problem.message.startswith("hours: 'sat' window '8-12' is not a time range")


# Every problem of the hours section, said whole, on its line: what staff read after `ivr check`.
SAID_WHOLE = {
    "not a mapping": ("08:00-20:00", "error", 1,
                      "should be a mapping with timezone, open, closed_on and special"),
    "no timezone": ({"open": SHIPPED["open"]}, "error", 1,
                    "no timezone given; add a line like  timezone: America/New_York"),
    "blank timezone": (dict(SHIPPED, timezone="  "), "error", 2,
                       "no timezone given; add a line like  timezone: America/New_York"),
    "unknown zone": (dict(SHIPPED, timezone="America/New_Yrok"), "error", 2,
                     "timezone 'America/New_Yrok' is not a known time zone (did you mean 'America/New_York'?); "
                     "use a name from the tz database like America/New_York"),
    "open not a mapping": (dict(SHIPPED, open="08:00-20:00"), "error", 3,
                           "'open' should map days to hours, like  mon-fri: \"08:00-20:00\""),
    "closed_on not a list": (dict(SHIPPED, closed_on={"a": 1}), "error", 8,
                             "closed_on should be a list of dates, like  - \"2026-12-25\""),
    "closed_on twice": (dict(SHIPPED, closed_on=["2026-12-25", "2026-12-25"]), "warning", 10,
                        "closed_on lists 2026-12-25 twice; once is enough"),
    "no such date": (dict(SHIPPED, closed_on=["2026-02-30"]), "error", 9,
                     "closed_on date '2026-02-30' does not exist; check the month and day"),
    "special not a mapping": (dict(SHIPPED, special=["2026-12-24"]), "error", 11,
                              "special should map dates to hours, like  \"2026-12-24\": \"08:00-20:00\""),
    "special twice": (dict(SHIPPED, special={"2026-12-24": "closed", " 2026-12-24": "08:00-12:00"}), "error", 16,
                      "special gives 2026-12-24 twice ('2026-12-24' and ' 2026-12-24'); give it once"),
    "contradiction": (dict(SHIPPED, special={"2026-12-25": "10:00-12:00"}), "error", 13,
                      "2026-12-25 is in closed_on (line 9) and in special (line 13); keep it in only one of them"),
    "never open": ({"timezone": "UTC", "open": {"mon-sun": "closed"}}, "warning", 3,
                   "the desk is never open; every call will take the after-hours path"),
    "only specials": ({"timezone": "UTC", "special": {"2026-12-24": "08:00-14:00"}}, "warning", 3,
                      "no weekly open hours; outside the special dates every call will take the after-hours path"),
}


@pytest.mark.parametrize("case", SAID_WHOLE)
def test_each_problem_of_the_hours_is_said_whole_on_its_line(case):
    raw, severity, line, message = SAID_WHOLE[case]
    lines = {**{path: n for path, n in LINES.items() if path != ("timezone",) or "timezone" in raw},
             ("special", " 2026-12-24"): 16}
    hours, problems = parse(raw, lines=lines)
    assert [(p.severity, p.line, p.message) for p in problems] == [(severity, line, f"hours: {message}")]
    assert (hours is None) == (severity == "error")


@pytest.mark.parametrize("section", ["open", "closed_on", "special"])
def test_a_section_left_as_an_empty_string_is_as_if_it_were_not_there(section):
    raw = {"timezone": "UTC", "open": {"mon-fri": "08:00-20:00"}, section: ""}
    hours, problems = parse(raw)
    expected = [("warning", "hours: the desk is never open; every call will take the after-hours path")]
    assert [(p.severity, p.message) for p in problems] == (expected if section == "open" else [])
