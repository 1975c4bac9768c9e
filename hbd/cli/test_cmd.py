"""`hbd test`: rg_test's forms. Show (noop) or run (test) start/stop/status plans; dump trees and rules.

    hbd test noop|test start|stop|status TYPE NAME [-c PATH] [--node NAME]
    hbd test tree [-c PATH]
    hbd test rules
    hbd test delta OLD NEW

Output follows rg_test: `Running in test mode.` on stderr first, the loader's Error/Warning lines on stdout,
then `Starting NAME...`, one `[start] type:primary` line per resource, `Start of NAME complete`.
Deliberate differences: a file that is not well-formed XML and an unknown target exit 1 (rg_test exits 0).
"""
from __future__ import annotations

import importlib
import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, TextIO

from hbd.config import load, locate, service_roots
from hbd.config.model import ResourceNode
from hbd.core.ordering import Op, Step, targeted_plan
from hbd.errors import ConfigError, Problems

if TYPE_CHECKING:
    from hbd.config.clusterconf import ClusterConf

USAGE = """usage: hbd test noop|test start|stop|status TYPE NAME [-c PATH] [--node NAME] [--force]
       hbd test tree [-c PATH]
       hbd test rules
       hbd test delta OLD NEW

  noop      print what would be done, run nothing
  test      run the resource agents for real (on one node, with the cluster stopped)
  tree      print the resource list, the resource trees and the failover domains
  rules     print the built-in resource rules (agent parameters, actions, child types)
  delta     compare two cluster.conf files: which resources a change stops, starts or reconfigures

  TYPE NAME names a resource, e.g. `service database` or `script httpd`; with Heartbeat files TYPE is
  `service` and NAME a haresources group (its first resource as written, or its line number).
  -c PATH   cluster.conf, or a directory holding cluster.conf or ha.cf + haresources
            (default: /etc/cluster/cluster.conf if present, else /etc/ha.d/)
  --node    the local node name for Heartbeat files (default: this host's name)
  --force   with `test`: do not ask before running the agents
"""
OPS: dict[str, Op] = {"start": "start", "stop": "stop", "status": "status"}
WORDS = {"start": ("Starting", "Start of {} complete", "Failed to start {}"),
         "stop": ("Stopping", "Stop of {} complete", None),
         "status": ("Checking status of", "Status of {} is good", "Status check of {} failed")}


class UsageError(Exception):
    pass


@dataclass(frozen=True)
class Args:
    words: tuple[str, ...]
    config: str | None
    node: str | None
    force: bool = False


@dataclass(frozen=True)
class Target:
    """What a plan runs on: its steps, how to label a step, which steps to show."""

    name: str
    steps: tuple[Step, ...]
    label: Callable[[ResourceNode], str]
    shown: Callable[[Step], bool]


def parse_args(argv: list[str]) -> Args | None:
    words: list[str] = []
    config = node = None
    force = False
    it = iter(argv)
    for arg in it:
        if arg in ("-h", "--help"):
            return None
        if arg == "--force":
            force = True
            continue
        if arg in ("-c", "--config", "--node"):
            value = next(it, None)
            if value is None:
                raise UsageError(f"{arg} needs a value")
            if arg == "--node":
                node = value
            else:
                config = value
        elif arg.startswith("--config="):
            config = arg.split("=", 1)[1]
        elif arg.startswith("--node="):
            node = arg.split("=", 1)[1]
        elif arg.startswith("-") and arg != "-":
            raise UsageError(f"unknown option {arg}")
        else:
            words.append(arg)
    # rg_test's own form: `noop CONF start TYPE NAME` and `test CONF` (no op: the dumps)
    if len(words) >= 2 and words[0] in ("noop", "test") and words[1] not in OPS and config is None:
        config = words.pop(1)
        if len(words) == 1:
            words = ["tree"]
    return Args(tuple(words), config, node, force)


def _say(stream: TextIO, lines: list[str] | tuple[str, ...]) -> None:
    for line in lines:
        print(line, file=stream)


