"""What every prefit CLI shares: InputError -> one line and exit 2, logging to stderr."""

from __future__ import annotations

import functools

import click

from prefit.errors import MAX_SEED, InputError
from prefit.logs import setup_logging  # noqa: F401  (the commands' logging)


class FiniteFloatRange(click.FloatRange):
    """click.FloatRange that also refuses nan and inf (which compare False with any bound, so pass it)."""

    def convert(self, value, param, ctx):
        import math

        v = super().convert(value, param, ctx)
        if not math.isfinite(v):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return v


SEED = click.IntRange(0, MAX_SEED)  # what numpy's and scikit-learn's random_state accept


class _InputErrorsAsOneLine:
    """Turns InputError into `Error: FILE:LINE: field 'x': message` and exit 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except InputError as e:
            click.echo(f"Error: {e.format(flags=True)}", err=True)
            ctx.exit(e.exit_code)


class PrefitGroup(_InputErrorsAsOneLine, click.Group):
    """The `aug` and `train` groups."""


class PrefitCommand(_InputErrorsAsOneLine, click.Command):
    """A single-command CLI (`score`)."""


def log_options(f):
    """-q/--quiet (nothing but errors), -v/--verbose (third-party messages too) and --version for a command."""
    f = version_option(f)
    f = click.option("-v", "--verbose", is_flag=True, help="Also show third-party libraries' messages.")(f)
    return click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors (aug: and a class left short of its target).")(f)


def overwrite_option(help: str):
    """One --overwrite everywhere; --force stays as a hidden alias for older scripts."""

    def deco(f):
        @functools.wraps(f)
        def wrapper(*args, **kw):
            force = kw.pop("force_alias")
            kw["overwrite"] = kw["overwrite"] or force
            return f(*args, **kw)

        wrapper = click.option("--force", "force_alias", is_flag=True, hidden=True)(wrapper)
        return click.option("--overwrite", is_flag=True, help=help)(wrapper)

    return deco


def version_option(f):
    return click.version_option(package_name="prefit", message="%(prog)s (prefit) %(version)s")(f)


def echo_err(msg: str) -> None:
    click.echo(msg, err=True)
