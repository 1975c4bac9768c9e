"""Heartbeat 3.0 wire messages: netstring encode/decode, trailing and inner auth, classic text on receive.

Pure: bytes in, typed values out. The decoder never raises; anything malformed or unauthentic comes back
as a `Rejection` with a reason the receiver counts and logs (heartbeat.md §8.2, §8.7).
"""
from __future__ import annotations

import base64
import functools
import hmac
from dataclasses import dataclass
from typing import Iterable, Sequence

from hbd.config.model import AuthKey, AuthKeys
from hbd.core.message_model import Field as Field, FieldValue as FieldValue, Message as Message
from hbd.core.message_model import RejectReason as RejectReason, Rejection as Rejection
from hbd.errors import ProtocolError

MAX_MESSAGE = 256 * 1024  # Heartbeat's MAXMSG: nothing larger goes on the wire or is parsed
NETSTRING_START = b"###\n"
NETSTRING_END = b"%%%\n"
CLASSIC_START = b">>>\n"
CLASSIC_END = b"<<<\n"
TYPE_STRING = 0
TYPE_BINARY = 1
UUID_FIELDS = ("srcuuid", "destuuid")
_MAX_LEN_DIGITS = 7  # 256 KiB needs 6 digits; longer length prefixes are malformed, not big numbers

# --- auth ------------------------------------------------------------------------------------------

def _crc_table() -> tuple[int, ...]:
    # Heartbeat's crc plugin: CRC-32, polynomial 0x04C11DB7, MSB first, initial value 0, final complement.
    table = []
    for i in range(256):
        crc = i << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else (crc << 1)
        table.append(crc & 0xFFFFFFFF)
    return tuple(table)


_CRC_TABLE = _crc_table()


def heartbeat_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC_TABLE[((crc >> 24) ^ byte) & 0xFF]
    return ~crc & 0xFFFFFFFF


@functools.lru_cache(maxsize=16)
def _keyed_hmac(method: str, secret: bytes) -> "hmac.HMAC":
    """An HMAC with the key already set up; each digest works on a copy. hmac.digest() would set the key
    up (and look the hash up in OpenSSL) again for every datagram: twice as slow."""
    return hmac.new(secret, digestmod=method)


def auth_digest(key: AuthKey, data: bytes) -> str:
    """The hex digest Heartbeat writes after the key index: HMAC-SHA1/MD5 (sha256 is hbd's own), or crc."""
    if key.method == "crc":
        return f"{heartbeat_crc(data):x}"
    mac = _keyed_hmac(key.method, key.secret).copy()
    mac.update(data)
    return mac.hexdigest()


def _auth_token(key: AuthKey, data: bytes) -> str:
    return f"{key.index} {auth_digest(key, data)}"


def _check_token(token: str, data: bytes, keys: AuthKeys) -> Rejection | int:
    index_text, _, digest = token.partition(" ")
    if not index_text.isdigit() or len(index_text) > 3 or not digest:
        return Rejection(RejectReason.MALFORMED, f"bad auth token [{token[:80]}]")
    key = keys.verifying_key(int(index_text))
    if key is None and keys.key(int(index_text)) is not None:  # a crc key while auth is an HMAC
        return Rejection(RejectReason.UNKNOWN_KEY, f"key index [{index_text}] is crc: refused while auth "
                                                   f"{keys.active} is an HMAC (accept_crc off)")
    if key is None:
        return Rejection(RejectReason.UNKNOWN_KEY, f"key index [{index_text}] is not in authkeys")
    expected = auth_digest(key, data)
    if not hmac.compare_digest(expected.encode(), digest.strip().lower().encode("utf-8", "replace")):
        # never the expected digest (nor the received one): a log line must not be a signing oracle
        return Rejection(RejectReason.BAD_AUTH, f"key index {key.index} ({key.method})")
    return key.index


