"""The per-page read: one page image in, one PageResult out (runs in a worker process).

``read_page`` is the pipeline's table of contents: load → identify → align → warp → marks → writing zones
(snippets, digits) → page checks (control total, copy number) → PageResult. Files (the page image kept as
evidence, snippets, debug pictures) are written here, atomically; the database is written by the parent only.
"""

from __future__ import annotations

import datetime as _dt
import importlib
import os
import resource
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from papier.checks import dates_between
from papier.errors import storage_problem
from papier.forms import FieldDef, FormDef
from papier.layout import FieldGeom, PageLayout, Rect
from scan_ingest import fade, flatness, foreign, holes, noise, tint
from scan_ingest import marks as mk
from scan_ingest.align import Alignment, AlignError, align, warp
from scan_ingest.identify import identify
from scan_ingest.model import EntryResult, FieldResult, PageResult
from scan_ingest.sources import (
    PageLoadError, PageRef, evidence_bytes, load_kept, load_page, two_levels, write_atomic,
)
from scan_ingest.thresholds import (
    ALIGN_PX_PER_MM, BEND_REVIEW_MM, BINARISED_PAGE_SHARE, BOX_LINE_RUN_MM, COPY_CONFIDENCE, COPY_EDGE_BAND_MM,
    COPY_EDGE_LINE_TOL_MM, COPY_EDGE_MM2, COPY_FAINT_DARKNESS, COPY_FAINT_PX, COPY_LINE_BAND_MM, COPY_LINE_EXTRA,
    COPY_LINE_INSET_MM, COPY_LINE_RUN_MM, COPY_TRACE_MM2, FLATTEN_REFINE, HALO_INK_MIN, MARK_REVIEW_CONFIDENCE,
    NOISE_MEDIAN_PX, RESIDUAL_REVIEW_MM, RUN_ON_SOURCE_MM, SNIPPET_MARGIN_MM, SPILL_GAP_MM, SPILL_MIN_MM2,
    TOUCH_REVIEW_MM2, ZONE_INSET_MM,
)

K = ALIGN_PX_PER_MM
# Snippets (what a person reads in the review page; the evidence is the whole page image, kept as scanned):
# JPEG quality 90, 0.7 ms and 15 kB for a 1242x88 zone, where the fastest lossless PNG took 4 ms and 40 kB
# (measured on scanner_200 crops; 27 snippets on a full page).
SNIPPET_JPEG = [cv2.IMWRITE_JPEG_QUALITY, 90]


