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
    """Console gets INFO (WARNING with --quiet); the logger itself stays at INFO so that run logs
    (train.log) are complete either way."""
    logger = logging.getLogger("prefit")
    console = [h for h in logger.handlers if getattr(h, "_prefit_console", False)]
    if not console:
        h = logging.StreamHandler(sys.stderr)
        h.setFormatter(logging.Formatter("%(message)s"))
        h._prefit_console = True
        logger.addHandler(h)
        console = [h]
    console[0].setLevel(logging.WARNING if quiet else logging.INFO)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    quiet_third_party()


def quiet_third_party() -> None:
    """transformers' load reports and "Loading weights" bars are noise to a prefit user: errors only."""
    import transformers.utils.logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def echo_err(msg: str) -> None:
    click.echo(msg, err=True)
