"""The one-loop field reader of decode() parses and refuses exactly as the per-field netstring parser it
replaced (kept here as the reference), on valid packets and on every kind of damage."""
from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from hbd.config.model import AuthKey, AuthKeys
from hbd.core import messages as m

KEYS = AuthKeys("authkeys", 1, (AuthKey(1, "sha1", b"s"),))


def reference_netstring(data: bytes, pos: int) -> tuple[bytes, int]:
    colon = data.find(b":", pos, pos + m._MAX_LEN_DIGITS + 1)
    if colon <= pos or not data[pos:colon].isdigit():
        raise m._Malformed(f"bad netstring length at byte {pos}")
    end = colon + 1 + int(data[pos:colon])
    if end >= len(data) or data[end:end + 1] != b",":
        raise m._Malformed(f"netstring at byte {pos} is truncated or unterminated")
    return data[colon + 1:end], end + 1


def reference_field(payload: bytes) -> m.Field:
    if not payload.startswith(b"(") or b")" not in payload[:4]:
        raise m._Malformed("field without a type")
    close = payload.index(b")")
    type_text = payload[1:close]
    if not type_text.isdigit():
        raise m._Malformed("field with a bad type")
    name, eq, value = payload[close + 1:].partition(b"=")
    if not eq or not name:
        raise m._Malformed("field without a name")
    try:
        name_text = name.decode("ascii")
    except UnicodeDecodeError:
        raise m._Malformed("field name is not ASCII") from None
    if int(type_text) == m.TYPE_BINARY:
        return name_text, bytes(value)
    if int(type_text) != m.TYPE_STRING:
        raise m._Unsupported(f"field {name_text} has type ({int(type_text)})")
    return name_text, value.decode("utf-8", "surrogateescape")


def reference_fields(data: bytes, pos: int) -> tuple[list[m.Field], int]:
    fields: list[m.Field] = []
    while not data.startswith(m.NETSTRING_END, pos):
        if pos >= len(data):
            raise m._Malformed("no %%% end marker")
        payload, pos = reference_netstring(data, pos)
        fields.append(reference_field(payload))
    return fields, pos


def outcome(reader, data: bytes) -> object:  # type: ignore[no-untyped-def]
    try:
        return reader(data, len(m.NETSTRING_START))
    except (m._Malformed, m._Unsupported) as exc:
        return type(exc).__name__, str(exc)


PACKET = m.encode([("t", "status"), ("st", "active"), ("src", "alice"), ("srcuuid", b"\x00(1)=,\xff" * 2),
                   ("seq", "1f"), ("info", "caf\u00e9 \udcff")], KEYS)
DAMAGE = [b"", b"(", b")", b"=", b":", b",", b"0", b"1", b"2", b"9", b"x", b"\xff", b"%%%\n", b"(9)", b"(00)",
          b"(01)", b"(1)=", b"()", b"(a)"]


def test_a_valid_packet_and_hand_made_damage_agree() -> None:
    fields, end = m._read_fields(PACKET, len(m.NETSTRING_START))
    assert (fields, end) == reference_fields(PACKET, len(m.NETSTRING_START))
    assert m.decode(PACKET, KEYS) == m.Message(tuple(fields), 1)
    for at in range(len(m.NETSTRING_START), PACKET.index(m.NETSTRING_END) + 4):
        for piece in DAMAGE:
            for cut in (0, 1, 3):
                damaged = PACKET[:at] + piece + PACKET[at + cut:]
                assert outcome(m._read_fields, damaged) == outcome(reference_fields, damaged), (at, piece, cut)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([b"0", b"1", b"2", b"00", b"", b"x"]),
                          st.binary(max_size=6), st.sampled_from([b"=", b"", b"=="]), st.binary(max_size=12),
                          st.integers(-2, 2)), max_size=6),
       st.sampled_from([b"%%%\n", b"%%%", b""]))
def test_generated_field_lists_agree(parts, tail) -> None:  # type: ignore[no-untyped-def]
    body = m.NETSTRING_START
    for kind, name, eq, value, skew in parts:
        payload = b"(" + kind + b")" + name + eq + value
        body += str(max(0, len(payload) + skew)).encode() + b":" + payload + b","
    data = body + tail + b"5:1 abc,"
    assert outcome(m._read_fields, data) == outcome(reference_fields, data)
