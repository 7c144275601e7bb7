"""Page identity: the compact, checked payload of a page's QR codes, and kit ids.

Payload (QR alphanumeric mode, so the code stays small and robust):

    P1/<FORM>/<VERSION>/<KIT>/<SERIAL>/<CHECK>      e.g.  P1/PAIEMENT/1/K7F3Q2KA/12/X4G7Q

- ``P1``: payload schema 1 (also names layout engine generation 1).
- ``FORM``: form name upper-cased, ``_`` written ``-`` (form names never contain ``-``).
- ``KIT``: 8 characters of base32 (A–Z, 2–7), random per kit.
- ``SERIAL``: the page's number within its register (1-based).
- ``CHECK``: 5 base32 characters of SHA-256 over the rest: a corrupted payload fails (1 in 33 million passes).

Manifest pages carry custom form definitions as ``PM1/<KIT>/<I>/<N>/<CHECK>/<BASE32 DATA>``: chunk I of N of the
zlib-compressed JSON of the kit's custom forms.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import zlib
from dataclasses import dataclass

from papier.errors import PayloadError

PAYLOAD_SCHEMA = "P1"
MANIFEST_SCHEMA = "PM1"
# The reason stored for an image with no code and no ink (scan_ingest.identify.blank_page): the back of a sheet
# scanned recto verso. Ingest, the review page and the reconcile ledger tell such pages apart by this exact text.
BLANK_PAGE_REASON = "page blanche (sans QR code ni écriture : le verso d'une feuille numérisée recto verso ?)"
_KIT_RE = re.compile(r"^[A-Z2-7]{8}$")
_FORM_RE = re.compile(r"^[a-z][a-z0-9_]{0,30}$")


def _check(body: str, n: int = 5) -> str:
    return base64.b32encode(hashlib.sha256(body.encode("ascii")).digest()).decode("ascii")[:n]


def new_kit_id() -> str:
    """A fresh random kit id (8 base32 characters)."""
    return base64.b32encode(secrets.token_bytes(5)).decode("ascii")


@dataclass(frozen=True)
class PageIdentity:
    form: str
    form_version: int
    kit_id: str
    serial: int

    @property
    def page_key(self) -> str:
        """Unique across kits: kit id, form and the page's serial within its register."""
        return f"{self.kit_id}-{self.form}-{self.serial:03d}"

    def encode(self) -> str:
        if not _FORM_RE.match(self.form):
            raise PayloadError(f"nom de formulaire impossible dans un QR : {self.form!r}")
        if not _KIT_RE.match(self.kit_id):
            raise PayloadError(f"identifiant de kit invalide : {self.kit_id!r}")
        if not (1 <= self.form_version <= 9999 and 1 <= self.serial <= 99999):
            raise PayloadError("version ou numéro de page hors limites")
        body = "/".join(
            [PAYLOAD_SCHEMA, self.form.upper().replace("_", "-"), str(self.form_version), self.kit_id,
             str(self.serial)]
        )
        return f"{body}/{_check(body)}"


def decode_payload(text: str) -> PageIdentity:
    """Parse and verify a page payload; raises PayloadError when malformed or failing its check."""
    parts = text.strip().split("/")
    if len(parts) != 6 or parts[0] != PAYLOAD_SCHEMA:
        raise PayloadError("QR illisible ou d'un autre format")
    body = "/".join(parts[:5])
    if _check(body) != parts[5]:
        raise PayloadError("valeur de contrôle du QR fausse")
    _, form, version, kit, serial = parts[:5]
    form = form.lower().replace("-", "_")
    if not (_FORM_RE.match(form) and version.isdigit() and serial.isdigit() and _KIT_RE.match(kit)):
        raise PayloadError("champs du QR invalides")
    return PageIdentity(form=form, form_version=int(version), kit_id=kit, serial=int(serial))


def parse_page_key(page_key: str) -> tuple[str, str, int]:
    """(kit_id, form, serial) of a page key."""
    kit, rest = page_key.split("-", 1)
    form, serial = rest.rsplit("-", 1)
    return kit, form, int(serial)


# --- manifest chunks -------------------------------------------------------------------------------------------

MANIFEST_CHUNK_CHARS = 700  # base32 characters per QR: version ~17 at level Q, still easy for a phone


def encode_manifest(kit_id: str, data: bytes) -> list[str]:
    """Split `data` (compressed here) into QR payload strings."""
    packed = base64.b32encode(zlib.compress(data, 9)).decode("ascii").rstrip("=")
    chunks = [packed[i : i + MANIFEST_CHUNK_CHARS] for i in range(0, len(packed), MANIFEST_CHUNK_CHARS)] or [""]
    out = []
    for i, chunk in enumerate(chunks, 1):
        head = f"{MANIFEST_SCHEMA}/{kit_id}/{i}/{len(chunks)}"
        out.append(f"{head}/{_check(head + '/' + chunk)}/{chunk}")
    return out


@dataclass(frozen=True)
class ManifestChunk:
    kit_id: str
    index: int
    count: int
    data: str


def decode_manifest_chunk(text: str) -> ManifestChunk:
    parts = text.strip().split("/")
    if len(parts) != 6 or parts[0] != MANIFEST_SCHEMA:
        raise PayloadError("QR de manifeste illisible")
    head = "/".join(parts[:4])
    if _check(head + "/" + parts[5]) != parts[4]:
        raise PayloadError("valeur de contrôle du manifeste fausse")
    return ManifestChunk(kit_id=parts[1], index=int(parts[2]), count=int(parts[3]), data=parts[5])


def join_manifest(chunks: list[ManifestChunk]) -> bytes:
    """Reassemble the manifest data from all its chunks (any order); raises PayloadError when incomplete."""
    if not chunks:
        raise PayloadError("manifeste vide")
    count = chunks[0].count
    by_index = {c.index: c.data for c in chunks}
    missing = [i for i in range(1, count + 1) if i not in by_index]
    if missing:
        raise PayloadError(f"manifeste incomplet : QR {missing} manquants")
    packed = "".join(by_index[i] for i in range(1, count + 1))
    packed += "=" * (-len(packed) % 8)
    return zlib.decompress(base64.b32decode(packed))


def is_manifest_payload(text: str) -> bool:
    return text.startswith(MANIFEST_SCHEMA + "/")
