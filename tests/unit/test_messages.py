"""Heartbeat wire messages: the §8.2 example layout, HMACs checked independently, rejections, fuzz."""
from __future__ import annotations

import base64
import hashlib
import hmac
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hbd.config.model import AuthKey, AuthKeys
from hbd.core import messages as m

SECRET = b"8fb9a36a2bd21b2b2c3b0d4a"
SHA1 = AuthKeys("/etc/ha.d/authkeys", 1, (AuthKey(1, "sha1", SECRET),))
UUID = bytes(range(0xA0, 0xB0))

EXAMPLE_BODY = [("t", "status"), ("st", "up"), ("dt", "1770"), ("protocol", "1")]
SENDER = m.Sender("alice", UUID, 0x6B02071B, 3)


def example_fields() -> list[m.Field]:
    return m.with_control_fields(EXAMPLE_BODY, SENDER, seq=9, ts=0x6B02071F, load="0.12 0.24 0.10 2/124 40")


def test_example_status_packet_has_heartbeat_layout() -> None:
    wire = m.encode(example_fields(), SHA1)
    expected_head = (b"###\n11:(0)t=status,8:(0)st=up,10:(0)dt=1770,13:(0)protocol=1,12:(0)src=alice,"
                     b"27:(1)srcuuid=" + UUID + b",8:(0)seq=9,14:(0)hg=6b02071b,14:(0)ts=6b02071f,"
                     b"29:(0)ld=0.12 0.24 0.10 2/124 40,8:(0)ttl=3,50:(0)auth=1 ")
    assert wire.startswith(expected_head)
    body_end = wire.index(b"%%%\n") + 4
    trailer = wire[body_end:]
    assert trailer.startswith(b"42:1 ") and trailer.endswith(b",") and len(trailer) == 3 + 42 + 1


def test_trailing_hmac_covers_start_through_end_marker() -> None:
    wire = m.encode(example_fields(), SHA1)
    body_end = wire.index(b"%%%\n") + 4
    digest = hmac.new(SECRET, wire[:body_end], hashlib.sha1).hexdigest()
    assert wire[body_end:] == b"42:1 " + digest.encode() + b","


def test_inner_auth_covers_classic_text_with_base64_binary() -> None:
    wire = m.encode(example_fields(), SHA1)
    classic = (b"t=status\nst=up\ndt=1770\nprotocol=1\nsrc=alice\n(1)srcuuid=" + base64.b64encode(UUID)
               + b"\nseq=9\nhg=6b02071b\nts=6b02071f\nld=0.12 0.24 0.10 2/124 40\nttl=3\n")
    inner = hmac.new(SECRET, classic, hashlib.sha1).hexdigest()
    assert b"50:(0)auth=1 " + inner.encode() + b"," in wire


def test_netstring_format_without_inner_auth() -> None:
    wire = m.encode(EXAMPLE_BODY, SHA1, inner_auth=False)
    assert b"auth=" not in wire
    decoded = m.decode(wire, SHA1)
    assert isinstance(decoded, m.Message) and decoded.fields == tuple(EXAMPLE_BODY)


@pytest.mark.parametrize("method", ["sha1", "md5", "sha256"])
def test_round_trip_per_hmac_method(method: str) -> None:
    keys = AuthKeys("k", 2, (AuthKey(2, method, b"s3cret"),))  # type: ignore[arg-type]
    wire = m.encode(example_fields(), keys)
    decoded = m.decode(wire, keys)
    assert isinstance(decoded, m.Message)
    assert decoded.auth_index == 2
    assert decoded.get("t") == "status" and decoded.get_bytes("srcuuid") == UUID
    assert decoded.hex_field("seq") == 9 and decoded.hex_field("hg") == 0x6B02071B
    body_end = wire.index(b"%%%\n") + 4
    assert wire[body_end:].split(b" ")[1][:-1].decode() == hmac.new(b"s3cret", wire[:body_end], method).hexdigest()


