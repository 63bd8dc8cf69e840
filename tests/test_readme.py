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


def _named(option: str) -> bool:
    """The exact option in the README: `--lr` is not found inside `--lr-scheduler` or `--stage1-lr`."""
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", README) is not None


@pytest.mark.parametrize("name,cmd", ALL, ids=[n for n, _ in ALL])
def test_every_option_is_documented(name, cmd):
    missing = [o for p in cmd.params if not getattr(p, "hidden", False) for o in p.opts
               if o.startswith("--") and o not in ("--help",) and not _named(o)]
    assert not missing, f"{name}: README does not mention {missing}"


def test_options_in_readme_command_lines_exist():
    """Every `--option` on a README line that starts with a command is an option of that command."""
    by_name = {n: {o for p in c.params for o in p.opts} | {"--help"} for n, c in ALL}
    checked = 0
    for line in README.splitlines():
        words = line.strip().split()
        if not words or words[0] not in ("aug", "train", "score"):
            continue
        # longest command name the line starts with ("aug models convert" before "aug models")
        name = next((n for n in sorted(by_name, key=len, reverse=True)
                     if words[: len(n.split())] == n.split()
                     or (words[0] == "train" and len(words) > 1 and "|" in words[1] and n.split()[1] in words[1].split("|"))), None)
        if name is None:
            continue
        names = [n for n in by_name if n == name or ("|" in words[1] and n.split()[0] == "train" and n.split()[1] in words[1].split("|"))]
        for opt in re.findall(r"(?<![\w-])(--[a-z0-9][a-z0-9-]*)", line.split("#")[0]):
            for n in names:
                assert opt in by_name[n], f"README line {line.strip()!r}: {n} has no option {opt}"
            checked += 1
    assert checked > 30


def test_every_readme_command_exists():
    shown = set(re.findall(r"^(?:aug|train) ([a-z-]+(?: [a-z-]+)?)", README, re.M))
    known = {n.split(" ", 1)[1] for n, _ in ALL if " " in n} | {n.split(" ", 1)[1].split(" ")[0] for n, _ in ALL if " " in n}
    for s in shown:
        assert s in known or s.split(" ")[0] in known, s