def classic_text(fields: Iterable[Field]) -> bytes:
    """Fields as `name=value\\n` lines (binary fields as `(1)name=<base64>`), the text the inner auth covers."""
    out = bytearray()
    for name, value in fields:
        if isinstance(value, bytes):
            out += f"({TYPE_BINARY}){name}=".encode() + base64.b64encode(value) + b"\n"
        else:
            out += f"{name}={value}\n".encode("utf-8", "surrogateescape")
    return bytes(out)


# --- encode ----------------------------------------------------------------------------------------

def _netstring_field(name: str, value: FieldValue) -> bytes:
    if isinstance(value, bytes):
        payload = f"({TYPE_BINARY}){name}=".encode() + value
    else:
        payload = f"({TYPE_STRING}){name}={value}".encode("utf-8", "surrogateescape")
    return str(len(payload)).encode() + b":" + payload + b","


def encode(fields: Sequence[Field], keys: AuthKeys, *, inner_auth: bool = True) -> bytes:
    """One datagram: `###\\n`, a netstring per field, `%%%\\n`, the trailing auth netstring.

    With `inner_auth` (Heartbeat's default `msgfmt classic`) an `auth=` field over the classic text of
    the other fields is appended first, as Heartbeat does; receivers only check the trailing one.
    """
    return encode_message(fields, keys, inner_auth=inner_auth)[0]


@functools.lru_cache(maxsize=256)
def _field_bytes(name: str, value: FieldValue) -> tuple[bytes, bytes] | None:
    """The checks encode_message makes of one field (ProtocolError), then its netstring and its classic
    line, kept for the fields that repeat in every heartbeat (t, st, src, srcuuid, hg, ttl, ...). None when
    these cannot be made: encode_message then takes the long way, which raises as it always did."""
    if not name or "=" in name or "\n" in name or name == "auth":
        raise ProtocolError(f"bad field name {name!r}")
    if isinstance(value, str) and "\n" in value:
        raise ProtocolError(f"field {name} holds a newline")
    if isinstance(value, str):
        try:
            value.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raise ProtocolError(f"field {name} holds text that cannot be sent") from None
    try:
        return _netstring_field(name, value), classic_text(((name, value),))
    except UnicodeEncodeError:
        return None


def encode_message(fields: Sequence[Field], keys: AuthKeys, *,
                   inner_auth: bool = True) -> tuple[bytes, Message]:
    """The datagram and the Message that decode() makes of it with these keys: a node's own datagrams
    come back to it on every medium, and the sender keeps this so as to decode none of them."""
    key = keys.signing_key
    parts = [_field_bytes(name, value) for name, value in fields]  # every field checked, in order
    made = [part for part in parts if part is not None]
    all_fields = list(fields)
    if len(made) < len(parts):
        body = _body_the_long_way(all_fields, key, inner_auth)
    else:
        netstrings = [part[0] for part in made]
        if inner_auth:
            token = _auth_token(key, b"".join(part[1] for part in made))
            all_fields.append(("auth", token))
            netstrings.append(_netstring_field("auth", token))
        body = NETSTRING_START + b"".join(netstrings) + NETSTRING_END
    token_bytes = _auth_token(key, body).encode()
    datagram = body + str(len(token_bytes)).encode() + b":" + token_bytes + b","
    if len(datagram) > MAX_MESSAGE:
        raise ProtocolError(f"message of {len(datagram)} bytes exceeds the {MAX_MESSAGE} byte limit")
    return datagram, Message(tuple(all_fields), key.index)


def _body_the_long_way(all_fields: list[Field], key: AuthKey, inner_auth: bool) -> bytes:
    """Field by field, for a field name that cannot be encoded (raises UnicodeEncodeError as before)."""
    fields = tuple(all_fields)
    if inner_auth:
        all_fields.append(("auth", _auth_token(key, classic_text(fields))))
    return NETSTRING_START + b"".join(_netstring_field(n, v) for n, v in all_fields) + NETSTRING_END


# --- decode ----------------------------------------------------------------------------------------

class _Malformed(Exception):
    """Internal: raised inside the parser only, always turned into a Rejection by decode()."""


