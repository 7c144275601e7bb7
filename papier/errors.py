"""Exception types. Each message tells the user (in French) what went wrong and what to do.

Library code raises these; the CLI turns them into a one-line message (traceback only with -v).
Per-page problems during ingest are data, not exceptions.
"""

from __future__ import annotations


class PapierError(Exception):
    """Base class: an error whose message is meant for the user."""


class FormDefinitionError(PapierError):
    """A form definition file is invalid (names the file, the field and the problem)."""

    def __init__(self, source: str, problem: str, field: str | None = None):
        self.source = source
        self.field = field
        self.problem = problem
        where = f"{source}: champ « {field} »: " if field else f"{source}: "
        super().__init__(where + problem)


class UnknownForm(PapierError):
    """A form name or version is not known to this installation nor to any scanned manifest."""


class InputDataError(PapierError):
    """An input file (CSV, TOML, mapping) is unusable; the message names the file and line."""


class KitRecipeError(PapierError):
    """A kit recipe is invalid."""


class PayloadError(PapierError):
    """A QR payload is malformed or fails its check value."""


class UnreadableInput(PapierError):
    """A scanned input file cannot be opened (corrupt, encrypted, not an image or PDF)."""


class DatabaseError(PapierError):
    """The database is missing, locked, or from a newer version of papier."""
