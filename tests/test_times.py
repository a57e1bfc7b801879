from datetime import datetime, timezone

import pytest

from tasks.times import BadTime, parse_time


def utc(*args):
    return datetime(*args, tzinfo=timezone.utc)


def test_naive_times_take_the_offset_of_their_own_date_not_of_today():
    assert parse_time("2027-07-01 09:00", zone="Europe/Berlin") == utc(2027, 7, 1, 7)  # summer: +02:00
    assert parse_time("2027-01-15 09:00", zone="Europe/Berlin") == utc(2027, 1, 15, 8)  # winter: +01:00
    assert parse_time("2027-07-01T09:00:00Z", zone="Europe/Berlin") == utc(2027, 7, 1, 9)
    assert parse_time("2027-07-01T09:00:00-04:00", zone="Europe/Berlin") == utc(2027, 7, 1, 13)


def test_a_time_the_clocks_skip_is_refused():
    with pytest.raises(BadTime, match=r"2027-03-28 02:30 in Europe/Berlin does not exist"):
        parse_time("2027-03-28 02:30", zone="Europe/Berlin")


def test_a_time_the_clocks_pass_twice_is_refused_with_both_offsets_offered():
    with pytest.raises(BadTime) as refused:
        parse_time("2027-10-31 02:30", zone="Europe/Berlin")
    assert "happens twice" in str(refused.value)
    assert "2027-10-31T02:30+02:00 for the first or 2027-10-31T02:30+01:00 for the second" in str(refused.value)
    assert parse_time("2027-10-31T02:30+01:00", zone="Europe/Berlin") == utc(2027, 10, 31, 1, 30)


def test_slash_dates_need_a_format_that_says_which_comes_first():
    with pytest.raises(BadTime, match="day-first or month-first"):
        parse_time("02/01/2027 09:00", zone="UTC")
    assert parse_time("02/01/2027 09:00", zone="UTC", date_format="%d/%m/%Y %H:%M") == utc(2027, 1, 2, 9)
    assert parse_time("02/01/2027 09:00", zone="UTC", date_format="%m/%d/%Y %H:%M") == utc(2027, 2, 1, 9)
    with pytest.raises(BadTime, match="does not match --date-format"):
        parse_time("02/01/27", zone="UTC", date_format="%d/%m/%Y %H:%M")


def test_unreadable_times_and_zones_are_named():
    with pytest.raises(BadTime, match="'next tuesday' is not an ISO 8601 time"):
        parse_time("next tuesday", zone="UTC")
    with pytest.raises(BadTime, match="unknown time zone 'Europe/Berln'"):
        parse_time("2027-01-01 09:00", zone="Europe/Berln")
