"""Exception types. Each message tells the user (in French) what went wrong and what to do.

Library code raises these; the CLI turns them into a one-line message (traceback only with -v).
Per-page problems during ingest are data, not exceptions.
"""

from __future__ import annotations

import errno
import sqlite3


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


class StorageError(PapierError):
    """The disk of the database refuses writes (full, read-only, no permission): the batch stops cleanly. Nothing
    is half-written (one transaction per page), and the same command run again once it is fixed carries on where
    it stopped."""


# OSError numbers that are the machine's problem, not the page's: a batch cannot go on, and its page is not to be
# recorded as unreadable (it would never be read again)
_STORAGE_ERRNOS = {
    errno.ENOSPC: "disque plein", errno.EDQUOT: "quota du disque atteint", errno.EROFS: "disque en lecture seule",
    errno.EACCES: "droits insuffisants pour écrire", errno.EPERM: "droits insuffisants pour écrire",
    errno.EIO: "erreur d'entrée-sortie du disque",
}


def storage_advice(where: str, sentence: bool = False) -> str:
    """What to do about a storage problem (French); `where`: the disk (« le disque de C:\\papier »); `sentence`:
    starts a sentence."""
    return f"{'L' if sentence else 'l'}ibérez de la place (ou donnez les droits d'écriture) sur {where}"


def storage_problem(exc: BaseException) -> str | None:
    """What is wrong with the disk when `exc` says writing failed because of it (French); None otherwise."""
    if isinstance(exc, OSError) and exc.errno in _STORAGE_ERRNOS:
        return _STORAGE_ERRNOS[exc.errno] + (f" ({exc.filename})" if exc.filename else "")
    if isinstance(exc, sqlite3.OperationalError):
        msg = str(exc).lower()
        if "full" in msg:
            return "disque plein (base de données)"
        if "readonly" in msg or "read-only" in msg:
            return "base de données en lecture seule"
        if "disk i/o" in msg:
            return "erreur d'entrée-sortie du disque (base de données)"
    return None
