"""The README's command reference stays in step with --help: every long option of every command
is named in the README, and every command the README shows exists."""

import re
from pathlib import Path

import click
import pytest

from prefit.augment.cli import main as aug
from prefit.serve_cli.cli import main as score
from prefit.train.cli import main as train

README = (Path(__file__).parent.parent / "README.md").read_text()


def _commands(group, prefix):
    if isinstance(group, click.Group):
        for name, cmd in group.commands.items():
            yield from _commands(cmd, f"{prefix} {name}")
    else:
        yield prefix, group


ALL = list(_commands(aug, "aug")) + list(_commands(train, "train")) + list(_commands(score, "score"))


@pytest.mark.parametrize("name,cmd", ALL, ids=[n for n, _ in ALL])
def test_every_option_is_documented(name, cmd):
    missing = [o for p in cmd.params for o in p.opts if o.startswith("--") and o not in ("--help",) and o not in README]
    assert not missing, f"{name}: README does not mention {missing}"


def test_every_readme_command_exists():
    shown = set(re.findall(r"^(?:aug|train) ([a-z-]+(?: [a-z-]+)?)", README, re.M))
    known = {n.split(" ", 1)[1] for n, _ in ALL if " " in n} | {n.split(" ", 1)[1].split(" ")[0] for n, _ in ALL if " " in n}
    for s in shown:
        assert s in known or s.split(" ")[0] in known, s