def _read_netstring(data: bytes, pos: int) -> tuple[bytes, int]:
    colon = data.find(b":", pos, pos + _MAX_LEN_DIGITS + 1)
    if colon <= pos or not data[pos:colon].isdigit():
        raise _Malformed(f"bad netstring length at byte {pos}")
    length = int(data[pos:colon])
    end = colon + 1 + length
    if end >= len(data) or data[end:end + 1] != b",":
        raise _Malformed(f"netstring at byte {pos} is truncated or unterminated")
    return data[colon + 1:end], end + 1


def _read_fields(data: bytes, pos: int) -> tuple[list[Field], int]:
    """The fields `(T)name=value` in netstrings from pos up to the `%%%\\n` end marker, and the marker's
    position. One loop with no call per field: every peer datagram comes through here, each keepalive on
    every medium, and the per-field work was most of a decode."""
    fields: list[Field] = []
    append, find, size, names = fields.append, data.find, len(data), _NAMES
    while not data.startswith(NETSTRING_END, pos):
        if pos >= size:
            raise _Malformed("no %%% end marker")
        colon = find(b":", pos, pos + _MAX_LEN_DIGITS + 1)
        digits = data[pos:colon]
        if colon <= pos or not digits.isdigit():
            raise _Malformed(f"bad netstring length at byte {pos}")
        start = colon + 1
        end = start + int(digits)
        if end >= size or data[end] != 0x2C:  # ","
            raise _Malformed(f"netstring at byte {pos} is truncated or unterminated")
        if data[start] == 0x28 and data[start + 2] == 0x29 and 0x30 <= data[start + 1] <= 0x31 and start + 2 < end:
            close, kind = start + 2, data[start + 1] - 0x30  # "(0)" or "(1)": what v1 sends
        else:
            close = find(b")", start + 1, min(start + 4, end)) if data[start] == 0x28 else -1  # "("
            if close < 0 or start == end:
                raise _Malformed("field without a type")
            field_type = data[start + 1:close]
            if not field_type.isdigit():
                raise _Malformed("field with a bad type")
            kind = int(field_type)
        eq = find(b"=", close + 1, end)
        if eq <= close + 1:
            raise _Malformed("field without a name")
        raw_name = data[close + 1:eq]
        name = names.get(raw_name)
        if name is None:
            try:
                name = raw_name.decode("ascii")
            except UnicodeDecodeError:
                raise _Malformed("field name is not ASCII") from None
            if len(names) < _NAMES_KEPT:
                names[raw_name] = name
        if kind == TYPE_STRING:
            append((name, data[eq + 1:end].decode("utf-8", "surrogateescape")))
        elif kind == TYPE_BINARY:
            append((name, data[eq + 1:end]))
        else:
            raise _Unsupported(f"field {name} has type ({kind})")
        pos = end + 1
    return fields, pos


_NAMES: dict[bytes, str] = {}  # field names seen, decoded: the same dozen come in every datagram
_NAMES_KEPT = 256  # bounded: names in forged datagrams cannot grow it


class _Unsupported(Exception):
    """Internal: a field type (struct, list, compressed) that v1 never sends."""


def _trailing_auth(data: bytes, keys: AuthKeys) -> tuple[Rejection | int | None, int]:
    """Check the trailing auth before parsing any field, so a forged packet costs one HMAC and no parse.

    The last `%%%\n` is the end marker (the auth token cannot hold one). None: no well-formed trailer,
    the full parse says what is wrong. With it, where the trailer starts (-1: none)."""
    marker = data.rfind(NETSTRING_END)
    if marker < len(NETSTRING_START) - 1:
        return None, -1
    body_end = marker + len(NETSTRING_END)
    try:
        token, end = _read_netstring(data, body_end)
    except _Malformed:
        return None, -1
    if data[end:].strip(b"\0") != b"":
        return None, -1
    return _check_token(token.decode("ascii", "replace"), data[:body_end], keys), body_end


