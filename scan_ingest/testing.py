"""Small, deterministic page makers for the scan tests: render a kit page, put pen marks at layout positions,
turn, skew or cover it, save it as PDF/TIFF/PNG/JPEG. (The realistic simulator is papier.simulate; this module
exists so that a test states exactly what is on the paper.)"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np


def layout_pages(kit_dir: str | Path) -> list[dict[str, Any]]:
    return json.loads((Path(kit_dir) / "layout.json").read_text(encoding="utf-8"))["pages"]


def find_page(kit_dir: str | Path, form: str, serial: int = 1) -> dict[str, Any]:
    for p in layout_pages(kit_dir):
        if p["form"] == form and p.get("serial", 1) == serial:
            return p
    raise KeyError((form, serial))


def render(pdf: str | Path, pdf_page: int, dpi: float = 200) -> np.ndarray:
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(str(pdf))
    try:
        arr = doc[pdf_page - 1].render(scale=dpi / 72, grayscale=True).to_numpy()
    finally:
        doc.close()
    return np.ascontiguousarray(arr[..., 0] if arr.ndim == 3 else arr).copy()


def aligned_render(kit: Any, form: str, serial: int = 1) -> tuple[Any, np.ndarray]:
    """A kit page (`kit`: papier.kit.KitResult) rendered straight into the aligned mm frame of its layout (8 px/mm,
    page-sized, padded with paper): what align.warp gives for a perfect capture. Returns (layout, page)."""
    from papier.forms import builtin_form
    from papier.layout import layout_form
    from scan_ingest.thresholds import ALIGN_PX_PER_MM as K

    layout = layout_form(builtin_form(form))
    img = render(kit.pdf_path, find_page(kit.out_dir, form, serial)["pdf_page"], K * 25.4)
    W, H = (int(round(v * K)) for v in layout.size_mm)
    page = np.full((H, W), 255, np.uint8)
    h, w = min(H, img.shape[0]), min(W, img.shape[1])
    page[:h, :w] = img[:h, :w]
    return layout, page


def _px(v: float, dpi: float) -> int:
    return int(round(v * dpi / 25.4))


def field_of(page: dict[str, Any], row: int, name: str) -> dict[str, Any]:
    for e in page["entries"]:
        if e["row"] == row:
            for f in e["fields"]:
                if f["name"] == name:
                    return f
    raise KeyError((row, name))


def fill_bubble(img: np.ndarray, page: dict[str, Any], row: int, name: str, value: str, dpi: float = 200,
                fraction: float = 1.0, ink: int = 30) -> None:
    """Fill an option's bubble (fraction < 1: a partial fill from the left, e.g. a hesitant mark)."""
    f = field_of(page, row, name)
    o = next(o for o in f["options"] if o["value"] == value)
    cx, cy, r = _px(o["cx"], dpi), _px(o["cy"], dpi), _px(o["r"] * 0.95, dpi)
    if fraction >= 1.0:
        cv2.circle(img, (cx, cy), r, ink, -1)
    else:
        mask = np.zeros_like(img)
        cv2.circle(mask, (cx, cy), r, 255, -1)
        mask[:, cx - r + int(2 * r * fraction):] = 0
        img[mask > 0] = ink


def tick_box(img: np.ndarray, page: dict[str, Any], row: int, name: str, dpi: float = 200, ink: int = 30) -> None:
    b = field_of(page, row, name)["box"]
    x0, y0, x1, y1 = _px(b["x"], dpi), _px(b["y"], dpi), _px(b["x"] + b["w"], dpi), _px(b["y"] + b["h"], dpi)
    t = max(2, _px(0.5, dpi))
    cv2.line(img, (x0 + 2, y0 + 2), (x1 - 2, y1 - 2), ink, t)
    cv2.line(img, (x1 - 2, y0 + 2), (x0 + 2, y1 - 2), ink, t)


def write_across(img: np.ndarray, text: str, x0_mm: float, x1_mm: float, baseline_mm: float, dpi: float = 200,
                 ink: int = 30) -> None:
    """`text` in a handwriting-like font, scaled to run from x0_mm to x1_mm on baseline_mm (writing that runs on
    past its box when x1_mm lies beyond it)."""
    mm = dpi / 25.4
    x0, x1 = x0_mm * mm, x1_mm * mm
    (tw, _), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 1.0, 2)
    cv2.putText(img, text, (int(x0), int(baseline_mm * mm)), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, (x1 - x0) / tw, ink,
                max(1, int(0.4 * mm)), cv2.LINE_AA)


def scribble(img: np.ndarray, page: dict[str, Any], row: int, name: str, dpi: float = 200, ink: int = 30,
             text: str = "Dupont") -> None:
    """Handwriting-like ink in a text field (or every digit box of a digits field)."""
    f = field_of(page, row, name)
    boxes = f.get("boxes") or [f["box"]]
    for k, b in enumerate(boxes):
        if f.get("boxes"):
            org = (_px(b["x"] + 1.0, dpi), _px(b["y"] + b["h"] - 1.2, dpi))
            cv2.putText(img, str((k * 7 + 3) % 10), org, cv2.FONT_HERSHEY_SIMPLEX, 0.16 * dpi / 25.4 * 0.9, ink,
                        max(1, _px(0.35, dpi)))
        else:
            org = (_px(b["x"] + 2.0, dpi), _px(b["y"] + b["h"] - 2.0, dpi))
            cv2.putText(img, text, org, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 0.17 * dpi / 25.4, ink,
                        max(1, _px(0.35, dpi)))