def test_crc_is_heartbeats_msb_first_crc32() -> None:
    # CRC-32 with polynomial 0x04C11DB7, MSB first, init 0, final complement: check value 0x765E7680.
    assert m.heartbeat_crc(b"123456789") == 0x765E7680
    keys = AuthKeys("k", 1, (AuthKey(1, "crc", b""),))
    wire = m.encode([("t", "status")], keys, inner_auth=False)
    body_end = wire.index(b"%%%\n") + 4
    assert wire[body_end:] == f"{len('1 ') + len(f'{m.heartbeat_crc(wire[:body_end]):x}')}:1 ".encode() \
        + f"{m.heartbeat_crc(wire[:body_end]):x}".encode() + b","
    assert isinstance(m.decode(wire, keys), m.Message)


def test_crc_drops_leading_zeros() -> None:
    key = AuthKey(1, "crc", b"")
    for data in (b"", b"a", b"abc", bytes(range(40))):
        digest = m.auth_digest(key, data)
        assert digest == digest.lstrip("0") or digest == "0"


def test_key_rotation_accepts_any_listed_index() -> None:
    sender_keys = AuthKeys("k", 3, (AuthKey(3, "md5", b"old"),))
    receiver_keys = AuthKeys("k", 1, (AuthKey(1, "sha1", b"new"), AuthKey(3, "md5", b"old")))
    decoded = m.decode(m.encode([("t", "x")], sender_keys), receiver_keys)
    assert isinstance(decoded, m.Message) and decoded.auth_index == 3


def test_bad_hmac_is_rejected() -> None:
    wire = bytearray(m.encode(example_fields(), SHA1))
    wire[wire.index(b"st=up") + 3] = ord("U")
    rejected = m.decode(bytes(wire), SHA1)
    assert isinstance(rejected, m.Rejection) and rejected.reason is m.RejectReason.BAD_AUTH


def test_other_secret_is_rejected() -> None:
    other = AuthKeys("k", 1, (AuthKey(1, "sha1", b"another"),))
    rejected = m.decode(m.encode(example_fields(), other), SHA1)
    assert isinstance(rejected, m.Rejection) and rejected.reason is m.RejectReason.BAD_AUTH
    expected = m.auth_digest(SHA1.key(1), m.encode(example_fields(), other).rsplit(b"%%%\n", 1)[0] + b"%%%\n")
    assert expected not in str(rejected) and "authstr" not in str(rejected)  # the log is no signing oracle
    assert re.search(r"[0-9a-f]{16}", str(rejected)) is None, rejected


def test_forged_packet_is_refused_before_its_fields_are_parsed() -> None:
    """A bad trailing auth is found first: a flood of forged packets costs one HMAC each, no parse."""
    other = AuthKeys("k", 1, (AuthKey(1, "sha1", b"another"),))
    wire = m.encode(example_fields(), other)
    broken_body = wire.replace(b"(0)t=", b"(9)t=", 1)  # would be an unsupported type if parsed
    rejected = m.decode(broken_body, SHA1)
    assert isinstance(rejected, m.Rejection) and rejected.reason is m.RejectReason.BAD_AUTH


def test_unknown_key_index_is_rejected() -> None:
    other = AuthKeys("k", 7, (AuthKey(7, "sha1", SECRET),))
    rejected = m.decode(m.encode(example_fields(), other), SHA1)
    assert isinstance(rejected, m.Rejection) and rejected.reason is m.RejectReason.UNKNOWN_KEY


def test_every_truncation_is_rejected() -> None:
    wire = m.encode(example_fields(), SHA1)
    for cut in range(len(wire)):
        assert isinstance(m.decode(wire[:cut], SHA1), m.Rejection), cut


def test_oversized_is_rejected_and_not_encoded() -> None:
    rejected = m.decode(b"###\n" + b"x" * m.MAX_MESSAGE, SHA1)
    assert isinstance(rejected, m.Rejection) and rejected.reason is m.RejectReason.TOO_LARGE
    with pytest.raises(m.ProtocolError):
        m.encode([("t", "x"), ("blob", "y" * m.MAX_MESSAGE)], SHA1)


def test_trailing_garbage_is_rejected() -> None:
    wire = m.encode(example_fields(), SHA1)
    assert isinstance(m.decode(wire + b"x", SHA1), m.Rejection)
    assert isinstance(m.decode(wire + b"\0", SHA1), m.Message)


