"""argparse value types shared by hbd's commands: a bad value is a usage error (exit 2) with a message.

float("nan"), float("inf"), "1e309" and negative numbers all parse as floats; a timeout must be none of
those. Paths are refused when they hold a NUL or are longer than the kernel accepts.
"""
from __future__ import annotations

import argparse
import math

MAX_SECONDS = 7 * 24 * 3600.0  # a week: beyond it a "timeout" is a typo
PATH_MAX = 4096
SUN_PATH_MAX = 107  # sockaddr_un.sun_path holds 108 bytes, NUL included


def seconds(text: str) -> float:
    """A positive, finite number of seconds, at most a week."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text[:40]}' is not a number of seconds") from None
    if not math.isfinite(value) or value <= 0 or value > MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"'{text[:40]}' must be more than 0 and at most {MAX_SECONDS:g} seconds")
    return value


def finite(low: float, high: float):  # type: ignore[no-untyped-def]
    """A finite number in [low, high] (no NaN, no infinity)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text[:40]}' is not a number") from None
        if not math.isfinite(value) or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"'{text[:40]}' must be {low:g}-{high:g}")
        return value
    parse.__name__ = "number"
    return parse


def bounded_int(low: int, high: int):  # type: ignore[no-untyped-def]
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text[:40]}' is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} must be {low}-{high}")
        return value
    parse.__name__ = "number"
    return parse


def path(text: str) -> str:
    if "\0" in text or not text:
        raise argparse.ArgumentTypeError("a path must not be empty or contain a NUL character")
    if len(text.encode("utf-8", "surrogateescape")) >= PATH_MAX:
        raise argparse.ArgumentTypeError(f"path longer than {PATH_MAX - 1} bytes")
    return text


def socket_path(text: str) -> str:
    path(text)
    if len(text.encode("utf-8", "surrogateescape")) > SUN_PATH_MAX:
        raise argparse.ArgumentTypeError(f"socket path longer than {SUN_PATH_MAX} bytes (the kernel's limit)")
    return text