@dataclass
class ReadContext:
    files_dir: str                      # absolute: <db>.files
    rel_prefix: str                     # how paths are stored: "<db name>.files"
    keep_work: str | None = None
    known: dict[tuple[str, int], set[str]] = field(default_factory=dict)  # already stored: (source, idx) → shas
    custom_forms: dict[tuple[str, int], FormDef] = field(default_factory=dict)
    kits: frozenset[str] | None = None
    known_values: dict[str, list[str]] = field(default_factory=dict)
    period: tuple[str, str] | None = None  # ISO dates: the crisis period, the known set of `recent` date fields
    _known_sets: dict[str, frozenset[str]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def known_set(self, name: str | None) -> frozenset[str] | None:
        """The kit's `known` list `name` as a set, built once (the reader looks it up for every field and caches
        its digits by the set)."""
        if not name or name not in self.known_values:
            return None
        if name not in self._known_sets:
            self._known_sets[name] = frozenset(self.known_values[name])
        return self._known_sets[name]


def _digits_api() -> Any | None:
    """papier.digits' reader when installed (read_boxes and read_digit_field), else None."""
    try:
        mod = importlib.import_module("papier.digits")
    except ImportError:
        return None
    if hasattr(mod, "read_boxes") and hasattr(mod, "read_digit_field"):
        return mod
    return None


def _maxrss_kb() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def read_page(ref: PageRef, ctx: ReadContext, seq: int = 0) -> PageResult:
    """Read one page; never raises for a bad page (the problem becomes the result's reason)."""
    t0 = time.perf_counter()
    res = PageResult(source=ref.source, idx=ref.idx, sha256=None, status="unidentified")
    try:
        _read(ref, ctx, seq, res)
    except PageLoadError as exc:
        res.status, res.reason = "unidentified", str(exc)
    except Exception as exc:  # noqa: BLE001 - one bad page must not stop the batch
        res.status, res.reason = "unidentified", f"erreur inattendue en lisant la page ({type(exc).__name__}: {exc})"
        res.entries, res.halt = [], storage_problem(exc)
    res.seconds = time.perf_counter() - t0
    res.maxrss_kb = _maxrss_kb()
    return res


def reread_kept(source: str, idx: int, sha: str, image_rel: str, ctx: ReadContext, bilevel: bool | None = None,
                shape: tuple[int, int] | None = None) -> PageResult:
    """Read again a page already stored, from its kept image (a custom-form page seen before its kit's manifest;
    a page read before its kit's lists were known). `bilevel` and `shape` (height, width) are the stored page's:
    the kept PNG of a rendered 1-bit page no longer shows it was black and white, and a kept JPEG first read at
    half size (sources.DOWNSCALE_ABOVE_DPI) is decoded at half size again, so that the page is read from the same
    pixels (`bilevel` None, a page stored before it was recorded: told by the kept pixels). The result keeps the
    page's identity (sha256, image path); nothing is written but snippets. Never raises."""
    t0 = time.perf_counter()
    res = PageResult(source=source, idx=idx, sha256=sha, status="unidentified", image_path=image_rel)
    try:
        rel = Path(image_rel)
        path = Path(ctx.files_dir).parent / rel
        gray = load_kept(path, shape)
        res.height, res.width = gray.shape
        _read_gray(gray, sha, ctx, 0, res, two_levels(gray) if bilevel is None else bilevel)
    except PageLoadError as exc:
        res.status, res.reason = "unidentified", f"image conservée illisible ({exc})"
    except Exception as exc:  # noqa: BLE001
        res.status, res.reason = "unidentified", f"erreur inattendue en relisant la page ({type(exc).__name__}: {exc})"
        res.entries, res.halt = [], storage_problem(exc)
    res.seconds = time.perf_counter() - t0
    return res


def _read(ref: PageRef, ctx: ReadContext, seq: int, res: PageResult) -> None:
    page = load_page(ref)
    res.sha256 = page.sha256
    if page.sha256 in ctx.known.get((ref.source, ref.idx), ()):
        res.status = "skip"
        return
    gray = page.gray
    res.height, res.width = gray.shape
    res.dpi, res.bilevel = round(page.dpi, 1), page.bilevel
    img_rel = f"pages/{page.sha256}{page.ext}"
    write_atomic(Path(ctx.files_dir) / img_rel, evidence_bytes(page))
    res.image_path = f"{ctx.rel_prefix}/{img_rel}"
    _read_gray(gray, page.sha256, ctx, seq, res, page.bilevel)


def _read_gray(gray: np.ndarray, sha: str, ctx: ReadContext, seq: int, res: PageResult,
               bilevel: bool = False) -> None:
    ident = identify(gray, ctx.custom_forms, ctx.kits)
    if not ident.ok:
        res.reason = ident.reason
        if ident.unknown_form:
            res.payload = ident.payload  # kept: a second pass can read it once the kit's manifest is known
        return
    if ident.manifest_chunks is not None:
        res.status = "identified"
        res.manifest_chunks = ident.manifest_chunks
        kits = sorted({c[0] for c in ident.manifest_chunks})
        parts = ", ".join(f"{c[1]}/{c[2]}" for c in ident.manifest_chunks)
        res.reason = f"page manifeste du kit {', '.join(kits)} (QR {parts}) : formulaires et listes du kit"
        return
    assert ident.ident and ident.layout and ident.form and ident.payload
    pid = ident.ident
    res.payload = ident.payload
    try:
        al = align(gray, ident.layout, ident.qrs or [], ident.payload)
    except AlignError as exc:
        res.reason = f"page {pid.page_key} reconnue mais impossible à caler : {exc} — renumérisez-la à plat"
        return
    res.status = "identified"
    res.known_sets = sorted(ctx.known_values)
    res.form, res.form_version, res.kit_id, res.serial = pid.form, pid.form_version, pid.kit_id, pid.serial
    res.page_key = pid.page_key
    res.orientation, res.residual_mm, res.align_method = al.orientation, round(al.residual_mm, 3), al.method
    aligned, punched, flat = _aligned(gray, al, ident.layout, bilevel)
    if flat.flattened_from:
        res.align_method = f"{al.method}+flattened"
    dark = mk.darkness(aligned)  # once per page: marks, writing zones and the copie trace all measure on it
    doubts = page_doubts(aligned, dark, ident.form, ident.layout, al, bilevel, punched, flat)
    res.bend_mm = doubts.bend_mm
    res.entries = read_fields(aligned, dark, ident.layout, ctx, sha, pid.kit_id, pid.serial, doubts, bilevel)
    # what an empty « copie n° » box may still hold: measured only when the box reads empty (_copy_number)
    empty_copy = any(fr.name == "copie" and not fr.has_ink for fr in res.entries[-1].fields)
    copy_doubts = (_copy_box_trace(dark, ident.layout), _copy_box_binarised(aligned, ident.layout),
                   _copy_edge_ink(dark, ident.layout), _copy_box_faint(dark, ident.layout)) if empty_copy else ()
    res.copy = _copy_number(res.entries, *copy_doubts)
    if res.copy is None:
        _copy_snippet(res.entries, aligned, ident.layout, ctx, sha)
    if doubts.page:
        res.reason, res.rescan = f"{doubts.page} : toutes les valeurs à vérifier", True
    elif doubts.faded:
        res.faded = len(doubts.faded)
        res.reason = f"{FADED_PAGE} : {res.faded} champ(s) à vérifier"
    res.noisy = sum(1 for en in res.entries for fr in en.fields if NOISY_FIELD in (fr.reason or ""))
    res.tinted = sum(1 for en in res.entries for fr in en.fields if TINTED_FIELD in (fr.reason or ""))
    if res.noisy and not res.reason:
        res.reason = f"{NOISY_FIELD} : {res.noisy} case(s) à vérifier"
    if res.tinted and not res.reason:
        res.reason = f"{TINTED_FIELD} : {res.tinted} champ(s) à vérifier"
    if ctx.keep_work:
        draw_work(aligned, ident.layout, res, Path(ctx.keep_work) / f"{seq:06d}_{pid.page_key}.png")


# --- fields ------------------------------------------------------------------------------------------------------


def _bbox(r: Rect) -> list[float]:
    return [round(r.x, 2), round(r.y, 2), round(r.w, 2), round(r.h, 2)]


def _snippet(aligned: np.ndarray, zone: Rect, ctx: ReadContext, sha: str, row: int, name: str) -> str:
    m = SNIPPET_MARGIN_MM
    h, w = aligned.shape
    y0, y1 = max(0, int((zone.y - m) * K)), min(h, int((zone.y + zone.h + m) * K))
    x0, x1 = max(0, int((zone.x - m) * K)), min(w, int((zone.x + zone.w + m) * K))
    ok, buf = cv2.imencode(".jpg", aligned[y0:y1, x0:x1], SNIPPET_JPEG)
    rel = f"snippets/{sha[:2]}/{sha}/r{row:02d}_{name}.jpg"
    write_atomic(Path(ctx.files_dir) / rel, buf.tobytes())
    return f"{ctx.rel_prefix}/{rel}"


def _read_marks(f: FieldGeom, scores: list[tuple[str | None, float, float]],
                halos: list[float] | None = None, noisy: bool = False) -> FieldResult:
    """A choice, multi or checkbox field from its spots' baseline-corrected (darkness, ink fraction), and for
    bubbles the page-corrected ink in each bubble's halo (a mark drawn beside its bubble). `noisy`: the image's
    grain there is coarse (noise.py; its ink fraction was measured on the page median-filtered); a field then in
    review says so."""
    res = _read_marks_plain(f, scores, halos)
    if res.status == "auto" and res.confidence < MARK_REVIEW_CONFIDENCE:  # a spot close to its threshold
        near = [v for v, s, fr in scores if mk.mark_confidence(s, fr) < MARK_REVIEW_CONFIDENCE]
        res.status, res.has_ink, res.reason = "review", True, NEAR_FIELD
        read = res.value if isinstance(res.value, list) else [res.value]
        res.alternatives = [v for v in near if v not in read and v is not None]
    if noisy and res.status == "review":
        res.reason = f"{NOISY_FIELD} : {res.reason}"
    return res


def _read_marks_plain(f: FieldGeom, scores: list[tuple[str | None, float, float]],
                      halos: list[float] | None) -> FieldResult:
    verdicts = [(v, s, mk.classify(s, fr)) for v, s, fr in scores]
    bbox = _bbox(f.ink_zone())
    conf_all = min([mk.mark_confidence(s, fr) for _, s, fr in scores] or [0.99])
    if f.type == "checkbox":
        _, s, c = verdicts[0]
        if c == "unsure":
            return FieldResult(f.name, f.type, True, "review", 0.5, [False], "case à peine marquée : cochée ou non ?",
                               True, bbox_mm=bbox)
        return FieldResult(f.name, f.type, c == "marked", "auto", conf_all, [], None, c == "marked", bbox_mm=bbox)
    marked = [(v, s) for v, s, c in verdicts if c == "marked"]
    unsure = [(v, s) for v, s, c in verdicts if c == "unsure"]
    has_ink = bool(marked or unsure)
    if not has_ink and halos and max(halos) >= HALO_INK_MIN:
        # nothing inside the bubbles, but ink right beside one: a tick drawn next to its bubble -> a person looks
        near = [v for (v, _, _), h in sorted(zip(verdicts, halos), key=lambda t: -t[1]) if h >= HALO_INK_MIN]
        return FieldResult(f.name, f.type, [] if f.type == "multi" else None, "review", 0.5, near,
                           "marque à côté des cases", True, bbox_mm=bbox)
    if f.type == "multi":
        value = [v for v, _ in marked]
        if unsure:
            return FieldResult(f.name, f.type, value, "review", 0.5, [v for v, _ in unsure],
                               "case(s) à peine marquée(s)", True, bbox_mm=bbox)
        return FieldResult(f.name, f.type, value, "auto", conf_all, [], None, has_ink, bbox_mm=bbox)
    # single choice
    if not marked and not unsure:
        return FieldResult(f.name, f.type, None, "auto", conf_all, [], None, False, bbox_mm=bbox)
    ranked = sorted(marked + unsure, key=lambda t: -t[1])
    best = ranked[0]
    if len(marked) == 1 and not unsure:
        return FieldResult(f.name, f.type, best[0], "auto", conf_all, [], None, True, bbox_mm=bbox)
    if len(marked) >= 2:
        reason = "plusieurs cases cochées"
    elif marked:
        reason = "une case cochée et une autre à peine marquée"
    else:
        reason = "case à peine marquée"
    return FieldResult(f.name, f.type, best[0], "review", 0.5, [v for v, _ in ranked[1:]], reason, True,
                       bbox_mm=bbox)


def _digit_crops(aligned: np.ndarray, boxes: tuple[Rect, ...], margin_mm: float) -> list[np.ndarray]:
    """Each box plus a margin, always the same pixel size for a given box size (the reader stacks them): a
    read-only view of the aligned page (the reader copies its batch), padded with paper only at the page's edge."""
    h, w = aligned.shape
    out = []
    for b in boxes:
        ch, cw = _px(b.h + 2 * margin_mm), _px(b.w + 2 * margin_mm)
        y0, x0 = _px(b.y - margin_mm), _px(b.x - margin_mm)
        if y0 >= 0 and x0 >= 0 and y0 + ch <= h and x0 + cw <= w:
            crop = aligned[y0:y0 + ch, x0:x0 + cw].view()
            crop.flags.writeable = False
            out.append(crop)
            continue
        crop = np.full((ch, cw), 255, np.uint8)
        sy0, sx0 = max(0, y0), max(0, x0)
        sy1, sx1 = min(h, y0 + ch), min(w, x0 + cw)
        if sy1 > sy0 and sx1 > sx0:
            crop[sy0 - y0:sy1 - y0, sx0 - x0:sx1 - x0] = aligned[sy0:sy1, sx0:sx1]
        out.append(crop)
    return out


def _digits_blank(f: FieldGeom) -> FieldResult:
    return FieldResult(f.name, f.type, "", "auto", 0.99, [], None, False, bbox_mm=_bbox(f.ink_zone()))


def _digits_result(f: FieldGeom, ink: str, readings: list[Any] | None, api: Any, ctx: ReadContext,
                   expected_sum: int | None = None, raw: dict[int, Any] | None = None,
                   strictness: float = 1.0) -> FieldResult:
    """A digit field with ink in it: the reader's decision (or review with the snippet when no reader).
    `strictness`: its thresholds ask that many times less risk (a grainy photo: papier.digits.GRAIN_STRICTNESS)."""
    d = f.defn
    bbox = _bbox(f.ink_zone())
    if api is None or readings is None:
        why = "chiffres à lire (lecteur non installé)" if api is None else "lecteur de chiffres en panne"
        return FieldResult(f.name, f.type, None, "review", 0.0, [], why, True, bbox_mm=bbox)
    known = _known_of(d, ctx)
    kw: dict[str, Any] = {"semantic": d.semantic, "check": d.check, "known": known}
    near = _near_period(d, ctx) if known is not None else None
    if near:
        kw["near"] = near
    if d.known and known is None:
        kw["known_missing"] = True  # the kit's manifest was not read: the strictest threshold (read_digit_field)
    if expected_sum is not None:
        kw["expected_sum"] = expected_sum
    if strictness != 1.0:
        kw["strictness"] = strictness
    try:
        r = api.read_digit_field(readings, **kw)
    except Exception as exc:  # noqa: BLE001 - a broken reader must not lose the page: the snippet goes to review
        return FieldResult(f.name, f.type, None, "review", 0.0, [],
                           f"lecteur de chiffres en panne ({type(exc).__name__})", True, bbox_mm=bbox)
    value = r.value if r.value is not None else ""
    status = r.status if r.status in ("auto", "review") else "review"
    reason = r.reason
    has_ink = not bool(getattr(r, "blank", False))
    if not has_ink:
        # the reader saw nothing, the zone measurement saw ink: never silently blank
        status, reason, has_ink = "review", reason or "trace d'encre dans les cases", True
    if d.review_always and status == "auto":
        status, reason = "review", "champ à double vérification"
    alts = [a if isinstance(a, (str, int, float)) else list(a) for a in (r.alternatives or [])]
    res = FieldResult(f.name, f.type, value, status, float(r.confidence), alts, reason, has_ink, bbox_mm=bbox)
    if raw is not None and not d.review_always and reason == r.reason:
        raw[id(res)] = r  # the reader's own verdict, kept for the page-total check (_joint_totals)
    return res


def _known_of(d: FieldDef, ctx: ReadContext) -> frozenset[str] | None:
    """The known set a digit field is read with: the kit's list it names, or the crisis period for a `recent`
    date, PERIOD_AFTER_DAYS longer for a `due` one (a loan's due date lies after the day it is written; None:
    neither, or the list is not available)."""
    span = _period_of(d, ctx)
    if span is not None:
        return dates_between(span[0], span[1], d.semantic or "")
    return ctx.known_set(d.known)


def _period_of(d: FieldDef, ctx: ReadContext) -> tuple[_dt.date, _dt.date] | None:
    """The first and last day a `recent` date field is read with (None: not such a field, or no period)."""
    if not (d.recent and ctx.period and d.semantic):
        return None
    end = _dt.date.fromisoformat(ctx.period[1])
    if d.due:
        from papier.digits.policy import PERIOD_AFTER_DAYS

        end += _dt.timedelta(days=PERIOD_AFTER_DAYS)
    return _dt.date.fromisoformat(ctx.period[0]), end


def _near_period(d: FieldDef, ctx: ReadContext) -> frozenset[str] | None:
    """The dates up to NEAR_PERIOD_DAYS outside a `recent` date field's period, before and after it (None: not
    such a field): a slip there is plausible (papier.digits.policy.NEAR_PERIOD_PRIOR)."""
    span = _period_of(d, ctx)
    if span is None:
        return None
    from papier.digits.policy import NEAR_PERIOD_DAYS

    gap, one = _dt.timedelta(days=NEAR_PERIOD_DAYS), _dt.timedelta(days=1)
    return (dates_between(span[0] - gap, span[0] - one, d.semantic or "")
            | dates_between(span[1] + one, span[1] + gap, d.semantic or ""))


def _read_all_digits(todo: list[tuple[FieldGeom, str]], aligned: np.ndarray,
                     bilevel: bool = False) -> tuple[Any, list[Any] | None]:
    """One batched call of the digit reader for every inked digit field of the page. A binarised capture is the
    page's, not a box's: on a page captured in black and white (`bilevel`), or whose boxes the reader mostly finds
    binarised (BINARISED_PAGE_SHARE), every box is read as binarised (`flat`: a pale digit may have vanished
    without a trace there). Box by box, a fax's dotted box lines warped into greys left two blank leading boxes of
    an amount looking grey (test_lost_digit, session 19), which would have given that amount the grey capture's
    small lost-digit risk."""
    api = _digits_api()
    if api is None or not todo:
        return api, None
    margin = float(getattr(api, "CROP_MARGIN_MM", 1.0))
    crops: list[np.ndarray] = []
    for f, _ in todo:
        crops.extend(_digit_crops(aligned, f.boxes, margin))
    try:
        readings = list(api.read_boxes(crops))
    except Exception:  # noqa: BLE001 - see _digits_result: every field goes to review with its snippet
        return api, None
    if readings and (bilevel or sum(r.flat for r in readings) >= BINARISED_PAGE_SHARE * len(readings)):
        readings = [r if r.flat else replace(r, flat=True) for r in readings]
    out, k = [], 0
    for f, _ in todo:
        out.append(readings[k:k + len(f.boxes)])
        k += len(f.boxes)
    return api, out


def read_fields(aligned: np.ndarray, dark: mk.Darkness, layout: PageLayout, ctx: ReadContext, sha: str,
                kit_id: str, serial: int, doubts: PageDoubts, bilevel: bool = False) -> list[EntryResult]:
    plan = mk.mark_plan(layout)
    shifts = mk.registration(dark, plan)  # where the printed bubbles really are (a few px off after alignment)
    raw, frac = mk.measure_marks(dark, plan, shifts, bilevel)
    halo = mk.measure_halos(dark, plan, shifts)
    base, base_frac = mk.baseline(raw), mk.baseline(frac)
    if doubts.noisy:  # grain reaches the ink share a thin tick gives: the share is read where a median took it out
        _, frac_dn = mk.measure_marks(mk.Darkness(cv2.medianBlur(aligned, NOISE_MEDIAN_PX)), plan, shifts, bilevel)
        frac = np.where([sp.field_key in doubts.noisy for sp in plan.spots], frac_dn - mk.baseline(frac_dn) + base_frac,
                        frac)
    spot_scores: dict[tuple[int, int], list[tuple[str | None, float, float]]] = {}
    spot_halos: dict[tuple[int, int], list[float]] = {}
    for i, (spot, v, fr) in enumerate(zip(plan.spots, raw, frac)):
        spot_scores.setdefault(spot.field_key, []).append((spot.value, float(v) - base, float(fr) - base_frac))
        if i < plan.n_bubbles:
            spot_halos.setdefault(spot.field_key, []).append(float(halo[i]))
    printed = layout.printed_values(kit_id, serial)

    # pass 1: marks, ink in writing zones; digit fields with ink are read in one batch afterwards
    results: dict[tuple[int, int], FieldResult] = {}
    digit_todo: list[tuple[FieldGeom, str]] = []
    digit_keys: list[tuple[int, int]] = []
    for e in layout.entries:
        for fi, f in enumerate(e.fields):
            if f.type in ("choice", "multi", "checkbox"):
                results[(e.row, fi)] = _read_marks(f, spot_scores[(e.row, fi)], spot_halos.get((e.row, fi)),
                                                   (e.row, fi) in doubts.noisy)
                if (e.row, fi) in doubts.tinted:  # under a marker's band a tick and its absence both look inked
                    results[(e.row, fi)].has_ink = True
                    _to_review(results[(e.row, fi)], TINTED_FIELD)
                if f.type == "checkbox" and results[(e.row, fi)].has_ink and _spill_mm2(dark, f) >= SPILL_MIN_MM2:
                    _to_review(results[(e.row, fi)], SPILL_FIELD)
                if (e.row, fi) in doubts.touching and results[(e.row, fi)].value is not True:
                    results[(e.row, fi)].has_ink = True  # a mark across the box's edge, its inside left empty
                    _to_review(results[(e.row, fi)], TOUCH_FIELD)
                hit = doubts.foreign.get((e.row, fi))
                # grain clumps in the ring count as foreign ink too: a field the grain already sent to review keeps
                # that reason alone (a grainy field accepted is still checked for a stroke across it)
                grainy = (e.row, fi) in doubts.noisy and NOISY_FIELD in (results[(e.row, fi)].reason or "")
                if hit and not grainy and (results[(e.row, fi)].has_ink if f.type == "checkbox"
                                           else _read_any(results[(e.row, fi)], hit)):  # a stroke across a mark
                    _to_review(results[(e.row, fi)], FOREIGN_FIELD)
                continue
            ink = mk.ink_verdict(mk.ink_area_mm2(dark, mk.field_zones(f)))
            if f.type == "digits":
                if ink == "blank" and _digit_trace_mm2(dark, f) >= COPY_TRACE_MM2:
                    ink = "faint"  # ink the writing-zone test dropped (a fax-dithered pencil digit): read it
                if ink == "blank":
                    results[(e.row, fi)] = _digits_blank(f)
                else:
                    digit_todo.append((f, ink))
                    digit_keys.append((e.row, fi))
            elif ink == "blank":
                results[(e.row, fi)] = FieldResult(f.name, f.type, None, "auto", 0.99, [], None, False,
                                                   bbox_mm=_bbox(f.ink_zone()))
            else:  # text: transcription happens in the review page
                results[(e.row, fi)] = FieldResult(f.name, f.type, None, "review", 0.0, [], "écriture à transcrire",
                                                   True, bbox_mm=_bbox(f.ink_zone()))
    for key in doubts.faded.keys() & results.keys():
        _faded(results[key])
    api, readings = _read_all_digits(digit_todo, aligned, bilevel)
    # a grainy photo (noise.py found grain at its marks): the reader was not calibrated on such images
    strictness = float(api.GRAIN_STRICTNESS) if doubts.noisy and api is not None else 1.0
    raw_digits: dict[int, Any] = {}
    # pass 2: digit decisions; page totals last, with the sum of the lines when every line is certain
    line_rows = {e.row for e in layout.line_entries}
    order = sorted(range(len(digit_todo)), key=lambda i: digit_keys[i][0] not in line_rows)
    for i in order:
        f, ink = digit_todo[i]
        expected = None
        if f.defn.sum_of:
            partial = [EntryResult(e.row, e.kind, {}, True, [results[(e.row, fi)] for fi in range(len(e.fields))
                                                             if (e.row, fi) in results])
                       for e in layout.line_entries]
            expected = _expected_sum(layout, partial, f.defn.sum_of)
        results[digit_keys[i]] = _digits_result(f, ink, readings[i] if readings is not None else None, api, ctx,
                                                expected, raw_digits, strictness)
        if digit_keys[i] in doubts.faded:  # before the page total is read: its lines' sum is then unknown
            _faded(results[digit_keys[i]])
        if _run_on_into(dark, layout, digit_keys[i]):  # a text's last letters in the first box read as a digit
            _to_review(results[digit_keys[i]], RUN_ON_FIELD)

    for key in doubts.holes.keys() & results.keys():  # what was written there may be gone with the paper
        results[key].has_ink = True  # looked at, with its snippet (to review last: _apply_doubts)
    entries: list[EntryResult] = []
    for e in layout.entries:
        fields = [results[(e.row, fi)] for fi in range(len(e.fields))]
        for (fi, f), fr in zip(enumerate(e.fields), fields):
            if fr.has_ink and f.type in ("text", "digits"):
                fr.snippet = _snippet(aligned, f.ink_zone(), ctx, sha, e.row, f.name)
        entries.append(EntryResult(e.row, e.kind, printed.get(e.row, {}), any(x.has_ink for x in fields), fields))
    _journal_order(layout, entries, api, raw_digits, ctx, strictness)
    _joint_totals(layout, entries, api, raw_digits, strictness)
    _check_totals(layout, entries)
    _apply_doubts(entries, doubts)
    return entries


FADED_FIELD = "zone trop claire sur l'image (reflet ?) : à lire sur la page"
FADED_PAGE = "reflet ou zone trop claire sur l'image"
NOISY_FIELD = "image sombre ou granuleuse"
TINTED_FIELD = "case surlignée ou tachée"
SPILL_FIELD = "trait venu d'à côté de la case (écriture qui déborde, tampon)"
UNCHECKED_FIELD = "feuille pliée, redressée : case pas retrouvée à sa place, à vérifier"
HOLE_FIELD = "trou de perforation sur la case : à lire sur la feuille"
RUN_ON_FIELD = "écriture venue de la case de gauche : chiffres à vérifier"
TOUCH_FIELD = "une marque touche le bord de la case sans la remplir : cochée ou non ?"
NEAR_FIELD = "case à peine marquée ou à peine vide : cochée ou non ?"
FOREIGN_FIELD = "un trait venu d'ailleurs passe sur la case (tampon, écriture qui déborde ?)"


def _aligned(gray: np.ndarray, al: Alignment, layout: PageLayout, bilevel: bool = False
             ) -> tuple[np.ndarray, list[holes.Hole], flatness.Flatness]:
    """The page warped to its layout, a binder's holes painted as paper (holes.py: a hole's rim must not look like
    a bent frame), and how flat it is (flatness.py). A page that does not lie flat is warped again, each point
    read where its printed frames were found (flatness.displacement), and measured again: what is still not
    where it should be after that goes to review (page_doubts). Not a bilevel page (a fax): its grey print is
    dithered into dots, which the lines the flattening looks for (flatness._Lines) do not survive (a fax page
    measured not flat stays in review)."""
    aligned = warp(gray, al, layout.size_mm)
    punched = holes.find(aligned, layout)  # a binder's holes, the scanner's background: paper not there
    holes.paint(aligned, punched)
    flat = flatness.measure(aligned, layout)
    if bilevel or al.residual_mm > RESIDUAL_REVIEW_MM or flat.bend_mm <= BEND_REVIEW_MM:
        return aligned, punched, flat
    shift = flatness.displacement(flatness.axis_shifts(aligned, layout), layout.size_mm)
    if shift is None:
        return aligned, punched, flat
    grid = flatness.grid_mm(layout.size_mm)
    for _ in range(FLATTEN_REFINE):  # measured again on the flattened page: what is left, added
        more = flatness.displacement(flatness.axis_shifts(warp(gray, al, layout.size_mm, shift, grid), layout),
                                     layout.size_mm)
        if more is None:
            break
        shift = shift + more
    aligned = warp(gray, al, layout.size_mm, shift, grid)
    punched = holes.find(aligned, layout)
    holes.paint(aligned, punched)
    return aligned, punched, flatness.after_flattening(aligned, layout, flat.bend_mm)


@dataclass(frozen=True)
class PageDoubts:
    """What the page's capture casts on values read where the layout puts them."""
    page: str | None                          # why no value of the page can be trusted (French), if so
    off: dict[tuple[int, int], float]         # (row, field index) → mm: a field's frame found away from its place
    faded: dict[tuple[int, int], float]       # (row, field index) → print contrast: ink there may be unseen
    bend_mm: float = 0.0
    noisy: dict[tuple[int, int], float] = field(default_factory=dict)  # mark fields → grain: a tick may be noise
    tinted: dict[tuple[int, int], float] = field(default_factory=dict)  # mark fields on a marker's band, a stain
    foreign: dict[tuple[int, int], dict[str, float]] = field(default_factory=dict)  # marks with ink not print around
                                                                                 # (option value, "" for a box: mm²)
    holes: dict[tuple[int, int], float] = field(default_factory=dict)  # fields partly under a binder's hole
    touching: dict[tuple[int, int], float] = field(default_factory=dict)  # checkboxes with ink on or just past
                                                                         # their edge (edge-band ink, mm²: touching
                                                                         # and widened in foreign.py)
    unchecked: frozenset[tuple[int, int]] = frozenset()  # a flattened page's mark fields not found in place


def page_doubts(aligned: np.ndarray, dark: mk.Darkness, form: FormDef, layout: PageLayout, al: Alignment,
                bilevel: bool, punched: list[holes.Hole] | None = None,
                flat: flatness.Flatness | None = None) -> PageDoubts:
    """A page aligned badly or not lying flat (flatness.py) sends all its values to review; a field whose printed
    frame was found away from its place, or fainter than the page's print (a reflection, fade.py), that field; a
    mark field where the image's grain is coarse (a dark photo, noise.py) is read without trusting thin ink; one
    whose bubble or box sits on a wide tint (a fluorescent marker, a stain: tint.py) goes to review, and so does one
    whose marked bubble or box has ink that is not print around it (a rubber stamp, writing run on: foreign.py); a
    field partly under a binder's hole (`punched`, painted as paper: holes.py) goes to review whatever it reads."""
    flat = flat or flatness.measure(aligned, layout)
    page = None
    if al.residual_mm > RESIDUAL_REVIEW_MM:
        page = f"page mal calée ({al.residual_mm:.2f} mm)"
    elif flat.bend_mm > BEND_REVIEW_MM:
        page = f"page pas à plat (pliée ou gondolée : cases décalées de {flat.bend_mm:.1f} mm)"
    # a page not where the layout says is measured nowhere for fading; a fax's grey print is dithered into dots
    faded = {} if page or bilevel else fade.measure(dark, layout).faded
    noisy = {} if page or bilevel else noise.noisy_fields(aligned, dark, layout)
    wide = None if page else tint.wide_dark(aligned, dark)  # marker bands, stains: tints, not strokes
    tinted = {} if wide is None else tint.tinted_fields(wide, layout)
    strays = {} if wide is None else foreign.crossed(dark, form, layout, wide)
    # a mark across a checkbox's edge: ink in its edge band, or its own lines darkened by a blot laid over them
    # that the edge band leaves out (beside a writing zone)
    touch = {} if wide is None else foreign.touching(dark, form, layout, wide)
    runs = {} if wide is None else foreign.widened(dark, layout)
    edges = {k: v for k, v in touch.items() if v >= TOUCH_REVIEW_MM2 or runs.get(k, 0.0) >= BOX_LINE_RUN_MM}
    under_hole = holes.covered_fields(punched or [], layout)
    return PageDoubts(page, flat.off, faded, round(flat.bend_mm, 2), noisy, tinted, strays, under_hole, edges,
                      flat.unchecked)


def _read_any(fr: FieldResult, values: dict[str, float]) -> bool:
    """Whether the field read one of `values` (its value, or a marked or unsure option kept as an alternative)."""
    read = fr.value if isinstance(fr.value, list) else [fr.value]
    return any(str(v) in values for v in [*read, *fr.alternatives] if v is not None)


def _spill_mm2(dark: mk.Darkness, f: FieldGeom) -> float:
    """Ink (mm²) in the gap SPILL_GAP_MM left of a checkbox, or above or below it (its label is on the right),
    whichever holds most: initials or a name written on past their own box into the « Annulé » box beside it, the
    border of a rubber stamp across it — strokes that come from outside, where a tick does not reach."""
    assert f.box is not None
    b, (near, far), m = f.box, SPILL_GAP_MM, ZONE_INSET_MM  # ink_area_mm2 insets its zones by ZONE_INSET_MM
    across, width = far - near + 2 * m, b.w + 2 * m
    gaps = (_left_gap(b),
            Rect(b.x - m, b.y - far - m, width, across),         # above
            Rect(b.x - m, b.y + b.h + near - m, width, across))  # below
    return max(mk.ink_area_mm2(dark, [g]) for g in gaps)


def _left_gap(b: Rect) -> Rect:
    """The gap SPILL_GAP_MM left of box `b`, as a zone for marks.ink_area_mm2 (which insets by ZONE_INSET_MM)."""
    (near, far), m = SPILL_GAP_MM, ZONE_INSET_MM
    return Rect(b.x - far - m, b.y - m, far - near + 2 * m, b.h + 2 * m)


def _run_on_into(dark: mk.Darkness, layout: PageLayout, key: tuple[int, int]) -> bool:
    """Whether writing from a text box that ends just left of digit field `key` runs on into its first box: ink
    (SPILL_MIN_MM2 or more) in the gap SPILL_GAP_MM left of that box (a period « oct. 2026 » whose 6 lands in the
    first box of a cheque number is read as the cheque number 6: scan bench, writing run on, seed 9)."""
    entry = next(e for e in layout.entries if e.row == key[0])
    b = entry.fields[key[1]].boxes[0]
    if not any(g.type == "text" and mk.ends_left_of(g.ink_zone(), b, RUN_ON_SOURCE_MM) for g in entry.fields):
        return False
    return mk.ink_area_mm2(dark, [_left_gap(b)]) >= SPILL_MIN_MM2


def _to_review(fr: FieldResult, why: str) -> None:
    """Into review for `why`; a field already in review keeps its own reason after it."""
    if fr.status == "auto":
        fr.status, fr.reason = "review", why
    elif why not in (fr.reason or ""):
        fr.reason = f"{why} ; {fr.reason}" if fr.reason else why


def _faded(fr: FieldResult) -> None:
    """Ink may be there, unseen: the field is looked at, with its snippet, like a written one."""
    fr.has_ink = True
    _to_review(fr, FADED_FIELD)


def _apply_doubts(entries: list[EntryResult], doubts: PageDoubts) -> None:
    """The page's doubts, last (after the journal order and the page total, which can accept a field): the page's
    or a field's geometry sends what was accepted to review; a faded field goes whatever it read."""
    for en in entries:
        for fi, fr in enumerate(en.fields):
            off = doubts.off.get((en.row, fi))
            if doubts.page or off is not None:
                if fr.status == "auto":
                    fr.status = "review"
                    fr.reason = doubts.page or f"case décalée de {off:.1f} mm (feuille pas à plat ?)"
            elif (en.row, fi) in doubts.unchecked and en.has_ink:
                _to_review(fr, UNCHECKED_FIELD)
            elif (en.row, fi) in doubts.faded:
                _to_review(fr, FADED_FIELD)
            if (en.row, fi) in doubts.holes:
                _to_review(fr, HOLE_FIELD)


def _line_amounts(layout: PageLayout, entries: list[EntryResult], col: str) -> list[tuple[EntryResult, FieldResult]]:
    return [(en, fr) for en in entries if en.kind != "page" for fr in en.fields if fr.name == col and fr.has_ink]


def _cancelled_rows(entries: list[EntryResult]) -> set[int]:
    return {en.row for en in entries for fr in en.fields
            if fr.type == "checkbox" and fr.name.startswith("annul") and fr.value is True}


def _expected_sum(layout: PageLayout, entries: list[EntryResult], col: str) -> int | None:
    """The sum of the lines' values of `col` when every one of them is certain (else None)."""
    amounts = _line_amounts(layout, entries, col)
    if not all(fr.status == "auto" and isinstance(fr.value, str) and fr.value.isdigit() for _, fr in amounts):
        return None
    cancelled = _cancelled_rows(entries)
    return sum(int(fr.value) for en, fr in amounts if en.row not in cancelled)


def _joint_totals(layout: PageLayout, entries: list[EntryResult], api: Any, raw: dict[int, Any],
                  strictness: float = 1.0) -> None:
    """The page total as a check over the page's amounts (papier.digits.page_sum): when the reader's best readings
    of every line amount add up exactly to its best reading of the total, and the probability that all of them
    are right given that they add up reaches the check-digit threshold, amounts and total that were in review only
    for a low confidence or a close rival are accepted. Anything else (an unsure box, an uncertain "annulée"
    tick, a field any other check flagged) leaves the page as it is."""
    joint = getattr(api, "joint_confidence", None)
    if joint is None or not entries:
        return
    geoms = {f.name: f for f in layout.page_entry.fields} if layout.page_entry is not None else {}
    for tf in entries[-1].fields:
        g = geoms.get(tf.name)
        if g is None or not g.defn.sum_of or not tf.has_ink:
            continue
        amounts = _line_amounts(layout, entries, g.defn.sum_of)
        if not amounts:
            continue
        rows_with_amount = {en.row for en, _ in amounts}
        cancel_marks = [fr for en in entries if en.row in rows_with_amount for fr in en.fields
                        if fr.type == "checkbox" and fr.name.startswith("annul")]
        if any(fr.status != "auto" for fr in cancel_marks):
            continue
        involved = [fr for _, fr in amounts] + [tf]
        if any(id(fr) not in raw or not raw[id(fr)].candidates
               or not (fr.status == "auto" or raw[id(fr)].uncertain_only) for fr in involved):
            continue
        if all(fr.status == "auto" for fr in involved):
            continue  # nothing to decide: _check_totals compares them
        cancelled = _cancelled_rows(entries)
        top = {id(fr): int(raw[id(fr)].candidates[0][0]) for fr in involved}
        kept = [fr for en, fr in amounts if en.row not in cancelled]
        c_sum = sum(top[id(fr)] for en, fr in amounts if en.row in cancelled)
        t_top = top[id(tf)]
        if sum(top[id(fr)] for fr in kept) == t_top:
            terms_f, alt = kept + [tf], ([-c_sum] if c_sum else [])
        elif sum(top[id(fr)] for _, fr in amounts) == t_top:
            terms_f, alt = [fr for _, fr in amounts] + [tf], ([c_sum] if c_sum else [])
        else:
            continue  # they don't add up: _check_totals / the fields' own reasons send them to review
        terms = [api.SumTerm(raw[id(fr)].candidates, -1 if fr is tf else 1) for fr in terms_f]
        conf = float(joint(terms, alt))
        if conf < api.stricter(float(api.PAGE_TOTAL_CONFIDENCE), strictness):
            continue
        for fr in terms_f:
            if fr.status == "review":
                fr.value = raw[id(fr)].candidates[0][0]
                fr.status, fr.reason, fr.confidence = "auto", None, conf


def _journal_order(layout: PageLayout, entries: list[EntryResult], api: Any, raw: dict[int, Any],
                   ctx: ReadContext, strictness: float = 1.0) -> None:
    """Journal order as a check (papier.digits.journal): a table's `ordered` dates (and times) never go back down
    the page, so the page's lines are read together. A field in review only for a low confidence or a close rival
    is accepted when its reader's own best reading is then sure enough; a field accepted on its own that the order
    makes unlikely goes to review. Fields are taken in the form's order (a time is compared among lines whose date
    is certain)."""
    judge = getattr(api, "journal_verdicts", None)
    if judge is None:
        return
    lines = [en for en in entries if en.kind == "line"]
    geoms = layout.line_entries[0].fields if lines and layout.line_entries else ()
    prefix: list[tuple[str, ...] | None] = [() for _ in lines]
    for fi, g in enumerate(geoms):
        d = g.defn
        if g.type != "digits" or not d.ordered:
            continue
        known = _known_of(d, ctx)
        threshold = api.stricter(api.field_threshold(d.check, known, bool(d.known) and known is None, d.semantic),
                                 strictness)
        results = [raw.get(id(en.fields[fi])) for en in lines]
        for k, (en, verdict) in enumerate(zip(lines, judge(prefix, results, d.semantic, threshold))):
            fr = en.fields[fi]
            if verdict is not None and verdict[0] == "auto":
                fr.value = raw[id(fr)].candidates[0][0]
                fr.status, fr.reason, fr.confidence = "auto", None, verdict[1]
            elif verdict is not None:
                what = "heure" if d.semantic == "time_hhmm" else "date"
                fr.status, fr.reason = "review", f"{what} hors de l'ordre du journal"
            key = api.sort_key(fr.value, d.semantic) if fr.status == "auto" and fr.has_ink and fr.value else None
            prefix[k] = None if prefix[k] is None or key is None else prefix[k] + (key,)


def _check_totals(layout: PageLayout, entries: list[EntryResult]) -> None:
    """A page control total (sum_of) must equal the sum of its lines (cancelled lines counted or not): if both
    are certain and they differ, the total and every amount of the page go to review."""
    geoms = {f.name: f for f in layout.page_entry.fields}
    for tf in entries[-1].fields:
        g = geoms.get(tf.name)
        if g is None or not g.defn.sum_of or not tf.has_ink:
            continue
        if tf.status != "auto" or not isinstance(tf.value, str) or not tf.value.isdigit():
            continue
        amounts = _line_amounts(layout, entries, g.defn.sum_of)
        if not all(fr.status == "auto" and isinstance(fr.value, str) and fr.value.isdigit() for _, fr in amounts):
            continue  # uncertain amounts are already flagged
        cancelled = _cancelled_rows(entries)
        s_all = sum(int(fr.value) for _, fr in amounts)
        s_kept = sum(int(fr.value) for en, fr in amounts if en.row not in cancelled)
        total = int(tf.value)
        if total in (s_all, s_kept):
            continue
        msg = f"total de page {total / 100:.2f} € ≠ somme des lignes {s_kept / 100:.2f} €"
        tf.status, tf.reason = "review", msg
        for _, fr in amounts:
            fr.status, fr.reason = "review", msg


def _digit_trace_mm2(dark: mk.Darkness, f: FieldGeom) -> float:
    """Ink (mm²) in a digit field's boxes counted pixel by pixel, one or two toner specks per box left out: the
    writing-zone test (2x2 opening) also erases a pencil digit dithered into dots by a fax; such a field must be
    read (and sent to review when the reader sees nothing), never stored blank. Same rule as the « copie n° »."""
    total = 0
    for ink in dark.inks(mk.field_zones(f)):
        if not ink.any():
            continue
        rim = mk.speck_rim(ink, np.ones(ink.shape, bool))  # mk.drop_specks, on the ink mask
        total += int(np.count_nonzero(ink if rim is None else ink & ~rim))
    return total / (K * K)


def _copy_geom(layout: PageLayout) -> FieldGeom | None:
    """The « copie n° » boxes of a page (None when its form has none)."""
    return next((g for g in layout.page_entry.fields if g.name == "copie"), None)


def _copy_box_trace(dark: mk.Darkness, layout: PageLayout) -> float:
    """Ink (mm²) in the « copie n° » boxes counted pixel by pixel (_digit_trace_mm2): the blank test of writing
    zones removes every speck (a 2x2 opening), and that also removes a pencil digit dithered into dots by a fax
    (measured: a pencil "2" left 0.06 mm² after the opening, 1.2 mm² before). 0.0 when the form has no such box."""
    f = _copy_geom(layout)
    return 0.0 if f is None else _digit_trace_mm2(dark, f)


def _copy_box_faint(dark: mk.Darkness, layout: PageLayout) -> int:
    """Pixels of the « copie n° » boxes' writing zones darker than COPY_FAINT_DARKNESS: a digit a blur has made
    paler than INK_DARKNESS everywhere (0 when the form has no such box)."""
    f = _copy_geom(layout)
    if f is None:
        return 0
    return sum(int(np.count_nonzero(dark.crop(*mk.zone_slices(z)) > COPY_FAINT_DARKNESS)) for z in mk.field_zones(f))


def _copy_edge_ink(dark: mk.Darkness, layout: PageLayout) -> bool:
    """Whether a stroke lies on the « copie n° » boxes' edges, where the writing-zone test does not look: ink
    beside the printed lines (_off_print_ink_mm2 ≥ COPY_EDGE_MM2) or over them (_line_widening_mm ≥
    COPY_LINE_RUN_MM). A digit drawn over a box line leaves nothing inside the boxes."""
    f = _copy_geom(layout)
    return f is not None and (_off_print_ink_mm2(dark, f) >= COPY_EDGE_MM2
                              or _line_widening_mm(dark, f) >= COPY_LINE_RUN_MM)


def _px(mm: float) -> int:
    """A length or position in mm as pixels of the aligned page."""
    return int(round(mm * K))


def _off_print_ink_mm2(dark: mk.Darkness, f: FieldGeom) -> float:
    """Ink (mm²) within COPY_EDGE_BAND_MM of a digit field's boxes, outside their writing zones and outside their
    printed outlines (± COPY_EDGE_LINE_TOL_MM), specks removed."""
    band = COPY_EDGE_BAND_MM
    x0, y0 = f.boxes[0].x - band, min(b.y for b in f.boxes) - band
    x1, y1 = f.boxes[-1].x + f.boxes[-1].w + band, max(b.y + b.h for b in f.boxes) + band
    ys, xs = slice(_px(y0), _px(y1)), slice(_px(x0), _px(x1))
    ink = dark.ink(ys, xs)
    if ink.size == 0 or not ink.any():
        return 0.0
    print_zone = np.zeros(ink.shape, np.uint8)
    for b in f.boxes:
        cv2.rectangle(print_zone, (_px(b.x - x0), _px(b.y - y0)),
                      (_px(b.x + b.w - x0), _px(b.y + b.h - y0)), 1, 1)
    t = _px(COPY_EDGE_LINE_TOL_MM)
    print_zone = cv2.dilate(print_zone, np.ones((2 * t + 1, 2 * t + 1), np.uint8))
    for b in f.boxes:
        zy, zx = mk.zone_slices(b)
        print_zone[zy.start - ys.start:zy.stop - ys.start, zx.start - xs.start:zx.stop - xs.start] = 1
    rest = (ink & (print_zone == 0)).view(np.uint8)
    return cv2.countNonZero(cv2.morphologyEx(rest, cv2.MORPH_OPEN, mk.OPEN_2X2)) / (K * K)


def _line_widening_mm(dark: mk.Darkness, f: FieldGeom) -> float:
    """The longest stretch (mm) of a digit field's box lines where the darkness summed across the line is
    COPY_LINE_EXTRA more than the print's (marks.line_runs_mm): a stroke drawn along a line."""
    runs = mk.line_runs_mm(dark, list(f.boxes), COPY_LINE_BAND_MM, COPY_LINE_INSET_MM, COPY_LINE_EXTRA)
    return float(runs.max()) if len(runs) else 0.0


def _copy_box_binarised(aligned: np.ndarray, layout: PageLayout) -> bool:
    """Whether the « copie n° » boxes come from a binarised capture (a fax, a black-and-white scan: most of each
    box crop at the lightest grey, almost no grey; papier.digits.preprocess.binarised). There a pale digit can
    vanish without a single pixel left (measured: 1.2 % of fax digits), so an empty box proves nothing."""
    api = _digits_api()
    f = _copy_geom(layout)
    if api is None or f is None or not hasattr(api, "binarised"):
        return False
    crops = _digit_crops(aligned, f.boxes, float(getattr(api, "CROP_MARGIN_MM", 1.0)))
    return bool(np.mean(api.binarised(np.stack(crops))) > 0.5)


def _copy_snippet(entries: list[EntryResult], aligned: np.ndarray, layout: PageLayout, ctx: ReadContext,
                  sha: str) -> None:
    """The « copie n° » field sent to review needs its picture (read_fields makes snippets before this check)."""
    en = entries[-1]
    for fr in en.fields:
        if fr.name == "copie" and fr.has_ink and not fr.snippet:
            g = _copy_geom(layout)
            assert g is not None  # a copie result comes from its boxes
            fr.snippet = _snippet(aligned, g.ink_zone(), ctx, sha, en.row, fr.name)


def _copy_number(entries: list[EntryResult], trace_mm2: float = 0.0, binarised: bool = False,
                 edge_ink: bool = False, faint_px: int = 0) -> int | None:
    """The handwritten "copie n°": blank → 0 (the original); read with certainty → that number; else None.
    "Blank" means no ink at all: a trace the writing-zone test left out (`trace_mm2`, see _copy_box_trace) makes
    the copy number unsure, never 0 (taking a copy for the original would merge two different sheets); so does
    a stroke on the boxes' edges (`edge_ink`, see _copy_edge_ink), pale ink in the boxes (`faint_px`, see
    _copy_box_faint), and an empty box on a binarised capture (`binarised`, see _copy_box_binarised), where a pale
    digit leaves nothing."""
    for fr in entries[-1].fields:
        if fr.name == "copie":
            if not fr.has_ink:
                if trace_mm2 >= COPY_TRACE_MM2:
                    why = "trace légère dans la case « copie n° »"
                elif edge_ink:
                    why = "trait sur le bord de la case « copie n° »"
                elif faint_px >= COPY_FAINT_PX:
                    why = "trace pâle dans la case « copie n° » (image floue ?)"
                elif binarised:
                    why = "case « copie n° » vide sur une image noir et blanc (fax) : un chiffre pâle a pu disparaître"
                else:
                    return 0
                fr.status, fr.has_ink, fr.confidence = "review", True, 0.0
                fr.reason = f"{why} : numéro de copie à lire (vide = original)"
                entries[-1].has_ink = True
                return None
            if fr.status == "auto" and isinstance(fr.value, str) and fr.value.isdigit():
                if fr.confidence >= COPY_CONFIDENCE:
                    return int(fr.value)
                fr.status, fr.reason = "review", "n° de copie à confirmer (il identifie la feuille)"
            elif fr.status == "auto":
                fr.status, fr.reason = "review", "n° de copie illisible"
            return None
    return 0


# --- debug picture ------------------------------------------------------------------------------------------------

GREEN, ORANGE, RED = (60, 170, 60), (0, 140, 255), (40, 40, 220)


def draw_work(aligned: np.ndarray, layout: PageLayout, res: PageResult, path: Path) -> None:
    """The aligned page with every field framed: green certain, orange review, red problems."""
    img = cv2.cvtColor(aligned, cv2.COLOR_GRAY2BGR)
    bad = res.rescan  # badly aligned or not flat: every value in review
    geoms = {(e.row, f.name): f for e in layout.entries for f in e.fields}
    for en in res.entries:
        for fr in en.fields:
            g = geoms[(en.row, fr.name)]
            colour = GREEN if fr.status == "auto" else ORANGE
            if bad or (fr.status == "review" and fr.reason and "total" in fr.reason):
                colour = RED
            if g.options:
                for o in g.options:
                    sel = fr.value == o.value or (isinstance(fr.value, list) and o.value in fr.value)
                    cv2.circle(img, (int(o.cx * K), int(o.cy * K)), int(o.r * K) + 2, colour, 3 if sel else 1)
            else:
                z = g.ink_zone()
                if not fr.has_ink and fr.status == "auto":
                    continue
                cv2.rectangle(img, (int(z.x * K), int(z.y * K)), (int((z.x + z.w) * K), int((z.y + z.h) * K)),
                              colour, 2)
    cv2.putText(img, f"{res.page_key} copie={res.copy} residu={res.residual_mm}mm {res.align_method} "
                     f"pli={res.bend_mm}mm",
                (int(30 * K), int(34 * K)), cv2.FONT_HERSHEY_SIMPLEX, 0.8, RED if bad else GREEN, 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(buf.tobytes())
    os.replace(tmp, path)
