"""The kit manifest: what makes a printed kit self-describing.

A JSON document, compressed and split into QR codes (``PM1/...`` chunks, papier.identity.encode_manifest) printed
on the kit's manifest page(s):

    {"schema": "papier.manifest/1", "kit_id": "…", "created": "2026-…",
     "forms": [{"name": "paiement", "version": 1, "builtin": true},
               {"name": "cantine_bis", "version": 2, "builtin": false, "text": "<TOML source>"}],
     "known_values": {"familles": [...], "documents": [...]}}

Built-in forms are named only (every installed papier keeps every version it ever printed); custom forms carry
their whole TOML definition so that a fresh install can read their pages with nothing but the paper.
The scan pipeline decodes the chunks (papier.identity.decode_manifest_chunk / join_manifest) and calls
``parse_manifest``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable

from papier.errors import FormDefinitionError, PayloadError
from papier.forms import FormDef, parse_form
from papier.identity import decode_manifest_chunk, encode_manifest, join_manifest

MANIFEST_JSON_SCHEMA = "papier.manifest/1"


@dataclass
class Manifest:
    kit_id: str
    created: str = ""
    forms: list[dict[str, Any]] = field(default_factory=list)  # name, version, builtin (text stripped)
    custom_forms: dict[tuple[str, int], FormDef] = field(default_factory=dict)
    known_values: dict[str, list[str]] = field(default_factory=dict)


def manifest_dict(kit_id: str, created: str, forms: Iterable[FormDef],
                  known_values: dict[str, list[str]]) -> dict[str, Any]:
    out_forms = []
    for f in forms:
        d: dict[str, Any] = {"name": f.name, "version": f.version, "builtin": bool(f.builtin)}
        if not f.builtin:
            d["text"] = f.text
        out_forms.append(d)
    return {"schema": MANIFEST_JSON_SCHEMA, "kit_id": kit_id, "created": created, "forms": out_forms,
            "known_values": {k: list(v) for k, v in known_values.items()}}


def manifest_bytes(kit_id: str, created: str, forms: Iterable[FormDef],
                   known_values: dict[str, list[str]]) -> bytes:
    """The manifest JSON (UTF-8, compact) for a kit; compress and chunk it with ``manifest_payloads``."""
    d = manifest_dict(kit_id, created, forms, known_values)
    return json.dumps(d, ensure_ascii=False, separators=(",", ":"), sort_keys=False).encode("utf-8")


def manifest_payloads(kit_id: str, data: bytes) -> list[str]:
    """QR payload strings (``PM1/…``) carrying `data`."""
    return encode_manifest(kit_id, data)


def parse_manifest(data: bytes) -> Manifest:
    """Parse manifest JSON bytes (as reassembled by papier.identity.join_manifest); raises PayloadError."""
    try:
        d = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PayloadError(f"manifeste illisible ({exc})") from None
    if not isinstance(d, dict) or not isinstance(d.get("kit_id"), str):
        raise PayloadError("manifeste illisible (identifiant de kit absent)")
    schema = d.get("schema", MANIFEST_JSON_SCHEMA)
    if schema != MANIFEST_JSON_SCHEMA:
        raise PayloadError(f"manifeste d'un format inconnu ({schema!r}) : mettre papier à jour")
    kit_id = d["kit_id"]
    custom: dict[tuple[str, int], FormDef] = {}
    forms: list[dict[str, Any]] = []
    for f in d.get("forms", []):
        if not isinstance(f, dict) or not isinstance(f.get("name"), str) or not isinstance(f.get("version"), int):
            raise PayloadError("manifeste illisible (formulaire mal décrit)")
        forms.append({"name": f["name"], "version": f["version"], "builtin": bool(f.get("builtin", True))})
        if not f.get("builtin", True):
            text = f.get("text")
            if not isinstance(text, str):
                raise PayloadError(f"manifeste : définition du formulaire « {f['name']} » absente")
            try:
                form = parse_form(text, f"manifeste du kit {kit_id}: {f['name']} v{f['version']}")
            except FormDefinitionError as exc:
                raise PayloadError(f"manifeste : formulaire invalide ({exc})") from None
            custom[(form.name, form.version)] = form
    kv_raw = d.get("known_values", {})
    known = {str(k): [str(x) for x in v] for k, v in kv_raw.items() if isinstance(v, list)} \
        if isinstance(kv_raw, dict) else {}
    return Manifest(kit_id=kit_id, created=str(d.get("created", "")), forms=forms, custom_forms=custom,
                    known_values=known)


def parse_manifest_payloads(payloads: Iterable[str]) -> Manifest:
    """Convenience for tests and tools: decoded QR texts (any order, duplicates fine) → Manifest."""
    chunks = {}
    for p in payloads:
        c = decode_manifest_chunk(p)
        chunks[(c.kit_id, c.index)] = c
    kits = {k for k, _ in chunks}
    if len(kits) != 1:
        raise PayloadError("QR de manifeste de plusieurs kits mélangés" if kits else "manifeste vide")
    return parse_manifest(join_manifest(list(chunks.values())))
