"""What the agents' bench scripts share: the --rounds option and the root check (the lab needs root)."""
from __future__ import annotations

import argparse
import os
import sys


def rounds_or_none(argv: list[str] | None, doc: str, name: str, default: int = 10) -> int | None:
    """The number of rounds asked for, or None (after saying why) when not run as root."""
    parser = argparse.ArgumentParser(prog=name, description=doc.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=default)
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print(f"{name}: needs root (the namespace lab)", file=sys.stderr)
        return None
    return int(args.rounds)
