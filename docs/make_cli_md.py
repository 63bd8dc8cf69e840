"""Write docs/cli.md, the command reference, from the click commands themselves.

    python docs/make_cli_md.py          # rewrite docs/cli.md
    python docs/make_cli_md.py --check  # exit 1 when docs/cli.md is out of date (tests/test_docs.py)
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

OUT = Path(__file__).resolve().parent / "cli.md"


def commands():
    from prefit.cli.augment import main as aug
    from prefit.cli.score import main as score
    from prefit.cli.train import main as train

    def walk(cmd, name, settings):
        yield name, cmd, settings
        if isinstance(cmd, click.Group):
            for sub in sorted(cmd.commands):
                yield from walk(cmd.commands[sub], f"{name} {sub}", settings)

    for name, group in (("aug", aug), ("train", train), ("score", score)):
        yield from walk(group, name, group.context_settings)  # sub-commands inherit -h


def render() -> str:
    parts = ["# Command reference\n", "Generated from the commands' `--help` by `python docs/make_cli_md.py`; "
             "`tests/test_docs.py` fails when it is out of date.\n"]
    for name, cmd, settings in commands():
        ctx = click.Context(cmd, info_name=name, **{"terminal_width": 100, "max_content_width": 100, **settings})
        parts.append(f"## `{name}`\n\n```text\n{cmd.get_help(ctx).rstrip()}\n```\n")
    return "\n".join(parts)


def main() -> int:
    text = render()
    if "--check" in sys.argv[1:]:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT} is out of date: run python docs/make_cli_md.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT} ({len(text)} characters)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
