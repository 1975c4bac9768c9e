"""doc/threat-model.md and the tests stay in step: every test the document names exists, and every section
of it names at least one test (the document says which test checks each point)."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "doc" / "threat-model.md"
REFERENCE = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def sections() -> dict[str, str]:
    parts = re.split(r"^## (.+)$", DOC.read_text(), flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def test_every_test_the_threat_model_names_exists() -> None:
    references = REFERENCE.findall(DOC.read_text())
    assert len(references) >= 15, references
    missing = []
    for path, name in references:
        source = ROOT / path
        if not source.is_file() or not re.search(rf"^def {name}\(", source.read_text(), flags=re.M):
            missing.append(f"{path}::{name}")
    assert missing == [], f"doc/threat-model.md names tests that do not exist: {missing}"


def test_every_section_names_a_test() -> None:
    found = sections()
    for required in ("Who can send to the heartbeat port", "What crc means", "Replay", "Who can read logs",
                     "Local users", "The control socket"):
        assert required in found, sorted(found)
    assert any(title.startswith("Floods") for title in found)
    unchecked = [t for t, body in found.items() if t != "What hbd does not protect against" and not REFERENCE.search(body)]
    assert unchecked == [], f"sections of doc/threat-model.md with no test: {unchecked}"
