"""Fuzz the Heartbeat message decoder with a seeded mutator: at least 1 M inputs, none may raise.

Inputs are valid packets (status, NS_rexmit, classic text) mutated by byte flips, cuts, insertions,
duplicated spans and spliced netstring lengths, plus plain random bytes. Any exception escaping
decode() is a bug: the script stops and prints the seed and input. A mutated packet that still decodes
must carry the original fields (only a mutation outside the signed bytes, e.g. a trailing NUL, may pass).

    .venv/bin/python bench/fuzz_messages.py --inputs 1000000 --seed 1
"""
from __future__ import annotations

import argparse
import random
import sys
import time

from hbd.config.model import AuthKey, AuthKeys
from hbd.core import messages as m

KEYS = AuthKeys("authkeys", 1, (AuthKey(1, "sha1", b"fuzz-secret"), AuthKey(2, "md5", b"other"),
                                AuthKey(3, "crc", b"")))


def seeds() -> list[bytes]:
    sender = m.Sender("alice", bytes(range(16)), 0x6B02071B, 3)
    bodies = [[("t", "status"), ("st", "active"), ("dt", "7d0"), ("protocol", "1")],
              [("t", "NS_rexmit"), ("firstseq", "17"), ("lastseq", "20")],
              [("t", "resource"), ("rsc_hold", "all"), ("rtype", "full"), ("isstable", "1")]]
    out = [m.encode(m.with_control_fields(b, sender, seq=9, ts=1, load="0.1 0.2 0.3 1/2 3"), KEYS) for b in bodies]
    text = m.classic_text([("t", "status"), ("src", "bob"), ("srcuuid", b"\x01" * 16)])
    out.append(b">>>\n" + text + b"auth=1 " + m.auth_digest(KEYS.keys[0], text).encode() + b"\n<<<\n")
    return out


def mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 5)):
        op = rng.randrange(7)
        pos = rng.randrange(len(buf) + 1)
        if op == 0 and buf:
            buf[min(pos, len(buf) - 1)] ^= 1 << rng.randrange(8)
        elif op == 1:
            del buf[pos:pos + rng.randint(1, 32)]
        elif op == 2:
            buf[pos:pos] = rng.randbytes(rng.randint(1, 16))
        elif op == 3 and buf:
            start = rng.randrange(len(buf))
            buf[pos:pos] = buf[start:start + rng.randint(1, 64)]
        elif op == 4:
            buf[pos:pos] = str(rng.choice([0, 1, 9, 10, 99, 999999, 10**9])).encode() + b":"
        elif op == 5:
            buf[pos:pos] = rng.choice([b",", b":", b"(", b")", b"=", b"%%%\n", b"###\n", b"(2)", b"\0"])
        else:
            del buf[pos:]
    return bytes(buf)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--inputs", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    corpus = seeds()
    originals = {bytes(s): m.decode(s, KEYS) for s in corpus}
    accepted = rejected = 0
    started = time.perf_counter()
    for i in range(args.inputs):
        if i % 10 == 9:
            data = rng.randbytes(rng.randint(0, 600))
            source = None
        else:
            source = rng.choice(corpus)
            data = mutate(rng, source)
        try:
            result = m.decode(data, KEYS)
        except Exception as exc:  # the one thing this script exists to find
            print(f"decode raised {exc!r} on input {i} (seed {args.seed}): {data!r}", file=sys.stderr)
            return 1
        if isinstance(result, m.Message):
            accepted += 1
            original = originals.get(source) if source is not None else None
            if not isinstance(original, m.Message) or result.fields != original.fields:
                print(f"input {i} (seed {args.seed}) decoded to other fields: {data!r}", file=sys.stderr)
                return 1
        else:
            rejected += 1
    elapsed = time.perf_counter() - started
    print(f"inputs: {args.inputs}  rejected: {rejected}  accepted unchanged: {accepted}  "
          f"exceptions: 0  time: {elapsed:.1f} s  rate: {args.inputs / elapsed:,.0f} inputs/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
