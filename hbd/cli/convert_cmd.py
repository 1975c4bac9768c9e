"""`hbd convert --to cib|pcs [-c PATH]`: hand a cluster to Pacemaker + Corosync (see hbd/convert/).

Reads haresources (with ha.cf for the node names; authkeys is not needed) or cluster.conf and prints a
Pacemaker CIB (for `crm_verify -x` and `cibadmin --replace --xml-file`) or a pcs script. Exit codes: 0
written, 1 the configuration is unusable or a resource has no Pacemaker equivalent (nothing is printed), 2 usage.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from hbd.config import load
from hbd.convert.agents import ConvertError
from hbd.convert.build import convert
from hbd.convert.cib import to_cib
from hbd.convert.pcs import to_pcs
from hbd.errors import ConfigError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hbd convert", description="convert haresources or cluster.conf to a "
                                "Pacemaker CIB or a pcs script")
    p.add_argument("--to", required=True, choices=("cib", "pcs"), help="output: CIB XML or a bash script of pcs commands")
    p.add_argument("-c", "--config", default=None,
                   help="directory with ha.cf and haresources, or a cluster.conf (default: as the daemon looks)")
    p.add_argument("--node", help="node name used to read ha.cf (any node of the cluster; default uname -n)")
    p.add_argument("--monitor", type=int, default=30, metavar="SECONDS",
                   help="monitor interval for haresources resources, which Heartbeat never monitored (0: none)")
    p.add_argument("-o", "--output", help="write here instead of stdout")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    try:
        cfg = load(args.config, _node(args), need_authkeys=False)
        model = convert(cfg, args.monitor)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    except ConvertError as exc:
        print(f"hbd convert: {exc}", file=sys.stderr)
        return 1
    text = to_cib(model) if args.to == "cib" else to_pcs(model, cfg.path)
    if args.output:
        Path(args.output).write_text(text)
    else:
        sys.stdout.write(text)
    for note in model.notes:
        print(f"hbd convert: note: {note}", file=sys.stderr)
    return 0


def _node(args: argparse.Namespace) -> str | None:
    """ha.cf is read as one of its nodes: --node, else the first node line (any node gives the same groups)."""
    if args.node or args.config is None:
        node: str | None = args.node
        return node
    hacf = Path(args.config) / "ha.cf"
    if hacf.is_file():
        for line in hacf.read_text(errors="replace").splitlines():
            words = line.split("#", 1)[0].split()
            if len(words) >= 2 and words[0] == "node":
                return words[1].lower()
    return None
