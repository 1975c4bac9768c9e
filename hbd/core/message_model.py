"""The decoded shape of Heartbeat 3.0 wire messages: fields, the typed Message, and why a datagram was refused.

Pure values, shared by the codec (messages.py) and every reader of decoded messages.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

FieldValue = str | bytes
Field = tuple[str, FieldValue]


class RejectReason(enum.Enum):
    """Why a datagram was dropped; the receiver keeps one counter per reason."""

    TOO_LARGE = "oversized datagram"
    MALFORMED = "malformed message"
    UNSUPPORTED_TYPE = "unsupported field type"
    NO_AUTH = "no authentication"
    UNKNOWN_KEY = "unknown key index"
    BAD_AUTH = "authtoken does not match"
    UNKNOWN_SOURCE = "source address not on the medium"  # checked by the transport, before decode


@dataclass(frozen=True)
class Rejection:
    reason: RejectReason
    detail: str

    def __str__(self) -> str:
        return f"{self.reason.value}: {self.detail}"


@dataclass(frozen=True)
class Message:
    """A decoded message: fields in wire order (strings as str, binary fields as bytes).

    Every lookup goes through an index of the fields (name -> first value) and a few parsed values, made
    on first use and kept in the instance's __dict__: not dataclass fields, so equality and repr never see
    them. Membership, the service and the node core each ask for src, t, hg and seq of every datagram."""

    fields: tuple[Field, ...]
    auth_index: int | None = None  # key index that authenticated it (None: not authenticated)

    def _index(self) -> dict[str, FieldValue]:
        index: dict[str, FieldValue] | None = self.__dict__.get("_first")
        if index is None:
            index = {}
            for key, value in self.fields:
                index.setdefault(key, value)  # the first occurrence wins, as in Heartbeat's lookup
            self.__dict__["_first"] = index
        return index

    def get(self, name: str) -> str | None:
        value = self._index().get(name)
        return value if isinstance(value, str) else None

    def get_bytes(self, name: str) -> bytes | None:
        value = self._index().get(name)
        return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value

    @property
    def type(self) -> str | None:
        return self.get("t")

    @property
    def src(self) -> str | None:
        try:
            kept: str | None = self.__dict__["_src"]
        except KeyError:
            src = self.get("src")
            kept = self.__dict__["_src"] = src.lower() if src is not None else None
        return kept

    def hex_field(self, name: str) -> int | None:
        """A field Heartbeat writes in hex without prefix (seq, hg, ts, dt, ackseq); None if absent or bad."""
        return self._int(name, 16)

    def dec_field(self, name: str) -> int | None:
        """A field written in decimal (NS_rexmit firstseq/lastseq)."""
        return self._int(name, 10)

    def _int(self, name: str, base: int) -> int | None:
        parsed: dict[tuple[str, int], int | None] | None = self.__dict__.get("_ints")
        if parsed is None:
            parsed = self.__dict__["_ints"] = {}
        key = (name, base)
        if key not in parsed:
            parsed[key] = _parse_int(self.get(name), base)
        return parsed[key]


_DIGITS = {16: frozenset("0123456789abcdefABCDEF"), 10: frozenset("0123456789")}


def _parse_int(text: str | None, base: int) -> int | None:
    # int() alone would take "0x1f", " 1f", "+1" and "1_f": none of these is on Heartbeat's wire
    if not text or len(text) > 16 or not set(text) <= _DIGITS[base]:
        return None
    return int(text, base)