def _cluster_target(conf: ClusterConf, op: Op, rtype: str, name: str) -> Target | None:
    from hbd.config.rules import builtin_rules, child_type_table

    rules = builtin_rules()
    resource = conf.find(rtype, name, rules)
    if resource is None:
        return None
    primary = resource.primary

    def shown(step: Step) -> bool:
        node_rule = rules.get(step.node.type)
        if node_rule is None:
            return True
        if step.op == "status":
            return any(a.name == "status" and a.interval > 0 for a in node_rule.actions)
        return node_rule.has_action(step.op)

    steps = targeted_plan(op, conf.roots, lambda n: n.type == rtype and n.primary == primary, child_type_table())
    return Target(name, steps, lambda n: n.ident, shown)


def _resolve(args: Args, op: Op, rtype: str, name: str) -> tuple[Target | None, list[str], int]:
    """Load the configuration; return the target plan (None if not found), stdout lines, exit code."""
    from hbd.config.rules import child_type_table

    kind, where = locate(args.config)
    if kind == "cluster.conf":
        from hbd.config.clusterconf import load_cluster_conf

        problems = Problems()
        try:
            conf = load_cluster_conf(where, problems)
        except ConfigError as exc:
            _say(sys.stderr, [str(p) for p in exc.errors])
            return None, [f"Error parsing {where}"], 1
        _say(sys.stderr, conf.notes)
        return _cluster_target(conf, op, rtype, name), list(conf.messages), 0
    cfg = load(where, args.node, need_authkeys=False)
    roots = service_roots(cfg)
    assert cfg.heartbeat is not None
    group = cfg.heartbeat.group(name) if rtype in ("service", "group") else None
    if group is None:
        return None, [], 0
    chosen = roots[cfg.heartbeat.groups.index(group)]
    steps = targeted_plan(op, roots, lambda n: n is chosen, child_type_table())
    return Target(group.key, steps, lambda n: n.primary, lambda s: s.node.type != "group"), [], 0


def _noop_runner(step: Step) -> bool:
    return True


def choose_runner(mode: str) -> Callable[[Step], bool] | None:
    """noop prints only; test runs each step through the agents (None when they are not installed)."""
    if mode == "noop":
        return _noop_runner
    try:
        executor = importlib.import_module("hbd.agents.executor")
    except ModuleNotFoundError:
        return None
    return executor.run_step  # type: ignore[no-any-return]


