"""Fuzzing the cluster.conf loader: random bytes and mutated valid files never raise anything but ConfigError."""
from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hbd.config.clusterconf import load_cluster_conf
from hbd.config.clusterdump import resource_list, resource_tree
from hbd.config.rules import child_type_table
from hbd.core.ordering import start_plan, stop_plan
from hbd.errors import ConfigError, Problems

DATA = Path(__file__).resolve().parent.parent / "data"
SAMPLES = [
    (DATA / "cluster" / "seed-004.conf").read_bytes(),
    (DATA / "cluster" / "tv" / "tv05.conf").read_bytes(),
    (DATA / "cluster" / "tv" / "tv17.conf").read_bytes(),
    (DATA / "rgmanager-upstream" / "test018.conf").read_bytes(),
]
TOKENS = [b"<", b">", b"/>", b"</service>", b'<service name="x">', b'<ip ref="10.0.0.1"/>', b'<script ref="inl"/>',
          b'<fs name="f" device="/d" mountpoint="/m">', b"</fs>", b'"', b"&", b"&amp;", b"<!--", b"-->", b"\x00",
          b"\xff\xfe", b'__independent_subtree="2"', b"<resources>", b"</resources>", b"<rm>", b"</rm>", b" "]


def _exercise(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cluster.conf"
        path.write_bytes(data)
        problems = Problems()
        try:
            conf = load_cluster_conf(path, problems)
        except ConfigError as exc:
            assert exc.problems and exc.errors
            return
        types = child_type_table()
        for root in conf.roots:
            assert len(start_plan(root, types)) == len(stop_plan(root, types))
        resource_tree(conf.roots)
        resource_list(conf.resources)
        for problem in problems.items:
            assert problem.file == str(path)


FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(st.binary(max_size=2000))
def test_random_bytes(data: bytes) -> None:
    _exercise(data)


@FUZZ
@given(st.sampled_from(SAMPLES), st.lists(
    st.tuples(st.integers(min_value=0, max_value=4000), st.integers(min_value=0, max_value=40),
              st.sampled_from(TOKENS)), max_size=6))
def test_mutated_xml(sample: bytes, edits: list[tuple[int, int, bytes]]) -> None:
    data = sample
    for at, cut, token in edits:
        at %= len(data) + 1
        data = data[:at] + token + data[at + cut:]
    _exercise(data)
