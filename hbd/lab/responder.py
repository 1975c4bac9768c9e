"""TCP responder run in every lab node: answers each connection with the node's name, then closes."""
from __future__ import annotations

import argparse
import socket
import sys


def serve(name: str, port: int) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Bound to the wildcard address so it answers on every address the node has or gains (the VIP).
    sock.bind(("0.0.0.0", port))
    sock.listen(64)
    print("ready", flush=True)
    sys.stdout.close()
    reply = (name + "\n").encode()
    while True:
        conn, _ = sock.accept()
        with conn:
            try:
                conn.sendall(reply)
            except OSError:
                pass  # client gone; next one


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hbd.lab.responder")
    parser.add_argument("--name", required=True)
    parser.add_argument("--port", type=int, default=7777)
    args = parser.parse_args(argv)
    serve(args.name, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
