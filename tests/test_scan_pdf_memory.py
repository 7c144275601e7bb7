"""A long scanner PDF must not make a reader process grow page after page (pdfium keeps every stream it has read
until its document is closed: 0.5 MB per scanner page, 75 MB per worker on a 300-page PDF before the fix)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import numpy as np
import pypdfium2 as pdfium

from papier.simulate.io import PdfWriter

# in a fresh process, like a reader worker: the pages in order through load_page, RSS after each
_READ_ALL = r"""
import json, sys
from scan_ingest import sources as S
def rss():
    with open("/proc/self/status") as fh:
        return next(int(l.split()[1]) for l in fh if l.startswith("VmRSS")) / 1024
out = []
for ref in S.list_pages("long.pdf", sys.argv[1]):
    page = S.load_page(ref)
    out.append([page.sha256, list(page.gray.shape), rss()])
    del page
print(json.dumps(out))
"""


def _jpeg_streams(path) -> list[bytes]:
    import pypdfium2.raw as pdfium_c

    doc = pdfium.PdfDocument(str(path))
    try:
        out = []
        for page in doc:
            (img,) = page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2)
            out.append(bytes(img.get_data(decode_simple=False)))
            page.close()
        return out
    finally:
        doc.close()


def test_reading_a_long_pdf_keeps_memory_flat_and_every_page_right(tmp_path):
    rng = np.random.default_rng(0)
    pdf = tmp_path / "long.pdf"
    w = PdfWriter(pdf)  # as office scanners write them: one JPEG per page
    for _ in range(60):
        # noise compresses badly: ~1.5 MB per page, like a 300 dpi grey scan
        w.add(rng.integers(0, 256, (1700, 1200), dtype=np.uint8), 200, 95)
    w.close()
    streams = _jpeg_streams(pdf)
    assert sum(map(len, streams)) > 60e6
    r = subprocess.run([sys.executable, "-c", _READ_ALL, str(pdf)], capture_output=True, text=True, check=True)
    got = json.loads(r.stdout)
    assert [g[0] for g in got] == [hashlib.sha256(s).hexdigest() for s in streams]  # each page's own bytes
    assert all(g[1] == [1700, 1200] for g in got)
    rss = [g[2] for g in got]
    # after the first pages (allocator warm-up) the process must not keep what it has read
    assert rss[-1] - rss[9] < 20, [round(v) for v in rss]
