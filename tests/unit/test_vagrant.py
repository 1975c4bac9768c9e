"""vagrant/: `vagrant validate` accepts the Vagrantfile; the provisioning scripts parse; only documentation
address ranges are used."""
from __future__ import annotations

import ipaddress
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

VAGRANT = Path(__file__).resolve().parents[2] / "vagrant"
ALLOWED = [ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24")]


@pytest.mark.skipif(shutil.which("vagrant") is None, reason="vagrant not installed (tests/apt-packages)")
def test_vagrant_validate(tmp_path: Path) -> None:
    env = {**os.environ, "VAGRANT_HOME": str(tmp_path / "vagrant.d"), "VAGRANT_CHECKPOINT_DISABLE": "1"}
    done = subprocess.run(["vagrant", "validate"], cwd=VAGRANT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Vagrantfile validated successfully." in done.stdout


def test_provisioning_scripts_parse() -> None:
    for script in VAGRANT.glob("provision-*.sh"):
        assert subprocess.run(["sh", "-n", str(script)], timeout=30).returncode == 0, script


def test_only_documentation_addresses() -> None:
    for path in VAGRANT.iterdir():
        if path.is_file():
            for text in re.findall(r"\b\d{1,3}(?:\.\d{1,3}){3}\b", path.read_text()):
                addr = ipaddress.ip_address(text)
                assert any(addr in net for net in ALLOWED), f"{path.name}: {text}"
