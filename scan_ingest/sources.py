"""Input files → page references → one decoded page image at a time.

The parent process only *lists* pages (``list_pages``: opens each file's header, counts its pages); a worker
decodes one page (``load_page``) when it reads it, so a 500-page PDF never sits in memory as 500 images.

Evidence and identity of a page image (``LoadedPage.sha256`` and ``LoadedPage.keep``):
- a JPEG, PNG or HEIC file (HEIC: an iPhone's photos, copied by cable), or a PDF page that is exactly one JPEG
  image (what office scanners write): the original bytes are kept as they are, and the SHA-256 is over those
  bytes (the same photo in a PDF and as a file is the same image);
- anything else (vector PDF pages, CCITT/JBIG2 scans, TIFF frames): the page is rendered/decoded to grayscale,
  kept as a lossless PNG, and the SHA-256 is over the pixels (with their shape).
"""

from __future__ import annotations

import hashlib
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

# A4 at 600 dpi is 35 Mpx; A3 at 600 dpi 70 Mpx. Above this, an "image" is a mistake or a decompression bomb.
MAX_PIXELS = 100_000_000
RENDER_DPI_MAX = 200.0       # render PDF pages at the scan's own resolution, at most this (8 px/mm is enough)
RENDER_DPI_MIN = 150.0
RENDER_DPI_VECTOR = 200.0    # a PDF page without images (e.g. the kit itself)
DOWNSCALE_ABOVE_DPI = 320.0  # decode large JPEGs at half size (libjpeg does it for free)

IMAGE_EXT = {"jpeg": ".jpg", "png": ".png", "heic": ".heic"}

# ISO base media files (bytes 4-8 "ftyp", then the major brand): HEIF still images (an iPhone's HEIC photos) are
# read; videos (an iPhone's "Live Photo" companion .MOV, an MP4) and AVIF are named, not guessed at.
HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs", b"mif1", b"msf1"}
AVIF_BRANDS = {b"avif", b"avis"}
VIDEO_BRANDS = {b"qt  ", b"isom", b"iso2", b"mp41", b"mp42", b"M4V ", b"avc1", b"3gp4", b"3gp5", b"3g2a", b"MSNV"}


@dataclass(frozen=True)
class PageRef:
    """One page image to read: where it comes from, and how to decode it."""
    source: str        # as given on the command line, or the path inside a given folder
    path: str          # the file to open
    idx: int           # 1-based page number inside the file
    kind: str          # pdf | tiff | jpeg | png | heic | image


@dataclass(frozen=True)
class FileProblem:
    """A file that yields no page at all (empty, encrypted, not an image…): a clear message, the batch goes on."""
    source: str
    path: str
    reason: str


@dataclass
class LoadedPage:
    gray: np.ndarray          # uint8, 2-D
    sha256: str
    keep: bytes               # bytes of the evidence file
    ext: str                  # .jpg | .png | .heic
    dpi: float                # estimated resolution (pixels per inch of the paper), 0 when unknown
    bilevel: bool = False     # captured in black and white only (a fax, a scanner's black-and-white mode): pale
                              # ink was thresholded or dithered away (see marks.measure_marks)


class PageLoadError(Exception):
    """A page that cannot be decoded; the message (French) is stored as the page's reason."""


def _is_hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts) or rel.name in ("Thumbs.db", "desktop.ini")


def expand_inputs(inputs: list[str]) -> list[tuple[str, str]]:
    """(source, path) of every file: folders recursively, in sorted order; the given order otherwise."""
    out: list[tuple[str, str]] = []
    for given in inputs:
        p = Path(given)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and not _is_hidden(f.relative_to(p)):
                    out.append((str(Path(given) / f.relative_to(p)), str(f)))
        else:
            out.append((given, given))
    return out