def confirmed(force: bool) -> bool:
    """Real execution changes this machine (addresses, mounts, services): ask first, unless --force."""
    if force:
        return True
    warning = ("hbd test test runs the resource agents for real on this machine: it adds addresses, mounts "
               "file systems and starts services. Stop the cluster on this node first.")
    if not sys.stdin.isatty():
        print(f"{warning}\nAdd --force to go ahead.", file=sys.stderr)
        return False
    print(f"{warning}\nGo ahead? [y/N] ", end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def run_op(args: Args, mode: str, op: Op, rtype: str, name: str) -> int:
    print("Running in test mode.", file=sys.stderr)
    if mode == "test" and not confirmed(args.force):
        return 1
    runner = choose_runner(mode)
    if runner is None:
        print("hbd test: running agents for real needs hbd.agents.executor, which is not installed", file=sys.stderr)
        return 1
    target, lines, code = _resolve(args, op, rtype, name)
    _say(sys.stdout, lines)
    if code:
        return code
    if target is None:
        print(f"No resource {name} of type {rtype} found")
        return 1
    begin, done, failed = WORDS[op]
    print(f"{begin} {target.name}...")
    ok = True
    for step in target.steps:
        if not target.shown(step):  # the agent has no such action (or the node is a haresources group)
            continue
        if mode == "noop":
            print(f"[{step.op}] {target.label(step.node)}")
        if not runner(step):
            ok = False
            if op != "stop":  # a failed start or status ends the walk; stop goes on with the rest
                break
    if ok:
        print(done.format(target.name))
        return 0
    if failed:
        print(failed.format(target.name))
    return 1


def run_tree(args: Args) -> int:
    from hbd.config import clusterdump
    from hbd.config.clusterconf import load_cluster_conf
    from hbd.config.rules import builtin_rules

    print("Running in test mode.", file=sys.stderr)
    kind, where = locate(args.config)
    if kind != "cluster.conf":
        cfg = load(where, args.node, need_authkeys=False)
        print("=== Resource Tree ===")
        _say(sys.stdout, clusterdump.resource_tree(service_roots(cfg)))
        return 0
    problems = Problems()
    try:
        conf = load_cluster_conf(where, problems)
    except ConfigError as exc:
        _say(sys.stderr, [str(p) for p in exc.errors])
        print(f"Error parsing {where}")
        return 1
    _say(sys.stderr, conf.notes)
    _say(sys.stdout, conf.messages)
    if conf.resources:
        print("=== Resources List ===")
        _say(sys.stdout, clusterdump.resource_list(conf.resources))
    print("=== Resource Tree ===")
    _say(sys.stdout, clusterdump.resource_tree(conf.roots))
    print(f"Loaded {len(builtin_rules())} resource rules", file=sys.stderr)
    if conf.domains:
        print("=== Failover Domains ===")
        _say(sys.stdout, clusterdump.failover_domains(conf.domains, conf.nodes))
    return 0


def _load_for_dump(path: str) -> ClusterConf | None:
    """A cluster.conf for the dumps, its messages printed; None (after `Error parsing`) if unreadable."""
    from hbd.config.clusterconf import load_cluster_conf

    kind, where = locate(path)
    if kind != "cluster.conf":
        raise UsageError(f"{path}: delta compares two cluster.conf files")
    try:
        conf = load_cluster_conf(where, Problems())
    except ConfigError as exc:
        _say(sys.stderr, [str(p) for p in exc.errors])
        print(f"Error parsing {where}")
        return None
    _say(sys.stdout, conf.messages)
    return conf


def run_delta(old_path: str, new_path: str) -> int:
    from hbd.config import clusterdump
    from hbd.config.clusterdelta import resource_delta

    print("Running in resource tree delta test mode.", file=sys.stderr)
    old = _load_for_dump(old_path)
    new = _load_for_dump(new_path)
    if old is None or new is None:
        return 1
    delta = resource_delta(old, new)
    print("=== Old Resource List ===")
    _say(sys.stdout, clusterdump.resource_list(delta.old_resources))
    print("=== New Resource List ===")
    _say(sys.stdout, clusterdump.resource_list(delta.new_resources))
    print("=== Old Resource Tree ===")
    _say(sys.stdout, clusterdump.resource_tree(delta.old_roots))
    print("=== New Resource Tree ===")
    _say(sys.stdout, clusterdump.resource_tree(delta.new_roots))
    return 0


def run_rules() -> int:
    from hbd.config import clusterdump
    from hbd.config.rules import builtin_rules

    print("Running in rules mode.", file=sys.stderr)
    print(f"Loaded {len(builtin_rules())} resource rules", file=sys.stderr)
    _say(sys.stdout, clusterdump.rules_dump())
    return 0


def main(argv: list[str]) -> int:
    try:
        args = parse_args(argv)
        if args is None:
            print(USAGE, end="")
            return 0
        words = args.words
        if words == ("rules",):
            return run_rules()
        if words == ("tree",):
            return run_tree(args)
        if len(words) == 3 and words[0] == "delta":
            return run_delta(words[1], words[2])
        if len(words) == 4 and words[0] in ("noop", "test") and words[1] in OPS:
            return run_op(args, words[0], OPS[words[1]], words[2], words[3])
        raise UsageError("expected `noop|test start|stop|status TYPE NAME`, `tree` or `rules`"
                         if words else "missing arguments")
    except UsageError as exc:
        print(f"hbd test: {exc}\n", file=sys.stderr)
        print(USAGE, end="", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # `hbd test ... | head`: the reader left; stop quietly, and keep Python's exit flush from failing too
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
