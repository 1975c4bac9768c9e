"""Every configuration parser is bounded: file size, line length, group count; a FIFO or a device is an error.

A 50 MB haresources used to take 1.8 GB of RSS, a minute and a traceback; a FIFO given as a file hung.
"""
from __future__ import annotations

import os
import time
import tracemalloc
from pathlib import Path

import pytest

from hbd.cli.main import dispatch
from hbd.config import load
from hbd.config.haresources import MAX_GROUPS
from hbd.config.textfile import MAX_FILE_BYTES, MAX_LINE_CHARS
from hbd.errors import ConfigError
from heartbeat_files import HACF, write_dir

CLUSTER_CONF = Path(__file__).resolve().parent.parent / "data" / "cluster" / "seed-004.conf"


def refused(directory: Path | str, node: str = "n1") -> list[str]:
    with pytest.raises(ConfigError) as exc:
        load(directory, node)
    return [str(p) for p in exc.value.errors]


@pytest.mark.parametrize("name", ["ha.cf", "authkeys", "haresources"])
def test_a_50_mb_file_is_refused_quickly_and_in_little_memory(tmp_path: Path, name: str) -> None:
    directory = write_dir(tmp_path)
    with open(directory / name, "r+b") as fh:  # the real start of the file, then 50 MB of a comment line
        fh.seek(0, os.SEEK_END)
        fh.write(b"#" + b"x" * (50 * 1024 * 1024) + b"\n")
    tracemalloc.start()
    began = time.monotonic()
    try:
        errors = refused(directory)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert any(f"{name}: error: " in e and "larger than 1 MiB" in e for e in errors), errors
    assert peak < 4 * MAX_FILE_BYTES, peak  # at most the limit is ever read
    assert time.monotonic() - began < 10


def test_a_50_mb_cluster_conf_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cluster.conf"
    path.write_bytes(CLUSTER_CONF.read_bytes() + b"<!--" + b"x" * (50 * 1024 * 1024) + b"-->")
    (error,) = refused(path)
    assert "larger than" in error


@pytest.mark.parametrize("name", ["ha.cf", "authkeys", "haresources", "nodeinfo"])
def test_a_fifo_in_place_of_a_file_does_not_hang(tmp_path: Path, name: str) -> None:
    directory = write_dir(tmp_path)
    (directory / name).unlink(missing_ok=True)
    os.mkfifo(directory / name, 0o600)
    began = time.monotonic()
    if name == "nodeinfo":  # not a node name: the local name falls back to `uname -n`, with no wait
        assert dispatch(["config", "check", "-c", str(directory)]) == 1  # uname -n is not n1 or n2
    else:
        errors = refused(directory)
        assert any(f"{name}: error: " in e and "a FIFO, not a regular file" in e for e in errors), errors
    assert time.monotonic() - began < 10


@pytest.mark.parametrize("path", ["/dev/zero", "/dev/null"])
def test_a_device_given_as_the_configuration_is_refused(capsys: pytest.CaptureFixture[str], path: str) -> None:
    assert dispatch(["config", "check", "-c", path]) == 1
    assert f"{path}: error: not a regular file or a directory" in capsys.readouterr().out


def test_a_device_in_place_of_ha_cf_is_refused(tmp_path: Path) -> None:
    directory = write_dir(tmp_path)
    (directory / "ha.cf").unlink()
    (directory / "ha.cf").symlink_to("/dev/zero")
    assert any("a device, not a regular file" in e for e in refused(directory))


@pytest.mark.parametrize("name", ["ha.cf", "authkeys", "haresources"])
def test_an_overlong_line_is_an_error_with_its_number(tmp_path: Path, name: str) -> None:
    directory = write_dir(tmp_path)
    with open(directory / name, "a") as fh:
        fh.write("# " + "y" * MAX_LINE_CHARS + "\n")
    lines = (directory / name).read_text().count("\n")
    errors = refused(directory)
    assert f"{directory / name}:{lines}: error: line longer than {MAX_LINE_CHARS} characters" in " ".join(errors)


def test_too_many_groups(tmp_path: Path) -> None:
    text = "".join(f"n1 svc{i}\n" for i in range(MAX_GROUPS + 5))
    errors = refused(write_dir(tmp_path, HACF, haresources=text))
    assert errors == [f"{tmp_path / 'ha.d' / 'haresources'}:{MAX_GROUPS + 1}: error: more than {MAX_GROUPS} "
                      f"resource groups: the rest is not read"]


def test_many_groups_with_shared_resources_are_checked_in_linear_time(tmp_path: Path) -> None:
    # every group names the same resource after its key: the ambiguity check used to be quadratic
    text = "".join(f"n1 svc{i} shared svc{(i + 1) % MAX_GROUPS}\n" for i in range(MAX_GROUPS))
    began = time.monotonic()
    loaded = load(write_dir(tmp_path, HACF, haresources=text), "n1")
    assert loaded.heartbeat is not None and len(loaded.heartbeat.groups) == MAX_GROUPS
    assert sum("also appears in this group" in p.text for p in loaded.problems) == MAX_GROUPS
    assert time.monotonic() - began < 20