def sniff(path: str) -> str:
    """The kind of a file from its first bytes; raises PageLoadError with a French message."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except FileNotFoundError:
        raise PageLoadError("fichier introuvable") from None
    except IsADirectoryError:
        raise PageLoadError("c'est un dossier") from None
    except OSError as exc:
        raise PageLoadError(f"lecture impossible ({exc.strerror})") from None
    if not head:
        raise PageLoadError("fichier vide (0 octet) : numérisez la page à nouveau")
    if head.startswith(b"%PDF") or b"%PDF-" in head[:1024]:
        return "pdf"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in HEIF_BRANDS:
            return "heic"
        if brand in AVIF_BRANDS:
            raise PageLoadError("photo AVIF, format non pris en charge : enregistrez-la en JPEG")
        if brand in VIDEO_BRANDS:
            raise PageLoadError("vidéo (la « Live Photo » d'un iPhone ?), pas une photo : seules les images sont lues")
    if head[:4] == b"PK\x03\x04":
        if b"word/" in head:
            raise PageLoadError("document Word, pas une numérisation : donnez le PDF ou les images du scanner")
        raise PageLoadError("archive ZIP ou document bureautique, pas une numérisation : décompressez-la d'abord")
    if head[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise PageLoadError("document Office (Word/Excel), pas une numérisation")
    if head[:4] in (b"GIF8", b"BM\x00\x00") or head[:2] == b"BM" or head[:4] == b"RIFF":
        return "image"
    raise PageLoadError("format non reconnu (attendu : PDF, TIFF, JPEG, PNG ou HEIC)")


def _pdf_error(exc: Exception) -> str:
    msg = str(exc).lower()
    if "password" in msg:
        return "PDF protégé par un mot de passe : enregistrez-le sans mot de passe puis recommencez"
    if "format" in msg or "file" in msg:
        return "PDF illisible (tronqué ou endommagé) : copiez-le à nouveau depuis le scanner"
    return f"PDF illisible ({exc})"


def _open_pdf(path: str):  # type: ignore[no-untyped-def]
    import pypdfium2 as pdfium

    try:
        return pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        raise PageLoadError(_pdf_error(exc)) from None


def _check_pixels(w: int, h: int) -> None:
    if w * h > MAX_PIXELS:
        raise PageLoadError(f"image démesurée ({w} × {h} pixels, {w * h / 1e6:.0f} Mpx) : "
                            "numérisez à 300 dpi au plus")
    if w < 200 or h < 200:
        raise PageLoadError(f"image trop petite ({w} × {h} pixels) pour être une page")


def pillow() -> Any:
    """PIL.Image, able to open HEIC photos too (pillow-heif's opener, registered once per process)."""
    from PIL import Image

    global _heif_registered
    if not _heif_registered:
        import pillow_heif

        pillow_heif.register_heif_opener()
        _heif_registered = True
    return Image


_heif_registered = False


def decode_gray(data: bytes) -> np.ndarray | None:
    """Grayscale pixels of an image file's bytes (OpenCV; Pillow for what OpenCV does not decode: HEIC, some
    TIFFs); None when neither can."""
    gray = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    if gray is not None:
        return gray
    import io

    try:
        with pillow().open(io.BytesIO(data)) as im:
            return np.ascontiguousarray(np.asarray(im.convert("L")))
    except Exception:  # noqa: BLE001 - Pillow raises many types for broken files
        return None


def list_pages(source: str, path: str) -> list[PageRef]:
    """The pages of one file (no pixel decoded); raises PageLoadError when the file yields none."""
    kind = sniff(path)
    if kind == "pdf":
        doc = _open_pdf(path)
        try:
            n = len(doc)
        finally:
            doc.close()
        if n == 0:
            raise PageLoadError("PDF sans aucune page")
        return [PageRef(source, path, i + 1, "pdf") for i in range(n)]
    Image = pillow()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                _check_pixels(*im.size)
                n = getattr(im, "n_frames", 1) if kind == "tiff" else 1  # a HEIC's primary image: the photo
    except PageLoadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PageLoadError("image démesurée (bombe de décompression ?) : numérisez à 300 dpi au plus") from None
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for broken files
        raise PageLoadError(f"image illisible ({type(exc).__name__}) : fichier tronqué ou endommagé") from None
    return [PageRef(source, path, i + 1, kind) for i in range(n)]


# --- decoding one page ------------------------------------------------------------------------------------------

_doc_cache: dict[str, list] = {}  # worker-local: the last PDF opened (pages arrive in file order), pages served
# pdfium keeps every stream it has read (each page's JPEG) until its document is closed: a worker reading 150
# pages of a 157 MB scanner PDF grew by 75 MB. Reopening (0.3 ms: the file is parsed lazily) every few pages
# keeps a long PDF's memory flat.
PDF_REOPEN_PAGES = 8


def _cached_pdf(path: str):  # type: ignore[no-untyped-def]
    slot = _doc_cache.get(path)
    if slot is None or slot[1] >= PDF_REOPEN_PAGES:
        close_cached_pdf()
        slot = _doc_cache[path] = [_open_pdf(path), 0]
    slot[1] += 1
    return slot[0]


def close_cached_pdf() -> None:
    """Close the PDF kept open between pages (end of an in-process batch)."""
    for slot in _doc_cache.values():
        slot[0].close()
    _doc_cache.clear()


def pixel_sha(gray: np.ndarray) -> str:
    h = hashlib.sha256(f"{gray.shape[0]}x{gray.shape[1]}:".encode())
    h.update(np.ascontiguousarray(gray).data)
    return h.hexdigest()


# The kept PNG of a decoded page: zlib level 1 without PNG row filters. Lossless either way; measured on 200 dpi
# pages: a fax page 12 ms / 121 kB against 38 ms / 128 kB with libpng's adaptive filters, a grey scanner page
# 74 ms / 1.95 MB against 133 ms / 1.91 MB.
PNG_EVIDENCE = [cv2.IMWRITE_PNG_COMPRESSION, 1, cv2.IMWRITE_PNG_FILTER, cv2.IMWRITE_PNG_FILTER_NONE]


def _png(gray: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", gray, PNG_EVIDENCE)
    if not ok:
        raise PageLoadError("encodage PNG impossible")
    return buf.tobytes()


def _decode_jpeg(data: bytes, dpi: float) -> np.ndarray:
    flag = cv2.IMREAD_REDUCED_GRAYSCALE_2 if dpi > DOWNSCALE_ABOVE_DPI else cv2.IMREAD_GRAYSCALE
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    if arr is None:
        raise PageLoadError("image JPEG illisible (tronquée ou endommagée)")
    return arr


def _load_pdf_page(ref: PageRef) -> LoadedPage:
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    doc = _cached_pdf(ref.path)
    try:
        page = doc[ref.idx - 1]  # type: ignore[index]
    except Exception as exc:  # noqa: BLE001
        raise PageLoadError(f"page {ref.idx} du PDF illisible ({exc})") from None
    try:
        w_pt, h_pt = page.get_size()
        images = list(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2))
        dpi = RENDER_DPI_VECTOR
        bilevel = False
        if images:
            big = max(images, key=lambda o: o.get_px_size()[0] * o.get_px_size()[1])
            pw, ph = big.get_px_size()
            _check_pixels(pw, ph)
            l, b, r, t = big.get_bounds()
            if r - l > 1 and t - b > 1:
                dpi = max(pw / ((r - l) / 72.0), ph / ((t - b) / 72.0))
            whole = len(images) == 1 and (r - l) > 0.9 * w_pt  # one image covering the page: a scan
            # A scanner page: one JPEG covering the page → keep and decode its own bytes.
            if whole and big.get_filters() == ["DCTDecode"]:
                try:
                    data = bytes(big.get_data(decode_simple=False))
                    gray = _decode_jpeg(data, dpi)
                    if dpi > DOWNSCALE_ABOVE_DPI:
                        dpi /= 2
                    return LoadedPage(gray, hashlib.sha256(data).hexdigest(), data, ".jpg", dpi)
                except (PageLoadError, pdfium.PdfiumError):
                    pass  # fall back to rendering
            # a 1-bit scan (CCITT G4, JBIG2, 1-bit Flate): pdfium's rendering smooths its edges into greys, so it
            # is told by the image itself, not by the rendered pixels
            bilevel = whole and big.get_metadata().bits_per_pixel == 1
        render_dpi = min(max(dpi, RENDER_DPI_MIN), RENDER_DPI_MAX)
        bitmap = page.render(scale=render_dpi / 72.0, grayscale=True)
        arr = bitmap.to_numpy()
        gray = np.ascontiguousarray(arr[..., 0] if arr.ndim == 3 else arr)
    except PageLoadError:
        raise
    except Exception as exc:  # noqa: BLE001 - pdfium errors on damaged pages
        raise PageLoadError(f"page {ref.idx} du PDF illisible ({exc})") from None
    finally:
        page.close()
    return LoadedPage(gray, pixel_sha(gray), b"", ".png", render_dpi, bilevel)


def _load_image_file(ref: PageRef) -> LoadedPage:
    Image = pillow()
    if ref.kind in ("jpeg", "png"):
        data = Path(ref.path).read_bytes()
        with Image.open(ref.path) as im:
            _check_pixels(*im.size)
            dpi = float((im.info.get("dpi") or (0, 0))[0] or 0)
        if ref.kind == "jpeg":
            gray = _decode_jpeg(data, dpi)
            if dpi > DOWNSCALE_ABOVE_DPI:
                dpi /= 2
        else:
            gray = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
            if gray is None:
                raise PageLoadError("image PNG illisible (tronquée ou endommagée)")
        return LoadedPage(gray, hashlib.sha256(data).hexdigest(), data, IMAGE_EXT[ref.kind], dpi,
                          ref.kind == "png" and two_levels(gray))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(ref.path) as im:
                _check_pixels(*im.size)
                im.seek(ref.idx - 1)
                dpi = float((im.info.get("dpi") or (0, 0))[0] or 0)
                gray = np.asarray(im.convert("L"))
    except PageLoadError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise PageLoadError(f"image illisible ({type(exc).__name__}) : fichier tronqué ou endommagé") from None
    gray = np.ascontiguousarray(gray)
    if ref.kind == "heic":  # a photo: its own bytes are the evidence, as a JPEG's
        data = Path(ref.path).read_bytes()
        return LoadedPage(gray, hashlib.sha256(data).hexdigest(), data, IMAGE_EXT["heic"], dpi)
    return LoadedPage(gray, pixel_sha(gray), b"", ".png", dpi, two_levels(gray))


def two_levels(gray: np.ndarray) -> bool:
    """Whether a decoded image holds at most two grey levels (a 1-bit TIFF or PNG: a fax, a black-and-white scan)."""
    hist = cv2.calcHist([gray], [0], None, [256], [0, 256])
    return int(np.count_nonzero(hist)) <= 2


def load_page(ref: PageRef) -> LoadedPage:
    """Decode one page to grayscale; raises PageLoadError (French message) when impossible."""
    page = _load_pdf_page(ref) if ref.kind == "pdf" else _load_image_file(ref)
    if page.gray.ndim != 2 or page.gray.size == 0:
        raise PageLoadError("image vide")
    return page


def load_kept(path: Path, shape: tuple[int, int] | None = None) -> np.ndarray:
    """The pixels a page was read from, decoded again from its kept evidence file (the original JPEG or HEIC
    bytes, or a lossless PNG). `shape`: the (height, width) it was read at; a JPEG first decoded at half size (a
    scan over DOWNSCALE_ABOVE_DPI) is decoded at half size again."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise PageLoadError(f"image conservée introuvable ({exc.strerror})") from None
    half = False
    if shape is not None and Path(path).suffix.lower() in (".jpg", ".jpeg"):
        import io

        from PIL import Image

        try:
            with Image.open(io.BytesIO(data)) as im:  # the header only: the size the JPEG decodes to
                w, h = im.size
        except Exception:  # noqa: BLE001 - not a readable JPEG: imdecode below says so
            w = h = 0
        hh, hw = (h + 1) // 2, (w + 1) // 2  # (either way round: imdecode applies an EXIF rotation, PIL's size not)
        half = tuple(shape) not in ((h, w), (w, h)) and tuple(shape) in ((hh, hw), (hw, hh))
    gray = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_REDUCED_GRAYSCALE_2) if half else decode_gray(data)
    if gray is None:
        raise PageLoadError("image conservée illisible (tronquée ou endommagée)")
    return np.ascontiguousarray(gray)


def evidence_bytes(page: LoadedPage) -> bytes:
    """The bytes of the kept evidence file (PNG encoded on demand for decoded pages)."""
    return page.keep if page.keep else _png(page.gray)


def write_atomic(path: Path, data: bytes) -> None:
    """Write a file so that a crash never leaves a half-written one under its final name."""
    # (plain os calls, the folder made only when missing: a page writes ~25 snippets, each one file creation)
    p = os.fspath(path)
    if os.path.exists(p):
        return
    folder, name = os.path.split(p)
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.tmp")
    try:
        fh = open(tmp, "wb")
    except FileNotFoundError:
        os.makedirs(folder, exist_ok=True)
        fh = open(tmp, "wb")
    try:
        with fh:
            fh.write(data)
        os.replace(tmp, p)
    except BaseException:
        try:  # a full disk must not leave a half-written temporary file behind
            os.unlink(tmp)
        except OSError:
            pass
        raise
