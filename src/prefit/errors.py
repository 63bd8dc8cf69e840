"""The one exception type for bad user input.

A message names an option the way the Python API spells it, in backticks: `overwrite=True`,
`pooling="cls"`. The command lines show the same option as their flag (`as_flags`): --overwrite,
--pooling cls. One spelling in the library, the caller's spelling on screen.
"""

from __future__ import annotations

import os
import re

_OPTION = re.compile(r"`([a-z][a-z0-9_]*)=([^`]*)`")
MAX_SEED = 2**32 - 1  # the largest seed numpy's and scikit-learn's random_state accept


def is_seed(value: object) -> bool:
    """An integer seed every library prefit seeds accepts (0..MAX_SEED; a bool is no seed)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_SEED


def as_flags(message: str) -> str:
    """`name=True` -> --name; `name=value` -> --name value (quotes dropped; underscores -> dashes)."""

    def flag(m: re.Match) -> str:
        name, value = "--" + m.group(1).replace("_", "-"), m.group(2).strip("'\"")
        return name if value == "True" else f"{name} {value}"

    return _OPTION.sub(flag, message)


class InputError(Exception):
    """Bad user input, located as precisely as we can: file, line (1-based) and field.

    Every CLI turns it into a one-line message on stderr and exit code 2.
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: str | os.PathLike | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.file = None if file is None else str(file)
        self.line = line
        self.field = field
        super().__init__(self.format())

    def format(self, flags: bool = False) -> str:
        """FILE:LINE: field 'x': message; `flags`: options as command-line flags (as_flags)."""
        where = ""
        if self.file is not None:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        field = f"field {self.field!r}: " if self.field else ""
        return f"{where}{field}{as_flags(self.message) if flags else self.message}"
