"""Plan speed: `hbd test noop start service big` on a generated cluster.conf with 10 000 resources (target < 1 s).

Prints the wall time of the whole command (a fresh `hbd` process: interpreter start, imports, parse, schema,
tree build, plan, output) and the in-process time of load + plan alone. Usage: python bench/plan_10k.py [N]
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def generate(count: int) -> str:
    """One service holding `count` resources of five types: typed levels, nesting and untyped children."""
    lines = ['<?xml version="1.0"?>', '<cluster name="bench" config_version="1">',
             '  <clusternodes><clusternode name="n1" nodeid="1"/><clusternode name="n2" nodeid="2"/></clusternodes>',
             "  <rm>", '    <service name="big">']
    made = 0
    i = 0
    while made < count:
        kind = i % 5
        if kind == 0 and made + 2 <= count:
            lines.append(f'      <fs name="fs{i}" device="/dev/vg/lv{i}" mountpoint="/srv/{i}">'
                         f'<nfsexport name="exp{i}"/></fs>')
            made += 2
        elif kind == 1:
            lines.append(f'      <script name="s{i}" file="/etc/init.d/app{i}"/>')
            made += 1
        elif kind == 2:
            lines.append(f'      <apache name="web{i}"/>')
            made += 1
        elif kind == 3:
            lines.append(f'      <lvm name="lv{i}" vg_name="vg{i}"/>')
            made += 1
        else:
            lines.append(f'      <mysql name="db{i}"/>')
            made += 1
        i += 1
    lines += ["    </service>", "  </rm>", "</cluster>", ""]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", nargs="?", type=int, default=10000, help="resources in the service (10000)")
    parser.add_argument("--json", type=Path, help="append the figures here (read by run_all.py)")
    args = parser.parse_args()
    count = args.count
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "cluster.conf"
        conf.write_text(generate(count))
        hbd = shutil.which("hbd") or str(Path(sys.executable).with_name("hbd"))
        argv = [hbd, "test", "noop", "start", "service", "big", "-c", str(conf)]
        best = None
        for _ in range(3):
            started = time.monotonic()
            done = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=dict(os.environ))
            took = time.monotonic() - started
            best = took if best is None else min(best, took)
            if done.returncode != 0:
                print(done.stdout[-2000:], done.stderr[-2000:], file=sys.stderr)
                return 1
        steps = sum(1 for line in done.stdout.splitlines() if line.startswith("[start] "))

        from hbd.cli.test_cmd import main as test_main

        started = time.monotonic()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            test_main(["noop", "start", "service", "big", "-c", str(conf)])
        in_process = time.monotonic() - started
    print(f"resources: {count}  [start] lines: {steps}")
    print(f"hbd test noop start service big (new process, best of 3): {best:.3f} s  (target < 1 s)")
    print(f"same command in process (load + schema + tree + plan + print): {in_process:.3f} s")
    if args.json:
        import json

        with args.json.open("a") as out:
            out.write(json.dumps({"kind": "plan", "resources": count, "new_process_s": best,
                                  "in_process_s": in_process}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
