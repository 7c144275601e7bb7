"""A simulated scanner batch: kit pages filled, degraded, written as the machine would, with truth.jsonl.

truth.jsonl, one JSON object per line:

- per page image: ``{"type": "page", "source": <file name in out_dir>, "index": <1-based page in file>,
  "page_key": <key or null>, "expect": "identified" | "unidentified", "form", "copy", "profile", "dpi",
  "upside_down", ...}`` (extras: ``"reason": "blank"`` for a blank sheet, ``"foreign_kit": true`` for a page of
  another kit, ``"rescan_of": {"source", "index"}`` for a second scan of the same sheet);
- per entry with ink (written right after its page): ``{"type": "entry", "source", "index", "page_key", "form",
  "copy", "row", "kind", "fields": {name: value}, "ambiguous": [names], "ambiguity": {name: kind},
  "printed": {...}}``. ``fields`` holds every field of the entry in the export format of CONTRACTS.md (blank:
  choice/digits/text None, multi [], checkbox false); ``ambiguous`` lists the fields marked deliberately
  ambiguously (half-filled, two bubbles in a single choice, a bubble scribbled out): a review flag there is
  right, an accepted value different from the truth is a silent error.

Page control totals (``sum_of``) add up the lines not cancelled.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from papier.simulate.degrade import Profile, degrade, degrade_blank_copy, get_profile, jpeg_quality
from papier.simulate.ink import fill_page, make_writer
from papier.simulate.io import KitRenderer, PdfWriter, TiffWriter, write_image
from papier.simulate.values import is_blank, make_values

FORMATS = ("pdf", "tiff", "jpg", "png")


def load_kit(kit_dir: str | Path) -> tuple[dict[str, Any], Path]:
    kit_dir = Path(kit_dir)
    layout = json.loads((kit_dir / "layout.json").read_text(encoding="utf-8"))
    return layout, kit_dir / "kit.pdf"


def fillable_pages(layout: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in layout["pages"] if any(e.get("kind") != "page" for e in p.get("entries", []))]


class BatchSink:
    """Where degraded pages go: one multi-page PDF/TIFF, or one JPEG/PNG file per page."""

    def __init__(self, out_dir: Path, stem: str, fmt: str, profile: Profile):
        if fmt == "auto":
            fmt = profile.default_fmt
        if fmt not in FORMATS:
            raise ValueError(f"format {fmt!r}: one of {', '.join(FORMATS)}")
        self.out_dir, self.stem, self.fmt, self.profile = out_dir, stem, fmt, profile
        self.count = 0
        self.writer: PdfWriter | TiffWriter | None = None
        if fmt in ("jpg", "png"):  # a rerun into the same folder must not leave pages of an older batch
            for old in out_dir.glob(f"{stem}_[0-9][0-9][0-9][0-9].{fmt}"):
                old.unlink()
        if fmt == "pdf":
            self.writer = PdfWriter(out_dir / f"{stem}.pdf")
        elif fmt == "tiff":
            self.writer = TiffWriter(out_dir / f"{stem}.tif")

    def add(self, img: np.ndarray, dpi: float, quality: int | None) -> tuple[str, int]:
        bilevel = self.profile.fax
        self.count += 1
        if self.writer is not None:
            self.writer.add(img, dpi, quality, bilevel=bilevel)
            return self.writer.path.name, self.count
        ext = "jpg" if self.fmt == "jpg" else "png"
        path = self.out_dir / f"{self.stem}_{self.count:04d}.{ext}"
        if ext == "png" and quality and not bilevel:
            from papier.simulate.degrade import _jpeg  # the machine's JPEG, kept losslessly

            img = _jpeg(img, quality)
        write_image(path, img, dpi, quality, bilevel=bilevel)
        return path.name, 1

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


class TruthWriter:
    def __init__(self, path: Path):
        self.path = path
        self.f = open(path, "w", encoding="utf-8")

    def write(self, obj: dict[str, Any]) -> None:
        self.f.write(json.dumps(obj, ensure_ascii=False, sort_keys=False) + "\n")

    def close(self) -> None:
        self.f.close()


def entry_truth(page: dict[str, Any], info: dict[str, Any], source: str, index: int, copy: int) -> list[dict]:
    """Truth lines for the entries of one filled page that have ink."""
    out = []
    entries = {e["row"]: e for e in page["entries"]}
    for row, vals in sorted(info["values"].items()):
        e = entries[row]
        types = {f["name"]: f["type"] for f in e["fields"]}
        if all(is_blank(types[k], v) for k, v in vals.items()):
            continue
        line: dict[str, Any] = {
            "type": "entry", "source": source, "index": index, "page_key": page["page_key"],
            "form": page["form"], "copy": copy, "row": row, "kind": e.get("kind", "line"),
            "fields": vals, "ambiguous": sorted(info["ambiguous"].get(row, [])),
        }
        if info["ambiguity"].get(row):
            line["ambiguity"] = info["ambiguity"][row]
        if e.get("printed"):
            line["printed"] = e["printed"]
        out.append(line)
    return out


def make_page_image(renderer: KitRenderer, page: dict[str, Any], dpi: float, rng: np.random.Generator,
                    values: dict[int, dict[str, Any]], *, photocopied: bool = False,
                    styles: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Render a kit page, (photocopy the blank,) fill it with `values`."""
    img = renderer.render(page["pdf_page"], dpi)
    if photocopied:
        img = degrade_blank_copy(img, rng, dpi)
    return fill_page(img, page, values, dpi, rng, styles=styles)


