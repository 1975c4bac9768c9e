"""Heartbeat's value syntax: times (`1500ms`, `1.5`, `499us`), booleans and C `atoi`-style integers.

Each converter returns the value and, when Heartbeat would read the text leniently (it uses `atof` and
`atoi`, which stop at the first character they do not understand), a note saying how the text was read,
so that `hbd config check` can warn about it. Text Heartbeat refuses raises ValueError with the reason.
"""
from __future__ import annotations

import re

# A number is digits and dots (as Heartbeat's NUMCHARS), then the unit. In ha.cf the unit must follow
# without a space, because a space splits the value in two before it is converted; the converter itself,
# like Heartbeat's, allows the space.
_TIME = re.compile(r"(?P<num>[0-9.]+)[ \t]*(?P<unit>[A-Za-z]*)(?P<rest>.*)", re.DOTALL)
_FLOAT_PREFIX = re.compile(r"[0-9]*\.?[0-9]*")
_UNITS_MS = {"": 1000.0, "ms": 1.0, "msec": 1.0, "us": 0.001, "usec": 0.001}

TRUE_WORDS = frozenset({"true", "on", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "off", "no", "n", "0"})


def parse_msec(text: str) -> tuple[int, str | None]:
    """Convert a Heartbeat time to whole milliseconds (bare number = seconds, rounded half up)."""
    match = _TIME.fullmatch(text)
    if match is None:
        raise ValueError(f"'{text}' is not a time (a number, optionally followed by ms or us, e.g. 2, 1.5, 500ms)")
    num, unit, rest = match.group("num"), match.group("unit"), match.group("rest")
    note: str | None = None
    lowered = unit.lower()
    if lowered not in _UNITS_MS:
        # Heartbeat compares only the first letters of the unit (strncasecmp), so `10msx` is 10 ms.
        prefix = next((u for u in ("msec", "usec", "ms", "us") if lowered.startswith(u)), None)
        if prefix is None:
            hint = " (there is no `s` unit: write 2 for two seconds)" if lowered.startswith("s") else ""
            raise ValueError(f"'{text}' is not a time: unknown unit '{unit}'{hint}")
        note = f"'{text}' is read as {num}{prefix}, as Heartbeat does; the rest is ignored"
        lowered = prefix
    elif rest:
        note = f"'{text}' is read as {num}{unit}, as Heartbeat does; the rest is ignored"
    number_text = _FLOAT_PREFIX.match(num).group(0)  # type: ignore[union-attr]
    if number_text != num:
        note = f"'{text}' is read as {number_text or '0'}{unit}, as Heartbeat does (the number stops at the second dot)"
    value = float(number_text) if number_text not in ("", ".") else 0.0
    millis = value * _UNITS_MS[lowered] + 0.5
    if millis >= 2**31:
        raise ValueError(f"'{text}' is too large a time")
    return int(millis), note


def format_msec(millis: int) -> str:
    """A time as Heartbeat prints derived values (`cl_status hbparameter`): `30000ms`."""
    return f"{millis}ms"


def parse_bool(text: str) -> bool:
    """Heartbeat's booleans: true/on/yes/y/1 and false/off/no/n/0, in any case; nothing else."""
    lowered = text.lower()
    if lowered in TRUE_WORDS:
        return True
    if lowered in FALSE_WORDS:
        return False
    raise ValueError(f"'{text}' is not a boolean (use on/off, yes/no, true/false, y/n or 1/0)")


def parse_c_int(text: str) -> tuple[int, str | None]:
    """Read an integer the way C's atoi does (leading digits, optional sign), noting any lenient reading."""
    match = re.match(r"[+-]?[0-9]+", text)
    if match is None:
        return 0, f"'{text}' is not a number; Heartbeat reads it as 0"
    value = int(match.group(0))
    if match.end() != len(text):
        return value, f"'{text}' is read as {value}, as Heartbeat does; the rest is ignored"
    return value, None
