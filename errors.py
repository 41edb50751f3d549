"""Errors FilmCrew reports to users: one line that names the problem and the place."""

from __future__ import annotations

from pathlib import Path


class FilmCrewError(Exception):
    """A user-facing error. ``str()`` is the one-line message the CLI prints."""

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        self.message = message
        self.path = None if path is None else str(path)
        self.line = line
        self.field = field
        super().__init__(self.format())

    def format(self) -> str:
        place = ""
        if self.path:
            place = self.path
            if self.line is not None:
                place += f":{self.line}"
        if self.field:
            place = f"{place}: {self.field}" if place else self.field
        return f"{place}: {self.message}" if place else self.message


class ScreenplayError(FilmCrewError):
    """The screenplay is missing, empty, not Fountain, or cannot be staged."""


class PlanError(FilmCrewError):
    """The plan does not validate, or comes from a newer schema."""


class SetError(FilmCrewError):
    """A set recipe or a user's set .blend is missing or malformed."""


class OutputError(FilmCrewError):
    """The production folder cannot be used (foreign content, read-only, full disk)."""


class StageError(FilmCrewError):
    """A stage cannot run because its input is missing or stale."""
