"""The model as a Pacemaker CIB (schema pacemaker-3.7 or later: `Promoted` roles, promotable clones)."""
from __future__ import annotations

from lxml import etree

from hbd.convert.model import Cluster, Op, Pairs, Primitive

VALIDATE_WITH = "pacemaker-3.7"


def _nvset(parent: etree._Element, tag: str, set_id: str, pairs: Pairs) -> None:
    if not pairs:
        return
    box = etree.SubElement(parent, tag, id=set_id)
    for name, value in pairs:
        etree.SubElement(box, "nvpair", id=f"{set_id}-{name}", name=name, value=value)


def _op_id(rid: str, op: Op) -> str:
    return f"{rid}-{op.name}-{op.interval_s}s" + (f"-{op.role.lower()}" if op.role else "")


def _primitive(parent: etree._Element, p: Primitive) -> None:
    if p.source:
        parent.append(etree.Comment(f" {p.source.replace('--', '- -')} "))
    attrs = {"id": p.id, "class": p.cls, "type": p.type}
    if p.provider:
        attrs["provider"] = p.provider
    elem = etree.SubElement(parent, "primitive", attrs)
    _nvset(elem, "instance_attributes", f"{p.id}-instance_attributes", p.params)
    _nvset(elem, "meta_attributes", f"{p.id}-meta_attributes", p.meta)
    if p.ops:
        ops = etree.SubElement(elem, "operations")
        for op in p.ops:
            a = {"id": _op_id(p.id, op), "name": op.name, "interval": f"{op.interval_s}s", "timeout": f"{op.timeout_s}s"}
            if op.role:
                a["role"] = op.role
            etree.SubElement(ops, "op", a)


def to_cib(c: Cluster) -> str:
    cib = etree.Element("cib", {"validate-with": VALIDATE_WITH, "epoch": "1", "num_updates": "0",
                                "admin_epoch": "0"})
    for note in c.notes:
        cib.append(etree.Comment(f" NOTE: {note} "))
    conf = etree.SubElement(cib, "configuration")
    crm = etree.SubElement(conf, "crm_config")
    _nvset(crm, "cluster_property_set", "cib-bootstrap-options", c.properties)
    nodes = etree.SubElement(conf, "nodes")
    for i, name in enumerate(c.nodes, start=1):
        etree.SubElement(nodes, "node", id=str(i), uname=name)
    resources = etree.SubElement(conf, "resources")
    for s in c.stonith:
        _primitive(resources, s)
    for clone in c.clones:
        elem = etree.SubElement(resources, "clone", id=clone.id)
        _nvset(elem, "meta_attributes", f"{clone.id}-meta_attributes", clone.meta)
        _primitive(elem, clone.primitive)
    for g in c.groups:
        elem = etree.SubElement(resources, "group", id=g.id)
        _nvset(elem, "meta_attributes", f"{g.id}-meta_attributes", g.meta)
        for member in g.members:
            _primitive(elem, member)
    cons = etree.SubElement(conf, "constraints")
    for loc in c.locations:
        etree.SubElement(cons, "rsc_location", id=loc.id, rsc=loc.rsc, node=loc.node, score=loc.score)
    for col in c.colocations:
        a = {"id": col.id, "rsc": col.rsc, "with-rsc": col.with_rsc, "score": col.score}
        if col.with_role:
            a["with-rsc-role"] = col.with_role
        etree.SubElement(cons, "rsc_colocation", a)
    for o in c.orders:
        etree.SubElement(cons, "rsc_order", {"id": o.id, "first": o.first, "then": o.then, "kind": "Mandatory",
                                             "first-action": o.first_action, "then-action": o.then_action})
    if c.levels:
        topo = etree.SubElement(conf, "fencing-topology")
        for lv in c.levels:
            etree.SubElement(topo, "fencing-level", id=lv.id, target=lv.target, index=str(lv.index),
                             devices=",".join(lv.devices))
    if c.rsc_defaults:
        rd = etree.SubElement(conf, "rsc_defaults")
        _nvset(rd, "meta_attributes", "rsc-options", c.rsc_defaults)
    etree.SubElement(cib, "status")
    return etree.tostring(cib, pretty_print=True, xml_declaration=False, encoding="unicode")
