"""Business hours as the workspace declares them: weekly intervals in its time zone, holidays, the
next opening (across a weekend, a holiday, a daylight-saving change), and disabled = always open."""
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from utalk.services.business_hours import DEFAULT_MESSAGE, closed_message, is_open, next_opening

NINE_TO_SIX = [{"open": "09:00", "close": "18:00"}]
CFG = {"timeZone": "America/Mexico_City", "businessHours": {
    "enabled": True, "outOfHoursMessage": "Cerrado",
    "weekly": {"mon": NINE_TO_SIX, "tue": NINE_TO_SIX, "wed": NINE_TO_SIX, "thu": NINE_TO_SIX,
               "fri": [{"open": "09:00", "close": "13:00"}, {"open": "15:00", "close": "18:00"}],
               "sat": [], "sun": []},
    "holidays": ["2026-03-16"]}}
MX = ZoneInfo("America/Mexico_City")


def at(*args, tz=MX) -> datetime:
    return datetime(*args, tzinfo=tz)


def test_open_inside_an_interval_in_the_workspace_zone():
    assert is_open(CFG, at(2026, 3, 2, 9, 0))                 # Monday 09:00 in Mexico City
    assert not is_open(CFG, at(2026, 3, 2, 8, 59))
    assert not is_open(CFG, at(2026, 3, 2, 18, 0))            # close is exclusive
    assert not is_open(CFG, at(2026, 3, 2, 9, 30, tz=timezone.utc))    # 09:30 UTC is 03:30 there
    assert is_open(CFG, at(2026, 3, 2, 15, 30, tz=timezone.utc))        # and 15:30 UTC is 09:30
    assert not is_open(CFG, at(2026, 3, 6, 14, 0)) and is_open(CFG, at(2026, 3, 6, 15, 0))   # Friday lunch


def test_the_next_opening_skips_closed_days_and_holidays():
    assert next_opening(CFG, at(2026, 3, 2, 10, 0)) == at(2026, 3, 2, 10, 0)          # open: now
    assert next_opening(CFG, at(2026, 3, 2, 20, 0)) == at(2026, 3, 3, 9, 0)           # tomorrow morning
    assert next_opening(CFG, at(2026, 3, 6, 13, 30)) == at(2026, 3, 6, 15, 0)         # after lunch
    assert next_opening(CFG, at(2026, 3, 13, 19, 0)) == at(2026, 3, 17, 9, 0)         # weekend + Monday holiday
    assert next_opening(CFG, at(2026, 3, 2, 20, 0)).tzinfo == timezone.utc


def test_a_daylight_saving_zone_opens_at_local_time():
    ny = {**CFG, "timeZone": "America/New_York"}
    # New York springs forward on 2026-03-08: 09:00 local is 14:00 UTC before, 13:00 UTC after.
    assert next_opening(ny, datetime(2026, 3, 6, 23, 0, tzinfo=timezone.utc)) == \
        datetime(2026, 3, 9, 13, 0, tzinfo=timezone.utc)


def test_disabled_unset_or_broken_hours_never_close_nor_lie():
    assert is_open({}, at(2026, 3, 1, 3, 0)) and closed_message({}, at(2026, 3, 1, 3, 0)) is None
    off = {**CFG, "businessHours": {**CFG["businessHours"], "enabled": False}}
    assert is_open(off, at(2026, 3, 1, 3, 0))
    broken = {"businessHours": {"enabled": True, "weekly": {"mon": [{"open": "18:00", "close": "09:00"},
                                                                  {"open": "nope", "close": "10:00"}]}}}
    assert not is_open(broken, at(2026, 3, 2, 12, 0, tz=timezone.utc)) and next_opening(broken, at(2026, 3, 2, 1, 0)) is None
    allday = {"timeZone": "Not/AZone", "businessHours": {"enabled": True, "weekly": {"sun": [{"open": "00:00", "close": "24:00"}]}}}
    assert is_open(allday, datetime(2026, 3, 1, 23, 59, 59, tzinfo=timezone.utc))    # unknown zone: UTC


def test_the_out_of_hours_message():
    assert closed_message(CFG, at(2026, 3, 2, 20, 0)) == "Cerrado"
    assert closed_message(CFG, at(2026, 3, 2, 10, 0)) is None
    unnamed = {"businessHours": {"enabled": True, "weekly": {}}}
    assert closed_message(unnamed, at(2026, 3, 2, 10, 0)) == DEFAULT_MESSAGE
