"""Admin and recovery requests applied to the service table by the coordinator (pure).

`apply` returns either the new table or a typed Refusal, and a refused request changes nothing. These are
clusvcadm's operations: enable [-m NODE], disable, relocate [-m NODE], restart, freeze, unfreeze.
"""
from __future__ import annotations

from dataclasses import replace

from hbd.core.service_model import Catalog, ServiceSpec
from hbd.core.service_placement import Loads, add, choose, eligible
from hbd.core.service_states import ServiceState
from hbd.core.service_table import (
    AdminOp, AdminRequest, DisabledBy, Entry, RecoveryOp, RecoveryRequest, Refusal, Table,
)


def _loads_without(catalog: Catalog, table: Table, name: str) -> Loads:
    loads = Loads({}, frozenset())
    for spec in catalog.services:
        if spec.name != name:
            loads = add(loads, spec, table[spec.name].placement)
    return loads


def _target_refusal(spec: ServiceSpec, catalog: Catalog, table: Table, members: frozenset[str],
                    target: str) -> Refusal | None:
    if catalog.node(target) is None:
        return Refusal.NO_SUCH_NODE
    if target not in members:
        return Refusal.TARGET_DOWN
    if target not in eligible(spec, members):
        return Refusal.OUTSIDE_RESTRICTED_DOMAIN
    loads = _loads_without(catalog, table, spec.name)
    if (spec.exclusive and loads.count.get(target, 0)) or target in loads.exclusive:
        return Refusal.EXCLUSIVE_CONFLICT
    return None


def apply(request: AdminRequest, catalog: Catalog, table: Table, members: frozenset[str],
          seq: int) -> dict[str, Entry] | Refusal:
    """The table after `request` (placements it sets take effect with announcement `seq`), or why not."""
    spec = catalog.service(request.service)
    if spec is None or request.service not in table:
        return Refusal.NO_SUCH_SERVICE
    entry = table[spec.name]
    op = request.op
    if request.target is not None and op in (AdminOp.ENABLE, AdminOp.RELOCATE):
        refusal = _target_refusal(spec, catalog, table, members, request.target)
        if refusal is not None:
            return refusal
    if op in (AdminOp.ENABLE, AdminOp.RELOCATE) and entry.state is ServiceState.FAILED:
        return Refusal.SERVICE_FAILED
    if op in (AdminOp.RELOCATE, AdminOp.RESTART) and entry.frozen:
        return Refusal.FROZEN
    new: Entry
    if op is AdminOp.DISABLE:
        # a new generation: each disable is one more attempt at a copy whose stop failed (service_node.py)
        new = replace(entry, enabled=False, disabled_by=DisabledBy.ADMIN, generation=entry.generation + 1)
    elif op is AdminOp.FREEZE:
        new = replace(entry, frozen=True)
    elif op is AdminOp.UNFREEZE:
        new = replace(entry, frozen=False)
    elif op is AdminOp.RESTART:
        if entry.owner is None or entry.state is not ServiceState.STARTED:
            return Refusal.NOT_RUNNING
        new = replace(entry, generation=entry.generation + 1)
    else:
        target = request.target
        if target is None and op is AdminOp.RELOCATE and entry.owner is not None:
            away = frozenset({entry.owner})
            target = choose(spec, catalog, members - away, None, frozenset(), frozenset(),
                            _loads_without(catalog, table, spec.name))
            if target is None:
                return Refusal.NO_OTHER_NODE
        new = replace(entry, enabled=True, disabled_by=None, avoid=frozenset())
        if target is not None and target != entry.placement:
            new = replace(new, placement=target, since=seq, go=False)
    out = dict(table)
    out[spec.name] = new
    return out


def apply_recovery(request: RecoveryRequest, sender: str, table: Table) -> dict[str, Entry]:
    entry = table.get(request.service)
    if entry is None:
        return dict(table)
    out = dict(table)
    if request.op is RecoveryOp.DISABLE:
        out[request.service] = replace(entry, enabled=False, disabled_by=DisabledBy.RECOVERY)
    else:
        out[request.service] = replace(entry, avoid=entry.avoid | {sender})
    return out