def _decode_netstring(data: bytes, keys: AuthKeys) -> Message | Rejection:
    early, trailer = _trailing_auth(data, keys)
    if isinstance(early, Rejection):
        return early
    fields, pos = _read_fields(data, len(NETSTRING_START))
    body_end = pos + len(NETSTRING_END)
    if early is not None and body_end == trailer:
        return Message(tuple(fields), early)  # the trailer the fields end at was read and checked already
    token, end = _read_netstring(data, body_end)
    if data[end:].strip(b"\0") != b"":
        raise _Malformed(f"{len(data) - end} bytes after the auth netstring")
    checked = early if early is not None else _check_token(token.decode("ascii", "replace"), data[:body_end], keys)
    if isinstance(checked, Rejection):
        return checked
    return Message(tuple(fields), checked)


def _decode_classic(data: bytes, keys: AuthKeys) -> Message | Rejection:
    text = data.rstrip(b"\0")
    if not text.endswith(CLASSIC_END):
        raise _Malformed("no <<< end marker")
    fields: list[Field] = []
    token: str | None = None
    for line in text[len(CLASSIC_START):-len(CLASSIC_END)].split(b"\n"):
        if not line:
            continue
        name, eq, value = line.partition(b"=")
        if not eq or not name:
            raise _Malformed("classic line without name=value")
        if name.startswith(b"(1)"):
            try:
                fields.append((name[3:].decode("ascii"), base64.b64decode(value, validate=True)))
            except (ValueError, UnicodeDecodeError):
                raise _Malformed("bad binary field") from None
            continue
        try:
            name_text = name.decode("ascii")
        except UnicodeDecodeError:
            raise _Malformed("field name is not ASCII") from None
        if name_text == "auth":
            token = value.decode("ascii", "replace")
        else:
            fields.append((name_text, value.decode("utf-8", "surrogateescape")))
    if token is None:
        return Rejection(RejectReason.NO_AUTH, "classic message without an auth field")
    checked = _check_token(token, classic_text(fields), keys)
    if isinstance(checked, Rejection):
        return checked
    return Message(tuple(fields), checked)


def decode(data: bytes, keys: AuthKeys) -> Message | Rejection:
    """A datagram to a Message, or a Rejection saying why it was dropped. Never raises."""
    if len(data) > MAX_MESSAGE:
        return Rejection(RejectReason.TOO_LARGE, f"{len(data)} bytes > {MAX_MESSAGE}")
    try:
        if data.startswith(NETSTRING_START):
            return _decode_netstring(data, keys)
        if data.startswith(CLASSIC_START):
            return _decode_classic(data, keys)
        return Rejection(RejectReason.MALFORMED, f"unknown start {data[:8]!r}")
    except _Malformed as exc:
        return Rejection(RejectReason.MALFORMED, str(exc))
    except _Unsupported as exc:
        return Rejection(RejectReason.UNSUPPORTED_TYPE, str(exc))


# --- standard fields -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Sender:
    """What this node stamps on every message (heartbeat.md §8.3)."""

    node: str
    uuid: bytes  # 16 raw bytes
    generation: int
    ttl: int  # hopfudge + number of nodes


def with_control_fields(body: Sequence[Field], sender: Sender, *, seq: int | None, ts: int,
                        load: str | None, dest: str | None = None,
                        dest_uuid: bytes | None = None) -> list[Field]:
    """Body fields followed by Heartbeat's control fields in its order: src, srcuuid, seq, hg, ts, ld, ttl.

    `seq` and `ld` are left out for NS_ types (pass None). `dest` goes with the body; `destuuid` after it.
    """
    fields = list(body)
    if dest is not None:
        fields.append(("dest", dest))
        if dest_uuid is not None:
            fields.append(("destuuid", dest_uuid))
    fields += [("src", sender.node), ("srcuuid", sender.uuid)]
    if seq is not None:
        fields.append(("seq", f"{seq:x}"))
    fields += [("hg", f"{sender.generation:x}"), ("ts", f"{ts:x}")]
    if load is not None:
        fields.append(("ld", load))
    fields.append(("ttl", str(sender.ttl)))
    return fields
