"""What the per-page read produces (plain data, picklable: it travels from a worker to the parent)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class FieldResult:
    name: str
    type: str
    value: Any                      # JSON-able, by type (CONTRACTS.md)
    status: str                     # auto | review
    confidence: float
    alternatives: list[Any] = field(default_factory=list)
    reason: str | None = None
    has_ink: bool = False
    snippet: str | None = None      # path relative to the database's folder
    bbox_mm: list[float] | None = None   # x, y, w, h of what was measured


@dataclass
class EntryResult:
    row: int
    kind: str                       # line | fiche | page
    printed: dict[str, str]
    has_ink: bool
    fields: list[FieldResult]


@dataclass
class PageResult:
    source: str
    idx: int
    sha256: str | None
    status: str                     # identified | unidentified | skip (already stored: nothing to do)
    reason: str | None = None
    image_path: str | None = None   # relative to the database's folder
    width: int = 0
    height: int = 0
    dpi: float = 0.0
    payload: str | None = None
    form: str | None = None
    form_version: int | None = None
    kit_id: str | None = None
    serial: int | None = None
    page_key: str | None = None
    copy: int | None = None         # None: the copy number could not be read with certainty
    orientation: int | None = None  # 0/90/180/270: how the page was turned on the image
    residual_mm: float | None = None
    align_method: str | None = None
    bend_mm: float = 0.0            # how far the printed frames sit from where a flat page puts them (flatness.py)
    rescan: bool = False            # aligned badly or not flat: every value in review, scanning it again is quicker
    faded: int = 0                  # fields where the print is too faint to trust a blank (a reflection: fade.py)
    noisy: int = 0                  # mark fields in review because the image's grain could pass for a tick (noise.py)
    tinted: int = 0                 # mark fields in review because they sit on a marker's band or a stain (tint.py)
    entries: list[EntryResult] = field(default_factory=list)
    manifest_chunks: list[tuple[str, int, int, str]] = field(default_factory=list)  # kit, index, count, data
    bilevel: bool = False           # captured in black and white (sources.LoadedPage.bilevel): a re-read needs it
    known_sets: list[str] | None = None  # the kit lists (ReadContext.known_values) this reading had, by name
    seconds: float = 0.0
    maxrss_kb: int = 0
    halt: str | None = None         # the disk refused a write (papier.errors.storage_problem): the batch stops,
                                    # nothing of this page is stored, so that running it again reads it

    @property
    def is_manifest(self) -> bool:
        return bool(self.manifest_chunks) and self.page_key is None and self.status == "identified"
