"""Configuration loading: one entry point for both formats.

`load(path, node)` decides the format the way a sysadmin expects:
- a file: cluster.conf if it is XML (starts with `<` after white space), else an error;
- a directory: `DIR/cluster.conf` if present, else the Heartbeat trio `ha.cf`, `authkeys`, `haresources`;
- nothing given: `/etc/cluster/cluster.conf` if present, else `/etc/ha.d/`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hbd.config.model import HeartbeatConfig, ResourceNode
from hbd.errors import ConfigError, Problem, Problems

DEFAULT_CLUSTER_CONF = Path("/etc/cluster/cluster.conf")
DEFAULT_HA_DIR = Path("/etc/ha.d")


@dataclass(frozen=True)
class LoadedConfig:
    kind: str  # "heartbeat" | "cluster.conf"
    path: str
    heartbeat: HeartbeatConfig | None
    cluster: object | None  # hbd.config.clusterconf.ClusterConf
    problems: tuple[Problem, ...]  # warnings (errors raise ConfigError)


def locate(path: str | Path | None) -> tuple[str, Path]:
    """Return ("cluster.conf", file) or ("heartbeat", directory) for what `path` names."""
    if path is None:
        if DEFAULT_CLUSTER_CONF.is_file():
            return "cluster.conf", DEFAULT_CLUSTER_CONF
        return "heartbeat", DEFAULT_HA_DIR
    p = Path(path)
    try:
        return _locate(p)
    except OSError as exc:  # a name too long, a loop of symbolic links...
        raise ConfigError([Problem(str(p)[:200], None, "error", exc.strerror or str(exc))]) from None


def _locate(p: Path) -> tuple[str, Path]:
    if p.is_dir():
        if (p / "cluster.conf").is_file():
            return "cluster.conf", p / "cluster.conf"
        return "heartbeat", p
    if p.is_file():
        if p.name == "ha.cf":
            return "heartbeat", p.parent
        return "cluster.conf", p
    if p.exists():
        raise ConfigError([Problem(str(p), None, "error", "not a regular file or a directory")])
    raise ConfigError([Problem(str(p), None, "error", "no such file or directory")])


def load(path: str | Path | None = None, node: str | None = None, *, need_authkeys: bool = True) -> LoadedConfig:
    """Load and validate a configuration; raise ConfigError with every problem when it is unusable."""
    kind, where = locate(path)
    problems = Problems()
    if kind == "cluster.conf":
        from hbd.config.clusterconf import load_cluster_conf

        cluster = load_cluster_conf(where, problems)
        problems.raise_if_errors()
        return LoadedConfig(kind, str(where), None, cluster, tuple(problems.items))
    from hbd.config.heartbeat import load_heartbeat_dir

    hb = load_heartbeat_dir(where, problems, node=node, need_authkeys=need_authkeys)
    problems.raise_if_errors()
    return LoadedConfig(kind, str(where), hb, None, tuple(problems.items))


def service_roots(cfg: LoadedConfig) -> tuple[ResourceNode, ...]:
    """The resource trees of a loaded config: cluster.conf roots, or one `group` node per haresources line."""
    if cfg.cluster is not None:
        return tuple(cfg.cluster.roots)  # type: ignore[attr-defined]
    from hbd.config.haresources import group_tree

    assert cfg.heartbeat is not None
    return tuple(group_tree(g) for g in cfg.heartbeat.groups)
