"""Identify a page from its QR codes: which kit, form, version and serial, in any orientation.

Both QR codes are looked for (downscaled first, full resolution when that finds fewer than two, then, when neither
found any code, on a sharpened copy: a blurred phone photo); every page payload found must decode, pass its check
value and agree with the others; the form version must be known to this installation or to a scanned kit manifest.
Anything else makes the page unidentified with a reason: never guessed. A page with no code and no ink at all (the
back of a sheet scanned recto verso) is said to be blank (papier.identity.BLANK_PAGE_REASON): still unidentified,
its image kept, but nobody has anything to do with it.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import zxingcpp

from papier.errors import PayloadError, UnknownForm
from papier.forms import FormDef, resolve_form
from papier.identity import (BLANK_PAGE_REASON, PageIdentity, decode_manifest_chunk, decode_payload,
                             is_manifest_payload)
from papier.layout import PageLayout, layout_form

QR_SEARCH_LONG_SIDE = 1100  # px: QR modules (~0.55 mm) stay ≥ 2 px on an A4 page
# A photo taken with a moving hand, or before the focus settled, softens the QR's modules until the decoder's
# binarisation merges them. An unsharp mask (the image plus SHARPEN_AMOUNT times its difference from a blurred
# copy) restores their edges. Tried only when no page QR was found otherwise (blank pages and other documents pay
# for it, about 0.3 s; a readable page never), in a ladder of strengths, the first that reads a page QR wins:
# which strength works on a given photo is hard to predict. Safe: a QR decodes through its own Reed-Solomon code
# and a page payload through its check value, so sharpening can make a code readable, not read it wrong. Chosen
# on the bench's blurred photos (bench_scan profile phone_photo_blurred, seeds 5 and 6: 14 pages with no readable
# QR; one pass at 0.18 mm then 0.09 mm at a third of the size read 5; this ladder 8; docs/ARCHITECTURE.md).
SHARPEN_AMOUNT = 2.0
SHARPEN_PASSES = ((1, 0.12), (1, 0.15), (1, 0.2), (1, 0.3), (2, 0.15), (3, 0.09))  # (downscale factor, sigma mm)

# A blank page: the kit is printed recto only and office scanners often scan recto verso, so a batch may hold as
# many blank backs as register pages. A page is blank when, away from its edges (BLANK_MARGIN_MM: the scanner's lid
# and shadows), the marks darker than BLANK_INK_DARKNESS of the local paper cover at most BLANK_MAX_INK_MM2, not
# counting specks under BLANK_SPECK_MM2 (toner, dust) nor a fax's transmission streak (a straight horizontal
# line at most BLANK_STREAK_MM tall and 8 times as long). Measured on the bench's blank sheets (bench_scan seed 5):
# 0 mm² on scanner profiles, 10.9 mm² of toner specks on a photocopy (the largest 0.29 mm²), one 28.7 mm² streak on
# a fax; every kit page of 7 profiles at least 2,243 mm² (its corner markers alone are 4 × 100 mm² of black). A
# word written on the back of a sheet is a few letters of 2–5 mm² each: that page is not blank, a person sees it.
# A phone photo of a blank sheet is not called blank either (the table around it is dark).
BLANK_PX_PER_MM = 2.0
BLANK_MARGIN_MM = 8.0
BLANK_INK_DARKNESS = 0.25
BLANK_SPECK_MM2 = 1.0
BLANK_STREAK_MM = 1.0
BLANK_MAX_INK_MM2 = 4.0


@dataclass(frozen=True)
class FoundQR:
    text: str
    corners: np.ndarray  # 4 x 2 float32, full-resolution px: the symbol's own TL, TR, BR, BL


@dataclass
class Identification:
    ok: bool
    reason: str | None
    ident: PageIdentity | None = None
    form: FormDef | None = None
    layout: PageLayout | None = None
    payload: str | None = None
    qrs: list[FoundQR] | None = None
    manifest_chunks: list[tuple[str, int, int, str]] | None = None
    unknown_form: bool = False  # a valid page of a form version not known yet (its kit's manifest may come later)


def _shrink(gray: np.ndarray, f: int) -> np.ndarray:
    """Downscale by an integer factor: OpenCV's INTER_AREA fast path (0.4 ms for a 200 dpi A4 page, against
    19 ms for a fractional factor)."""
    h, w = gray.shape
    return cv2.resize(gray[:h // f * f, :w // f * f], (w // f, h // f), interpolation=cv2.INTER_AREA)


def _read_qrs(gray: np.ndarray, factor: int) -> list[FoundQR]:
    img = gray if factor <= 1 else _shrink(gray, factor)
    scale = 1.0 / max(1, factor)
    out = []
    for b in zxingcpp.read_barcodes(img, formats=zxingcpp.BarcodeFormat.QRCode):
        p = b.position
        pts = np.array([[p.top_left.x, p.top_left.y], [p.top_right.x, p.top_right.y],
                        [p.bottom_right.x, p.bottom_right.y], [p.bottom_left.x, p.bottom_left.y]], np.float32)
        out.append(FoundQR(b.text, pts / scale))
    return out


def _page_qrs(qrs: list[FoundQR]) -> int:
    return sum(1 for q in qrs if not is_manifest_payload(q.text))


def _px_per_mm(gray: np.ndarray) -> float:
    return max(gray.shape) / 297.0  # the page at most fills the image (A4's long side)


def blank_page(gray: np.ndarray) -> bool:
    """No ink on the page, away from its edges (see BLANK_MAX_INK_MM2), and no kit corner marker even once the
    page's contrast is stretched (washed_out_kit_page)."""
    return _no_ink(gray) and not washed_out_kit_page(gray)


