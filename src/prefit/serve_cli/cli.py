"""`score`: not yet available (issue 5)."""

import click


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Score DailyMed SPL labels (not yet available in this version)."""
    raise click.ClickException("score is not yet available in this version")
