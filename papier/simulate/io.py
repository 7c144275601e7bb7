"""Rendering kit pages to images, and writing scanned batches as office machines do (PDF with JPEG or
bilevel images, multi-page TIFF with CCITT G4, JPEG/PNG files)."""

from __future__ import annotations

import io
import zlib
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np
from PIL import Image


class KitRenderer:
    """An open PDF whose pages render on demand as grey uint8 images (pypdfium2)."""

    def __init__(self, pdf_path: str | Path):
        import pypdfium2 as pdfium

        self.pdf = pdfium.PdfDocument(str(pdf_path))

    def render(self, page_number: int, dpi: float) -> np.ndarray:
        page = self.pdf[page_number - 1]
        try:
            arr = page.render(scale=dpi / 72.0, grayscale=True).to_numpy()
            if arr.ndim == 3:
                arr = arr[:, :, 0]
            # exactly the page's size at this dpi (pdfium rounds up: 210 mm at 150 dpi gives 1241 px, not 1240)
            w = int(round(page.get_width() * dpi / 72.0))
            h = int(round(page.get_height() * dpi / 72.0))
            out = np.full((h, w), 255, np.uint8)
            hh, ww = min(h, arr.shape[0]), min(w, arr.shape[1])
            out[:hh, :ww] = arr[:hh, :ww]
            return out
        finally:
            page.close()

    def close(self) -> None:
        self.pdf.close()

    def __enter__(self) -> "KitRenderer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def render_pages(pdf_path: str | Path, page_numbers: list[int], dpi: float) -> Iterator[np.ndarray]:
    """Render 1-based pages of a PDF as grey uint8 images, one at a time."""
    with KitRenderer(pdf_path) as r:
        for n in page_numbers:
            yield r.render(n, dpi)


def _jpeg_bytes(img: np.ndarray, quality: int, dpi: float) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=int(quality), dpi=(dpi, dpi))
    return buf.getvalue()


class PdfWriter:
    """A minimal PDF writer: one image per page, streamed to disk (one page in memory at a time).

    Grey/RGB pages are embedded as JPEG (DCTDecode) at their own quality, as office scanners do; bilevel pages
    (fax) as 1-bit Flate images."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.f: BinaryIO = open(self.path, "wb")
        self.offsets: dict[int, int] = {}
        self.pages: list[int] = []
        self.next_obj = 3  # 1: catalog, 2: pages
        self.f.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")

    def _obj(self, num: int, body: bytes, stream: bytes | None = None) -> None:
        self.offsets[num] = self.f.tell()
        self.f.write(f"{num} 0 obj\n".encode())
        self.f.write(body)
        if stream is not None:
            self.f.write(b"\nstream\n")
            self.f.write(stream)
            self.f.write(b"\nendstream")
        self.f.write(b"\nendobj\n")

    def add(self, img: np.ndarray, dpi: float, quality: int | None = 85, bilevel: bool = False) -> None:
        h, w = img.shape[:2]
        im_n, ct_n, pg_n = self.next_obj, self.next_obj + 1, self.next_obj + 2
        self.next_obj += 3
        if bilevel:
            bits = np.packbits(img >= 128, axis=1)
            data = zlib.compress(bits.tobytes(), 6)
            head = (f"<< /Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace /DeviceGray "
                    f"/BitsPerComponent 1 /Filter /FlateDecode /Length {len(data)} >>")
        else:
            data = _jpeg_bytes(img, quality or 85, dpi)
            cs = "/DeviceRGB" if img.ndim == 3 else "/DeviceGray"
            head = (f"<< /Type /XObject /Subtype /Image /Width {w} /Height {h} /ColorSpace {cs} "
                    f"/BitsPerComponent 8 /Filter /DCTDecode /Length {len(data)} >>")
        self._obj(im_n, head.encode(), data)
        pw, ph = w * 72.0 / dpi, h * 72.0 / dpi
        content = f"q {pw:.4f} 0 0 {ph:.4f} 0 0 cm /Im0 Do Q".encode()
        self._obj(ct_n, f"<< /Length {len(content)} >>".encode(), content)
        self._obj(pg_n, (f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {pw:.4f} {ph:.4f}] "
                         f"/Resources << /XObject << /Im0 {im_n} 0 R >> >> /Contents {ct_n} 0 R >>").encode())
        self.pages.append(pg_n)

    def close(self) -> None:
        self._obj(1, b"<< /Type /Catalog /Pages 2 0 R >>")
        kids = " ".join(f"{n} 0 R" for n in self.pages)
        self._obj(2, f"<< /Type /Pages /Kids [{kids}] /Count {len(self.pages)} >>".encode())
        xref = self.f.tell()
        n = self.next_obj
        self.f.write(f"xref\n0 {n}\n0000000000 65535 f \n".encode())
        for i in range(1, n):
            self.f.write(f"{self.offsets[i]:010d} 00000 n \n".encode())
        self.f.write(f"trailer\n<< /Size {n} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
        self.f.close()


class TiffWriter:
    """Multi-page TIFF written frame by frame: CCITT G4 for bilevel pages, JPEG-in-TIFF (or LZW) otherwise."""

    def __init__(self, path: str | Path):
        from PIL import TiffImagePlugin

        self.path = Path(path)
        self.tf = TiffImagePlugin.AppendingTiffWriter(str(self.path), new=True)
        self.count = 0

    def add(self, img: np.ndarray, dpi: float, quality: int | None = 85, bilevel: bool = False) -> None:
        if bilevel:
            im = Image.fromarray(img).convert("1", dither=Image.Dither.NONE)
            im.save(self.tf, "TIFF", compression="group4", dpi=(dpi, dpi))
        else:
            im = Image.fromarray(img)
            if quality:
                im.save(self.tf, "TIFF", compression="jpeg", quality=int(quality), dpi=(dpi, dpi))
            else:
                im.save(self.tf, "TIFF", compression="tiff_lzw", dpi=(dpi, dpi))
        self.tf.newFrame()
        self.count += 1

    def close(self) -> None:
        self.tf.close()


def write_image(path: str | Path, img: np.ndarray, dpi: float, quality: int | None, bilevel: bool = False) -> None:
    """One page as a JPEG or PNG file (by suffix)."""
    path = Path(path)
    im = Image.fromarray(img)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        im.save(path, "JPEG", quality=int(quality or 90), dpi=(dpi, dpi))
    else:
        if bilevel:
            im = im.convert("1", dither=Image.Dither.NONE)
        im.save(path, "PNG", dpi=(dpi, dpi))