def _blank_sheet(page: dict[str, Any], dpi: float) -> np.ndarray:
    w_mm, h_mm = page.get("size_mm", (210, 297))
    return np.full((int(round(h_mm / 25.4 * dpi)), int(round(w_mm / 25.4 * dpi))), 255, np.uint8)


def simulate_batch(kit_dir: str | Path, out_dir: str | Path, *, profile: str = "scanner_200",
                   n_pages: int | None = None, seed: int = 0, fmt: str = "pdf", fill_rate: float = 0.8,
                   extras: bool = False, ambiguous_rate: float = 0.03, stem: str | None = None) -> Path:
    """Fill `n_pages` pages of the kit in `kit_dir` (all its register pages once when None; more pages reuse
    them as numbered photocopies), degrade them with `profile`, write them to `out_dir` in `fmt` (pdf, tiff, jpg,
    png or auto = the profile's usual format) and return the path of truth.jsonl beside them.

    extras=True adds a blank sheet, a filled page of another kit and an upside-down page."""
    prof = get_profile(profile)
    layout, pdf_path = load_kit(kit_dir)
    pages = fillable_pages(layout)
    if not pages:
        raise ValueError(f"{kit_dir}: no fillable page in layout.json")
    known = layout.get("known_values", {})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n = len(pages) if n_pages is None else n_pages
    dpi = prof.dpi

    # the plan: which kit page, which copy number, and the extras at random places
    used: dict[str, set[int]] = {}
    plan: list[dict[str, Any]] = []
    for i in range(n):
        page = pages[i % len(pages)]
        taken = used.setdefault(page["page_key"], set())
        if not taken:
            copy = 0 if rng.random() < 0.9 else int(rng.integers(1, 4))
        else:
            copy = max(taken | {0}) + 1
        if copy > 99:
            raise ValueError(f"{n} pages from {len(pages)} kit pages: over 99 copies of a page "
                             "(build the kit with more pages per register)")
        taken.add(copy)
        plan.append({"kind": "page", "page": page, "copy": copy})
    if extras:
        for kind in ("blank", "foreign", "upside_down"):
            plan.insert(int(rng.integers(0, len(plan) + 1)), {"kind": kind})

    sink = BatchSink(out, stem or f"scan_{prof.name}", fmt, prof)
    truth_path = out / "truth.jsonl"
    truth = TruthWriter(truth_path)
    foreign: tuple[dict[str, Any], Path] | None = None
    renderer = KitRenderer(pdf_path)
    try:
        for item in plan:
            q = jpeg_quality(prof, rng)
            if item["kind"] == "blank":
                img = degrade(_blank_sheet(pages[0], dpi), prof, rng)
                src, idx = sink.add(img, dpi, q)
                truth.write({"type": "page", "source": src, "index": idx, "page_key": None,
                             "expect": "unidentified", "reason": "blank", "profile": prof.name, "dpi": dpi})
                continue
            page_renderer = renderer
            page_known = known
            if item["kind"] == "foreign":
                if foreign is None:
                    foreign = _foreign_kit(out / "_other_kit", seed)
                flayout, fpdf = foreign
                page = fillable_pages(flayout)[0]
                page_known = flayout.get("known_values", {})
                page_renderer = KitRenderer(fpdf)
                copy = 0
            elif item["kind"] == "upside_down":
                page = pages[int(rng.integers(len(pages)))]
                taken = used.setdefault(page["page_key"], set())
                copy = max(taken | {0}) + 1 if taken else 0
                taken.add(copy)
            else:
                page, copy = item["page"], item["copy"]
            values = make_values(page, page_known, rng, fill_rate=fill_rate, scenario={"copy": copy})
            writer = make_writer(rng)
            img, info = make_page_image(page_renderer, page, dpi, rng, values, photocopied=copy > 0,
                                        styles={"writer": writer, "ambiguous_rate": ambiguous_rate,
                                                "sprawl_rate": prof.sprawl})
            if page_renderer is not renderer:
                page_renderer.close()
            flip = True if item["kind"] == "upside_down" else None
            img = degrade(img, prof, rng, upside_down=flip)
            src, idx = sink.add(img, dpi, q)
            rec: dict[str, Any] = {"type": "page", "source": src, "index": idx, "page_key": page["page_key"],
                                   "expect": "identified", "form": page["form"], "copy": copy,
                                   "profile": prof.name, "dpi": dpi,
                                   "upside_down": bool(prof.upside_down or flip), "pen": writer.pen,
                                   "jpeg_quality": q}
            if item["kind"] == "foreign":
                rec["foreign_kit"] = True
            truth.write(rec)
            for line in entry_truth(page, info, src, idx, copy):
                truth.write(line)
    finally:
        renderer.close()
        sink.close()
        truth.close()
    return truth_path


def _foreign_kit(where: Path, seed: int) -> tuple[dict[str, Any], Path]:
    """A second tiny kit (another kit id): its pages are valid, but not from the kit under test."""
    from papier.simulate.minikit import build_mini_kit

    if not (where / "layout.json").exists():
        build_mini_kit(where, pages_per_register=1, forms=("paiement", "pret", "main_courante"))
    return load_kit(where)


def read_truth(path: str | Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]
