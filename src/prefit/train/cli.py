"""`train`: not yet available (issue 4)."""

import click

from prefit.cli_common import PrefitGroup


@click.group(cls=PrefitGroup, context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Two-stage trainer (not yet available in this version)."""
