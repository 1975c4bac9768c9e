"""Checks a parsed cluster.conf against hbd's schema: clear structural checks first, then RELAX NG.

Our own walk comes first because it names the element and attribute in plain words ("unknown attribute
'adress' on <ip>"); it covers the resource trees, the sections of SECTION_ATTRS, nodes, fence devices and
failover domains. libxml2's RELAX NG messages (hbd/config/cluster.rng) are the backstop for the rest.
"""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

from lxml import etree

from hbd.config.clusterrng import NODE_OPTIONS, SECTION_ATTRS
from hbd.config.rules import Rule, builtin_rules
from hbd.errors import Problems

RNG_PATH = Path(__file__).with_name("cluster.rng")
RM_SECTIONS = ("failoverdomains", "events", "resources", "resource-defaults")
ROOT_TYPES = ("service", "vm")


@lru_cache(maxsize=1)
def relaxng() -> etree.RelaxNG:
    return etree.RelaxNG(etree.parse(str(RNG_PATH)))


_DATATYPE_WORDS = {"integer": "a whole number", "nonNegativeInteger": "a whole number 0 or more",
                   "positiveInteger": "a whole number 1 or more"}


def _fits(value: str, datatype: str) -> bool:
    text = value.strip()
    number = text[1:] if datatype == "integer" and text[:1] in "+-" else text
    if not number.isdigit():
        return False
    return datatype != "positiveInteger" or int(number) > 0


class _Walker:
    """Checks the `<rm>` part against the rule table and says what is wrong in words."""

    def __init__(self, file: str, problems: Problems, rules: dict[str, Rule]):
        self.file, self.problems, self.rules = file, problems, rules
        self.found = 0

    def error(self, elem: Any, text: str) -> None:
        self.found += 1
        self.problems.error(self.file, elem.sourceline, text)

    def cluster(self, root: Any) -> None:
        for name in ("name", "config_version"):
            if root.get(name) is None:
                self.error(root, f"<cluster> needs attribute '{name}'")
        version = root.get("config_version")
        if version is not None and not version.strip().isdigit():
            self.error(root, f"config_version must be a whole number, not '{version}'")
        for elem in root.iterchildren("cman", "fence_daemon"):
            self.section(elem)
        for device in root.iterfind("fencedevices/fencedevice"):
            for name in ("name", "agent"):
                if device.get(name) is None:
                    self.error(device, f"<fencedevice> needs attribute '{name}'")
        sections = list(root.iterchildren("clusternodes"))
        if not sections:
            self.error(root, "<cluster> needs a <clusternodes> section listing the nodes")
        for node in (n for s in sections for n in s.iterchildren("clusternode")):
            for name in ("name", "nodeid"):
                if node.get(name) is None:
                    self.error(node, f"<clusternode> needs attribute '{name}'")
            nodeid = node.get("nodeid")
            if nodeid is not None and not (nodeid.strip().isdigit() and int(nodeid) > 0):
                self.error(node, f"nodeid must be a positive whole number, not '{nodeid}'")

    def section(self, elem: Any) -> None:
        """cman, fence_daemon, rm: known attributes with the datatypes of SECTION_ATTRS."""
        types = dict(SECTION_ATTRS[elem.tag])
        for name, value in elem.attrib.items():
            if name not in types:
                self.error(elem, f"unknown attribute '{name}' on <{elem.tag}>")
            elif (kind := types[name]) is not None and not _fits(value, kind):
                self.error(elem, f"{elem.tag} {name} must be {_DATATYPE_WORDS[kind]}, not '{value}'")

    def domains(self, rm: Any) -> None:
        for dom in rm.iterfind("failoverdomains/failoverdomain"):
            if dom.get("name") is None:
                self.error(dom, "<failoverdomain> needs attribute 'name'")
            for member in dom.iterchildren("failoverdomainnode"):
                if member.get("name") is None:
                    self.error(member, "<failoverdomainnode> needs attribute 'name'")
                priority = member.get("priority")
                if priority is not None and not _fits(priority, "integer"):
                    self.error(member, f"failoverdomainnode priority must be a whole number, not '{priority}'")

    def rm(self, rm: Any) -> None:
        self.section(rm)
        self.domains(rm)
        for kid in rm:
            if not isinstance(kid.tag, str):
                continue
            if kid.tag in ROOT_TYPES:
                self.resource(kid)
            elif kid.tag == "resources":
                for res in (k for k in kid if isinstance(k.tag, str)):
                    self.resource(res, defining=True)
            elif kid.tag == "resource-defaults":
                for res in (k for k in kid if isinstance(k.tag, str)):
                    self.default(res)
            elif kid.tag in RM_SECTIONS:
                continue
            elif kid.tag in self.rules:
                self.error(kid, f"<{kid.tag}> cannot stand directly in <rm>: put it inside a <service> or in <resources>")
            else:
                self.error(kid, f"unknown element <{kid.tag}> in <rm>")

    def resource(self, elem: Any, defining: bool = False) -> None:
        rule = self.rules.get(elem.tag)
        if rule is None:
            self.error(elem, f"unknown element <{elem.tag}>: no resource agent of that name")
            return
        if elem.get("ref") is not None and not defining:
            extra = [a for a in elem.attrib if a != "ref" and a not in NODE_OPTIONS]
            if extra:
                self.error(elem, f"attribute '{extra[0]}' on <{elem.tag} ref=...> is ignored: "
                                 "set it where the resource is defined")
        else:
            known = {p.name for p in rule.params} | set(NODE_OPTIONS)
            unknown = [a for a in elem.attrib if a not in known]
            missing = [p.name for p in rule.params if (p.primary or p.required) and elem.get(p.name) is None]
            if unknown:
                self.error(elem, f"unknown attribute '{unknown[0]}' on <{elem.tag}>")
            elif missing:
                self.error(elem, f"<{elem.tag}> needs attribute '{missing[0]}'")
        for kid in elem:
            if not isinstance(kid.tag, str):
                continue
            if kid.tag == "action":
                if kid.get("name") is None:
                    self.error(kid, "<action> needs attribute 'name'")
            else:
                self.resource(kid)

    def default(self, elem: Any) -> None:
        rule = self.rules.get(elem.tag)
        if rule is None:
            self.error(elem, f"unknown element <{elem.tag}> in <resource-defaults>")
            return
        allowed = {p.name for p in rule.params if not (p.primary or p.unique)}
        bad = [a for a in elem.attrib if a not in allowed]
        if bad:
            self.error(elem, f"<resource-defaults> cannot set '{bad[0]}' for <{elem.tag}> "
                             "(unknown, primary or unique attribute)")


def validate(root: Any, file: str, problems: Problems, rules: dict[str, Rule] | None = None) -> bool:
    """Record schema problems of a parsed cluster.conf; True when it is valid."""
    table = builtin_rules() if rules is None else rules
    if root.tag != "cluster":
        problems.error(file, root.sourceline, f"the top element is <{root.tag}>; a cluster.conf starts with <cluster>")
        return False
    walker = _Walker(file, problems, table)
    walker.cluster(root)
    for rm in root.iterchildren("rm"):
        walker.rm(rm)
    if walker.found:
        return False
    schema = relaxng()
    if schema.validate(root.getroottree()):
        return True
    entries = list(schema.error_log)
    if not entries:
        problems.error(file, None, "does not match the cluster.conf schema")
        return False
    # libxml2 loses the line inside <interleave>; the enclosing element's line is the best we have then
    line = next((e.line for e in entries if e.line), None)
    problems.error(file, line, f"does not match the cluster.conf schema: {entries[0].message}")
    return False