def test_struct_field_type_is_unsupported() -> None:
    body = b"###\n" + b"13:(2)nested=abc," + b"%%%\n"
    token = f"1 {hmac.new(SECRET, body, hashlib.sha1).hexdigest()}".encode()
    rejected = m.decode(body + str(len(token)).encode() + b":" + token + b",", SHA1)
    assert isinstance(rejected, m.Rejection) and rejected.reason is m.RejectReason.UNSUPPORTED_TYPE


def test_classic_text_form_is_accepted_with_inner_auth() -> None:
    fields = [("t", "status"), ("st", "active"), ("src", "bob"), ("srcuuid", UUID), ("seq", "a")]
    text = m.classic_text(fields)
    token = f"1 {hmac.new(SECRET, text, hashlib.sha1).hexdigest()}"
    datagram = b">>>\n" + text + b"auth=" + token.encode() + b"\n<<<\n"
    decoded = m.decode(datagram, SHA1)
    assert isinstance(decoded, m.Message)
    assert decoded.fields == tuple(fields) and decoded.hex_field("seq") == 10


def test_classic_text_without_auth_is_rejected() -> None:
    rejected = m.decode(b">>>\nt=ask_resources\nrsc_hold=all\ninfo=me\n<<<\n", SHA1)
    assert isinstance(rejected, m.Rejection) and rejected.reason is m.RejectReason.NO_AUTH


def test_control_fields_order_and_ns_types() -> None:
    fields = m.with_control_fields([("t", "NS_ackmsg"), ("ackseq", "1f")], SENDER, seq=None, ts=16, load=None,
                                   dest="bob", dest_uuid=b"\x01" * 16)
    assert [n for n, _ in fields] == ["t", "ackseq", "dest", "destuuid", "src", "srcuuid", "hg", "ts", "ttl"]


@pytest.mark.parametrize("text,base,value", [("1f", 16, 31), ("", 16, None), ("-1", 16, None), ("0x1", 16, None),
                                             (" 1", 16, None), ("12", 10, 12), ("zz", 16, None)])
def test_number_fields(text: str, base: int, value: int | None) -> None:
    msg = m.Message((("n", text),))
    assert (msg.hex_field("n") if base == 16 else msg.dec_field("n")) == value


def test_encode_refuses_newlines_reserved_names_and_lone_surrogates() -> None:
    for bad in ([("a\nb", "x")], [("a", "x\ny")], [("auth", "x")], [("a=b", "x")], [("a", "\udd00")]):
        with pytest.raises(m.ProtocolError):
            m.encode(bad, SHA1)


# --- fuzz: the decoder never raises, and nothing unauthentic decodes -------------------------------

@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.binary(max_size=600))
def test_fuzz_random_bytes_never_raise_never_authenticate(data: bytes) -> None:
    result = m.decode(data, SHA1)
    assert isinstance(result, m.Rejection)


@settings(max_examples=400, deadline=None, derandomize=True)
@given(st.data())
def test_fuzz_mutated_packets_never_raise(data: st.DataObject) -> None:
    wire = bytearray(m.encode(example_fields(), SHA1))
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert"]))
        pos = data.draw(st.integers(0, len(wire) - 1)) if wire else 0
        if op == "flip" and wire:
            wire[pos] ^= data.draw(st.integers(1, 255))
        elif op == "cut":
            del wire[pos:pos + data.draw(st.integers(1, 20))]
        else:
            wire[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
    result = m.decode(bytes(wire), SHA1)
    assert isinstance(result, (m.Message, m.Rejection))
    if isinstance(result, m.Message):  # only a mutation outside the signed content may pass
        assert result.fields == tuple(example_fields()) + (("auth", result.get("auth")),)


SENDABLE_TEXT = st.text(alphabet=st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)),
                        max_size=30)
FIELD_NAME = st.from_regex(r"[a-z_]{1,8}", fullmatch=True).filter(lambda s: s != "auth")


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.tuples(FIELD_NAME, st.one_of(SENDABLE_TEXT, st.binary(max_size=20))), max_size=8))
def test_fuzz_round_trip(fields: list[m.Field]) -> None:
    decoded = m.decode(m.encode(fields, SHA1), SHA1)
    assert isinstance(decoded, m.Message)
    assert decoded.fields[:-1] == tuple(fields)
