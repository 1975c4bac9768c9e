"""Generation and UUID files: Heartbeat's formats, bumped on every start, durable, bad content refused."""
from __future__ import annotations

from pathlib import Path

import pytest

from hbd.runtime import state


def test_first_start_seeds_from_clock_then_increments(tmp_path: Path) -> None:
    first = state.load_identity(tmp_path)
    assert first.notes[0] == ("WARN", f"No Previous generation - starting at {first.generation}")
    assert first.generation > 1_600_000_000
    second = state.load_identity(tmp_path)
    assert second.generation == first.generation + 1
    assert second.notes == (("info", f"Heartbeat generation: {second.generation}"),)
    assert second.uuid == first.uuid and len(first.uuid) == 16


def test_generation_file_format_is_heartbeats(tmp_path: Path) -> None:
    (tmp_path / "hb_generation").write_bytes(b"             41\n")
    identity = state.load_identity(tmp_path)
    assert identity.generation == 42
    data = (tmp_path / "hb_generation").read_bytes()
    assert data == b"             42\n" and len(data) == 16
    assert not list(tmp_path.glob("*.tmp"))


def test_bad_generation_or_uuid_is_refused_and_left_alone(tmp_path: Path) -> None:
    (tmp_path / "hb_generation").write_bytes(b"garbage\n")
    with pytest.raises(state.StateError, match="hb_generation"):
        state.load_identity(tmp_path)
    assert (tmp_path / "hb_generation").read_bytes() == b"garbage\n"
    (tmp_path / "hb_generation").write_bytes(b"5\n")
    (tmp_path / "hb_uuid").write_bytes(b"short")
    with pytest.raises(state.StateError, match="16"):
        state.load_identity(tmp_path)
