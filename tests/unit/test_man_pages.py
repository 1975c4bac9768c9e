"""The man pages stay in step with the command line: every subcommand of `hbd` is described in hbd(8), hbd(8)
describes none that is gone, and every installed command has a page the package ships."""
from __future__ import annotations

import configparser
import re
from pathlib import Path

from hbd.cli.main import SUBCOMMANDS

ROOT = Path(__file__).resolve().parents[2]
MAN = ROOT / "doc" / "man"


def _section(page: str, name: str) -> list[str]:
    lines = page.splitlines()
    start = lines.index(f".SH {name}")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith(".SH ")), len(lines))
    return lines[start + 1:end]


def _plain(troff: str) -> str:
    """Text of a troff line without the font escapes (\\fB, \\fR, \\fI) and with \\- as -."""
    return re.sub(r"\\f[BRIP]", "", troff.replace("\\-", "-")).removeprefix(".B ").strip()


def man_subcommands(page: str) -> set[str]:
    """The names each .TP tag of SUBCOMMANDS starts with ("demo, lab, membership" names three)."""
    body = _section(page, "SUBCOMMANDS")
    names: set[str] = set()
    for i, line in enumerate(body):
        if line != ".TP" or i + 1 >= len(body):
            continue
        for word in _plain(body[i + 1]).split():
            names.add(word.rstrip(","))
            if not word.endswith(","):
                break
    return names


def test_every_subcommand_is_in_hbd_8_and_none_that_is_gone() -> None:
    documented = man_subcommands((MAN / "hbd.8").read_text())
    assert set(SUBCOMMANDS) - documented == set(), "subcommands missing from doc/man/hbd.8"
    assert documented - set(SUBCOMMANDS) == set(), "doc/man/hbd.8 describes subcommands hbd does not have"


def test_the_reader_of_the_page_finds_what_is_there_and_nothing_else() -> None:
    page = ".SH SUBCOMMANDS\n.TP\n.B status \\fR[\\fB\\-\\-json\\fR]\ntext\n.TP\n.B fence\\-peer\nx\n" \
           ".TP\n.B demo\\fR, \\fBlab\\fR, \\fBmembership\ny\n.SH OPTIONS\n.TP\n.B \\-f\n"
    assert man_subcommands(page) == {"status", "fence-peer", "demo", "lab", "membership"}


def test_every_installed_command_has_a_shipped_page() -> None:
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    commands = [line.split("=")[0].strip() for line in cfg["options.entry_points"]["console_scripts"].splitlines()
                if line.strip()]
    shipped = (ROOT / "debian" / "hbd.manpages").read_text().split()
    for command in commands:
        assert f"doc/man/{command}.8" in shipped, f"{command} has no man page in debian/hbd.manpages"
        assert (MAN / f"{command}.8").is_file()