def stamp(img: np.ndarray, cx_mm: float, cy_mm: float, dpi: float = 200, angle: float = 0.0, ink: int = 110,
          oval: bool = True) -> None:
    """The régie's rubber stamp, 44 x 22 mm, centred on (cx_mm, cy_mm) and turned by `angle` degrees: the simulator's
    drawing (papier.simulate.degrade.stamp_patch), in a violet or blue ink that a grey capture reads as `ink`."""
    from papier.simulate.degrade import stamp_patch

    patch = stamp_patch(dpi, 44.0, 22.0, oval, "REGIE DE RECETTES", angle)
    c = patch.shape[0] // 2
    mm = dpi / 25.4
    x0, y0 = int(round(cx_mm * mm)) - c, int(round(cy_mm * mm)) - c
    region = img[y0:y0 + patch.shape[0], x0:x0 + patch.shape[1]]
    cover = patch[:region.shape[0], :region.shape[1]].astype(np.float32) / 255.0
    region[:] = (region * (1 - cover) + np.minimum(region, ink) * cover).astype(np.uint8)


def rotate(img: np.ndarray, deg: float) -> np.ndarray:
    """Rotate by any angle (multiples of 90 exactly), the canvas grown to keep everything, white around."""
    k = int(round(deg / 90.0))
    if abs(deg - 90 * k) < 1e-9:
        return np.ascontiguousarray(np.rot90(img, -k % 4))
    h, w = img.shape
    M = cv2.getRotationMatrix2D((w / 2, h / 2), -deg, 1.0)
    c, s = abs(M[0, 0]), abs(M[0, 1])
    nw, nh = int(h * s + w * c), int(h * c + w * s)
    M[0, 2] += nw / 2 - w / 2
    M[1, 2] += nh / 2 - h / 2
    return cv2.warpAffine(img, M, (nw, nh), borderValue=255)


def cover(img: np.ndarray, page: dict[str, Any], what: str, dpi: float = 200) -> None:
    """Cover a corner marker (what='fid:0'..'fid:3') or a QR (what='qr:0'|'qr:1') with white paper."""
    kind, i = what.split(":")
    if kind == "fid":
        m = next(m for m in page["fiducials"] if m["id"] == int(i))
        x, y, s = m["x"] - 2, m["y"] - 2, m["size"] + 4
        x0, y0, x1, y1 = _px(x, dpi), _px(y, dpi), _px(x + s, dpi), _px(y + s, dpi)
    else:
        q = page["qr"][int(i)]
        x0, y0 = _px(q["x"] - 1, dpi), _px(q["y"] - 1, dpi)
        x1, y1 = _px(q["x"] + q["w"] + 1, dpi), _px(q["y"] + q["h"] + 1, dpi)
    img[max(0, y0):y1, max(0, x0):x1] = 255


def save_pdf(images: list[np.ndarray], path: str | Path, dpi: float = 200, quality: int = 85) -> Path:
    """A scanner-like PDF: one JPEG image per page."""
    from PIL import Image

    pil = [Image.fromarray(i) for i in images]
    pil[0].save(str(path), "PDF", resolution=dpi, save_all=True, append_images=pil[1:], quality=quality)
    return Path(path)


def save_tiff(images: list[np.ndarray], path: str | Path, dpi: float = 200) -> Path:
    from PIL import Image

    pil = [Image.fromarray(i) for i in images]
    pil[0].save(str(path), "TIFF", dpi=(dpi, dpi), save_all=True, append_images=pil[1:], compression="tiff_lzw")
    return Path(path)


def save_image(img: np.ndarray, path: str | Path, dpi: float = 200, quality: int = 90) -> Path:
    from PIL import Image

    p = Path(path)
    kw: dict[str, Any] = {"dpi": (dpi, dpi)}
    if p.suffix.lower() in (".jpg", ".jpeg"):
        kw["quality"] = quality
    Image.fromarray(img).save(str(p), **kw)
    return p


def png_bytes(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    from PIL import Image

    Image.fromarray(img).save(buf, "PNG")
    return buf.getvalue()


def field_by_row(db_path: str | Path, name: str) -> dict[int, tuple[str, str, str]]:
    """Entry row → (stored value as JSON text, status, reason or "") of the field `name` in a database that holds
    one page (what a test reads back after ingesting the page it drew)."""
    import sqlite3

    con = sqlite3.connect(db_path)
    try:
        return {r: (v, s, why or "") for r, v, s, why in con.execute(
            "select e.row, f.value, f.status, f.reason from fields f join entries e on e.id = f.entry_id "
            "where f.name = ?", (name,))}
    finally:
        con.close()
