"""The model as a bash script of pcs (0.10 / 0.11) commands that builds the same configuration offline.

The script edits a copy of the live CIB (`pcs -f FILE`) and pushes it once at the end, so a failing command
leaves the running cluster untouched (`set -e`).
"""
from __future__ import annotations

import shlex

from hbd.convert.model import INFINITY, Cluster, Op, Primitive


def _kv(pairs: tuple[tuple[str, str], ...]) -> list[str]:
    return [shlex.quote(f"{k}={v}") for k, v in pairs]


def _ops(ops: tuple[Op, ...]) -> list[str]:
    if not ops:
        return []
    out = ["op"]
    for op in ops:
        out += [op.name, f"interval={op.interval_s}s", f"timeout={op.timeout_s}s"]
        if op.role:
            out.append(f"role={op.role}")
    return out


def _create(p: Primitive, tail: list[str]) -> str:
    words = ["pcs", "-f", '"$CIB"', "stonith" if p.cls == "stonith" else "resource", "create", shlex.quote(p.id),
             shlex.quote(p.type if p.cls == "stonith" else p.agent), *_kv(p.params), *_ops(p.ops), *tail]
    comment = f"# {p.source}\n" if p.source else ""
    return comment + " ".join(words)


def to_pcs(c: Cluster, source: str) -> str:
    lines = ["#!/bin/bash",
             f"# Pacemaker configuration converted by `hbd convert --to pcs` from {source}.",
             f"# Run it on one node after `pcs cluster setup {shlex.quote(c.name)} {' '.join(map(shlex.quote, c.nodes))}`",
             "# and `pcs cluster start --all`. It edits a copy of the CIB and pushes it once at the end.",
             *(f"# NOTE: {n}" for n in c.notes),
             "set -euo pipefail",
             'CIB="${CIB:-hbd-import.cib.xml}"',
             'pcs cluster cib "$CIB"']
    lines += [f'pcs -f "$CIB" property set {kv}' for kv in _kv(tuple(p for p in c.properties if p[0] != "cluster-name"))]
    if c.rsc_defaults:
        lines.append('pcs -f "$CIB" resource defaults update ' + " ".join(_kv(c.rsc_defaults)))
    for s in c.stonith:
        lines.append(_create(s, []))
    for clone in c.clones:
        opts = _kv(tuple(m for m in clone.meta if m[0] != "promotable"))
        lines.append(_create(clone.primitive, ["promotable", shlex.quote(clone.id), *opts]))
    for g in c.groups:
        for member in g.members:
            lines.append(_create(member, ["--group", shlex.quote(g.id)]))
        if g.meta:
            lines.append(f'pcs -f "$CIB" resource meta {shlex.quote(g.id)} ' + " ".join(_kv(g.meta)))
    for loc in c.locations:
        if loc.score == "-" + INFINITY:
            lines.append(f'pcs -f "$CIB" constraint location {shlex.quote(loc.rsc)} avoids {shlex.quote(loc.node)}')
        else:
            lines.append(f'pcs -f "$CIB" constraint location {shlex.quote(loc.rsc)} prefers '
                         f'{shlex.quote(loc.node + "=" + loc.score)}')
    for col in c.colocations:
        role = f"{col.with_role} " if col.with_role else ""
        lines.append(f'pcs -f "$CIB" constraint colocation add {shlex.quote(col.rsc)} with {role}'
                     f'{shlex.quote(col.with_rsc)} {col.score}')
    for o in c.orders:
        lines.append(f'pcs -f "$CIB" constraint order {o.first_action} {shlex.quote(o.first)} then '
                     f'{o.then_action} {shlex.quote(o.then)}')
    for lv in c.levels:
        lines.append(f'pcs -f "$CIB" stonith level add {lv.index} {shlex.quote(lv.target)} '
                     + " ".join(map(shlex.quote, lv.devices)))
    lines += ['pcs cluster cib-push "$CIB" --config', 'echo "pushed $CIB"']
    return "\n".join(lines) + "\n"