def washed_out_kit_page(gray: np.ndarray) -> bool:
    """A kit page captured so pale (a scanner's exposure set far too light) that nothing reaches the ink level and
    no QR code reads: its corner markers, solid black squares, still show once the page's own contrast is stretched
    (found at 2 % of the paper's light on a rendered page; never on the bench's blank sheets). Such a page is not
    blank: a person must see it."""
    from scan_ingest.align import find_markers  # align imports this module

    lo, hi = np.percentile(gray, [0.5, 50])
    if hi - lo < 1:
        return False
    stretched = np.clip((gray.astype(np.float32) - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)
    return bool(find_markers(stretched))


def _no_ink(gray: np.ndarray) -> bool:
    f = max(1, int(_px_per_mm(gray) / BLANK_PX_PER_MM))
    small = _shrink(gray, f) if f > 1 else gray
    ppm = _px_per_mm(gray) / f
    m = int(round(BLANK_MARGIN_MM * ppm))
    small = small[m:small.shape[0] - m, m:small.shape[1] - m]
    if small.size == 0:
        return False
    k = max(3, int(round(8 * ppm)) | 1)  # the paper's level: the lightest around, within 4 mm
    paper = np.maximum(cv2.blur(cv2.dilate(small, np.ones((k, k), np.uint8)), (k, k)), 1).astype(np.float32)
    ink = ((paper - small.astype(np.float32)) > BLANK_INK_DARKNESS * paper).astype(np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    area = stats[1:, cv2.CC_STAT_AREA] / (ppm * ppm)
    w, h = stats[1:, cv2.CC_STAT_WIDTH] / ppm, stats[1:, cv2.CC_STAT_HEIGHT] / ppm
    streak = (h <= BLANK_STREAK_MM) & (w >= 8 * h)
    return float(area[(area >= BLANK_SPECK_MM2) & ~streak].sum()) <= BLANK_MAX_INK_MM2


def _sharpened_qrs(gray: np.ndarray) -> list[FoundQR]:
    """The QR codes of a blurred capture, read on an unsharp-masked copy (SHARPEN_PASSES, first that finds one)."""
    px_per_mm = _px_per_mm(gray)
    for factor, sigma_mm in SHARPEN_PASSES:
        img = gray if factor <= 1 else _shrink(gray, factor)
        soft = cv2.GaussianBlur(img, (0, 0), max(0.5, sigma_mm * px_per_mm / factor))
        sharp = cv2.addWeighted(img, 1.0 + SHARPEN_AMOUNT, soft, -SHARPEN_AMOUNT, 0)
        found = _read_qrs(sharp, 1)
        if _page_qrs(found):
            return [FoundQR(q.text, q.corners * factor) for q in found]
    return []


def find_qrs(gray: np.ndarray) -> list[FoundQR]:
    """Every QR code on the page (downscaled search first, full resolution as fallback, then sharpened unless the
    page is blank)."""
    return _find_qrs(gray)[0]


def _find_qrs(gray: np.ndarray) -> tuple[list[FoundQR], str | None]:
    """(find_qrs, what a page with no code is: "blank" (blank_page), "pale" (no ink, but washed_out_kit_page), None
    otherwise; each measured once, only when no code was found)."""
    factor = max(1, max(gray.shape) // QR_SEARCH_LONG_SIDE)  # the long side stays ≥ QR_SEARCH_LONG_SIDE
    qrs = _read_qrs(gray, factor) if factor > 1 else []
    if _page_qrs(qrs) < 2:
        full = _read_qrs(gray, 1)
        if len(full) >= len(qrs):
            qrs = full
    if qrs:
        return qrs, None
    empty = None
    if _no_ink(gray):
        empty = "pale" if washed_out_kit_page(gray) else "blank"
        if empty == "blank":
            return [], empty
    return _sharpened_qrs(gray), empty


def identify(gray: np.ndarray, custom_forms: dict[tuple[str, int], FormDef] | None = None,
             kits: frozenset[str] | None = None) -> Identification:
    """Who is this page? See the module docstring for the rules."""
    qrs, empty = _find_qrs(gray)
    pages = [q for q in qrs if not is_manifest_payload(q.text)]
    manifests = [q for q in qrs if is_manifest_payload(q.text)]
    if manifests and not pages:
        chunks = []
        for q in manifests:
            try:
                c = decode_manifest_chunk(q.text)
            except PayloadError as exc:
                return Identification(False, f"QR de manifeste illisible : {exc}")
            chunks.append((c.kit_id, c.index, c.count, c.data))
        return Identification(True, None, qrs=qrs, manifest_chunks=sorted(set(chunks)))
    if not pages:
        if empty == "blank":
            return Identification(False, BLANK_PAGE_REASON)
        if not qrs and empty == "pale":
            return Identification(False, "page du kit trop pâle sur l'image (ses repères se voient, pas son QR "
                                         "code) : renumérisez-la en réglant le scanner plus foncé")
        return Identification(False, "aucun QR code lisible : page d'un autre document, trop abîmée ou floue "
                                     "(renumérisez-la)")
    idents: list[PageIdentity] = []
    for q in pages:
        try:
            idents.append(decode_payload(q.text))
        except PayloadError as exc:
            return Identification(False, f"QR code invalide ({exc}) : page d'un autre système ou altérée", qrs=qrs)
    if len(set(idents)) > 1:
        keys = " / ".join(sorted({i.page_key for i in idents}))
        if all(idents.count(i) >= 2 for i in set(idents)):  # each sheet whole, with both its codes
            return Identification(False, f"{len(set(idents))} feuilles sur la même image ({keys}) : "
                                         "photographiez-les ou numérisez-les une par une", qrs=qrs)
        return Identification(False, f"les QR codes de la page ne concordent pas ({keys}) : page collée ou "
                                     "montage, à vérifier à la main", qrs=qrs)
    ident = idents[0]
    if kits is not None and ident.kit_id not in kits:
        return Identification(False, f"page d'un autre kit ({ident.kit_id}, attendu : {', '.join(sorted(kits))})",
                              qrs=qrs)
    try:
        form = resolve_form(ident.form, ident.form_version, custom_forms)
    except UnknownForm as exc:
        return Identification(False, f"{exc} — numérisez aussi la page « manifeste » du kit {ident.kit_id}",
                              ident=ident, payload=pages[0].text, qrs=qrs, unknown_form=True)
    return Identification(True, None, ident=ident, form=form, layout=layout_form(form), payload=pages[0].text,
                          qrs=pages)
