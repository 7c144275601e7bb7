"""Regenerate the sample input files of tests/resources/ (see README.md beside this script).

    .venv/bin/python tests/resources/make_resources.py

Builds a real kit (papier.kit.build_kit, one page per register, fixed kit id), fills and degrades a few of its
pages with the project's simulator (papier.simulate.simulate_batch, fixed seeds), writes the bad inputs, and
merges the simulator's truth lines into truth.jsonl. Every file must stay well under 300 kB (checked here).
Run it again only when the file formats or the kit change; tests/test_resources.py reads what is committed.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

KIT_ID = "RESSRCKT"          # fixed: the page keys in truth.jsonl stay the same from one run to the next
MAX_BYTES = 300_000

# (file stem, kit form whose page 1 is filled, simulate_batch arguments, profile changes to stay small).
# The stem names the file written in this folder; each batch fills a different kit page (no conflicts).
BATCHES = [
    # the simulator's extras batch (1 filled page, a blank sheet, a page of another kit, an upside-down filled
    # photocopy) as scanner JPEGs in one PDF; KEEP_PDF_PAGES below keeps two of its pages (a kit page is
    # ~200 kB at 150 dpi, four would not fit). Fewer lines filled, less sensor noise, lower JPEG quality than the
    # profile's: smaller files.
    ("lot_scanner", "paiement", dict(profile="scanner_150_jpeg", n_pages=1, seed=11, fmt="pdf", extras=True,
                                     fill_rate=0.6),
     dict(noise=1.0, jpeg=(55, 62))),
    # a fax: bilevel CCITT G4 TIFF
    ("fax", "pret", dict(profile="fax", n_pages=1, seed=12, fmt="tiff"), {}),
    # a phone photo (perspective, light, background); narrower than the profile's 3000 px to stay small
    ("photo", "main_courante", dict(profile="phone_photo", n_pages=1, seed=13, fmt="jpg"), dict(photo_width=1600, noise=2.0, jpeg=(64, 70))),
]
# which pages of lot_scanner.pdf are kept, chosen by their truth line: the upside-down photocopy, the blank sheet
KEEP_PDF_PAGES = (lambda t: bool(t.get("upside_down")), lambda t: t.get("reason") == "blank")


def _docx(path: Path) -> None:
    """A minimal Word document (what an agent may drop in the scan folder by mistake)."""
    def info(name: str) -> zipfile.ZipInfo:
        return zipfile.ZipInfo(name, date_time=(2024, 10, 14, 9, 0, 0))  # fixed: the same bytes every run

    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(info("word/document.xml"),
                   '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
                   'wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Compte rendu de la cellule de crise'
                   '</w:t></w:r></w:p></w:body></w:document>')
        z.writestr(info("[Content_Types].xml"), '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.'
                   'openxmlformats.org/package/2006/content-types"/>')


def _keep_pdf_pages(pdf: Path, lines: list[dict]) -> list[dict]:
    """Rewrite `pdf` with only the pages KEEP_PDF_PAGES picks (their JPEG streams copied as they are) and
    renumber their truth lines."""
    import pypdfium2 as pdfium

    pages = [t for t in lines if t["type"] == "page"]
    keep = [next(t["index"] for t in pages if pick(t)) for pick in KEEP_PDF_PAGES]
    src = pdfium.PdfDocument(pdf)
    dst = pdfium.PdfDocument.new()
    dst.import_pages(src, [i - 1 for i in keep])
    tmp = pdf.with_suffix(".kept.pdf")
    dst.save(tmp)
    dst.close()
    src.close()
    # pdfium stamps the time and a random /ID: a fixed date of the same length (xref offsets unchanged), the same bytes every run
    data = re.sub(rb"D:\d{14}", b"D:20241014090000", tmp.read_bytes())
    data = re.sub(rb"<[0-9A-F]{32}>", b"<" + b"0" * 32 + b">", data)  # and a random file /ID
    pdf.write_bytes(data)
    tmp.unlink()
    new_index = {old: n + 1 for n, old in enumerate(keep)}
    out = [{**t, "index": new_index[t["index"]]} for t in lines if t["index"] in new_index]
    return sorted(out, key=lambda t: t["index"])  # stable: each page's entries stay right after it


def main() -> None:
    from papier.kit import build_kit
    from papier.simulate import PROFILES, read_truth, simulate_batch

    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        build_kit(tmp / "kit", pages_per_register=1, kit_id=KIT_ID, commune="Commune d'essai")
        layout = json.loads((tmp / "kit" / "layout.json").read_text(encoding="utf-8"))
        truth: list[dict] = []
        for stem, form, args, changes in BATCHES:
            # a kit folder whose layout.json lists only the page to fill (same kit.pdf, same page keys)
            kit = tmp / f"kit_{stem}"
            kit.mkdir()
            shutil.copyfile(tmp / "kit" / "kit.pdf", kit / "kit.pdf")
            pages = [p for p in layout["pages"] if p["form"] == form][:1]
            (kit / "layout.json").write_text(json.dumps({**layout, "pages": pages}), encoding="utf-8")
            out = tmp / stem
            args = {**args, "profile": dataclasses.replace(PROFILES[args["profile"]], **changes)}
            t = simulate_batch(kit, out, stem=stem, **args)
            lines = read_truth(t)
            if stem == "lot_scanner":
                lines = _keep_pdf_pages(out / "lot_scanner.pdf", lines)
            for src in sorted({x["source"] for x in lines}):
                shutil.copyfile(out / src, HERE / src)
            truth += lines
        (HERE / "truth.jsonl").write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in truth),
                                          encoding="utf-8")

    # bad inputs, and what the reader must say about each (bad_inputs.json: one unidentified page per file,
    # whose reason contains `reason_contains`)
    whole = (HERE / "lot_scanner.pdf").read_bytes()
    (HERE / "tronque.pdf").write_bytes(whole[: len(whole) // 2])   # a copy interrupted halfway
    (HERE / "vide.pdf").write_bytes(b"")                            # 0 bytes
    _docx(HERE / "compte_rendu.docx")                               # a Word document, not a scan
    bad = {
        "tronque.pdf": {"made": "the first half of lot_scanner.pdf's bytes", "expect": "unidentified",
                        "reason_contains": "tronqué"},
        "vide.pdf": {"made": "0 bytes", "expect": "unidentified", "reason_contains": "fichier vide"},
        "compte_rendu.docx": {"made": "a minimal Word document (zip with word/document.xml)",
                              "expect": "unidentified", "reason_contains": "document Word"},
    }
    (HERE / "bad_inputs.json").write_text(json.dumps(bad, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    for f in sorted(HERE.iterdir()):
        if f.suffix in (".py", ".md") or f.name.startswith(".") or f.is_dir():
            continue
        size = f.stat().st_size
        print(f"{f.name:<24} {size:>8} octets")
        if size > MAX_BYTES:
            raise SystemExit(f"{f.name}: {size} octets, plus que {MAX_BYTES}")


if __name__ == "__main__":
    main()
