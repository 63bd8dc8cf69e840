"""The one exception type for bad user input."""

from __future__ import annotations

import os


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

    def format(self) -> str:
        where = ""
        if self.file is not None:
            where = self.file
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        field = f"field {self.field!r}: " if self.field else ""
        return f"{where}{field}{self.message}"
