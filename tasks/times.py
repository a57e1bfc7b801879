"""Read the times editors write (ISO 8601, or a given format; naive means wall-clock in a zone) as aware UTC."""
import re
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SLASH_DATE = re.compile(r"^\s*\d{1,4}[/.]\d{1,2}[/.]\d{1,4}")
# Times the scheduler takes: later years would break date arithmetic (the admin's year links) and
# earlier ones are typing errors.
FIRST_YEAR, LAST_YEAR = 1970, 9998
RANGE_TEXT = f"give a time from {FIRST_YEAR} to {LAST_YEAR}"


class BadTime(ValueError):
    """A time that cannot be read, or does not name one instant; the message says why and what to write."""


def zone_named(name):
    """Return the ZoneInfo for an IANA name, or raise BadTime naming it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadTime(f"unknown time zone {name!r}; use an IANA name such as Europe/London") from None


def parse_time(text, *, zone, date_format=None):
    """Return the aware UTC instant `text` names; a naive time is a wall-clock time in `zone` on that date.

    Raise BadTime for an unreadable time, a slash date without `date_format` (02/01/2027 is the 2nd of
    January or the 1st of February), or a wall-clock time that the zone skips or passes twice.
    """
    text = text.strip()
    moment = None
    if date_format:
        try:
            moment = datetime.strptime(text, date_format)
        except ValueError:
            pass
    if moment is None:
        if SLASH_DATE.match(text):
            hint = f"it does not match --date-format {date_format!r}" if date_format else (
                "day-first or month-first? pass --date-format, such as '%d/%m/%Y %H:%M'")
            raise BadTime(f"{text!r} is not an ISO 8601 time; {hint}")
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise BadTime(f"{text!r} is not an ISO 8601 time such as 2027-03-01T09:00:00+01:00 "
                          "or 2027-03-01 09:00") from None
    if moment.tzinfo is not None:
        try:
            return in_range(moment.astimezone(timezone.utc))
        except OverflowError:
            raise BadTime(f"{text!r} is out of range: {RANGE_TEXT}") from None
    return localize(moment, zone)


def in_range(moment):
    """Return `moment` if its year is one the scheduler takes; raise BadTime otherwise."""
    if not FIRST_YEAR <= moment.year <= LAST_YEAR:
        raise BadTime(f"{moment:%Y-%m-%d %H:%M} UTC is out of range: {RANGE_TEXT}")
    return moment


def localize(naive, zone):
    """Return the UTC instant of a wall-clock time in `zone`, with that date's offset; raise BadTime in a DST gap or overlap."""
    zone = zone_named(zone) if isinstance(zone, str) else zone
    early, late = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    if not FIRST_YEAR <= naive.year <= LAST_YEAR:
        raise BadTime(f"{naive:%Y-%m-%d %H:%M} is out of range: {RANGE_TEXT}")
    if early.utcoffset() == late.utcoffset():
        return early.astimezone(timezone.utc)
    wall = f"{naive:%Y-%m-%d %H:%M} in {zone.key}"
    # In a gap, neither reading survives the round trip through UTC; in an overlap, both do.
    if early.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None) != naive:
        raise BadTime(f"{wall} does not exist (the clocks skip it for daylight saving time); "
                      "give another time or an offset")
    raise BadTime(f"{wall} happens twice (the clocks go back): give an offset, "
                  f"{_offset(early)} for the first or {_offset(late)} for the second")


def _offset(moment):
    return moment.isoformat(timespec="minutes")


def has_offset(text):
    """Tell whether an ISO 8601 time names its offset (or Z); an unreadable one counts as having one (the parser says why)."""
    try:
        return datetime.fromisoformat(text.strip()).tzinfo is not None
    except ValueError:
        return True
