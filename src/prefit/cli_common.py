"""What every prefit CLI shares: InputError -> one line and exit 2, logging to stderr."""

from __future__ import annotations

import logging
import sys

import click

from prefit.errors import InputError


class PrefitGroup(click.Group):
    """A click group that turns InputError into `Error: FILE:LINE: field 'x': message` and exit 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except InputError as e:
            click.echo(f"Error: {e.format()}", err=True)
            ctx.exit(e.exit_code)


def setup_logging(quiet: bool = False) -> None:
    logger = logging.getLogger("prefit")
    if not logger.handlers:
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(logging.Formatter("%(message)s"))
        logger.addHandler(h)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.propagate = False


def echo_err(msg: str) -> None:
    click.echo(msg, err=True)
