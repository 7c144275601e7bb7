"""The worker pool after the parent has used OpenCV's own thread pool (as the benchmark and the demo do): the
forked readers must not deadlock (regression: cv2.setNumThreads in a forked child hung forever)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from scan_ingest import testing as T


def test_two_workers_after_parent_used_opencv_threads(small_kit, tmp_path):
    pages = [T.find_page(small_kit.out_dir, "paiement", s) for s in (1, 2)]
    imgs = []
    for p in pages:
        img = T.render(small_kit.pdf_path, p["pdf_page"], 150)
        T.fill_bubble(img, p, 1, "mode", "cheque", dpi=150)
        imgs.append(img)
    T.save_pdf(imgs + imgs[:1], tmp_path / "lot.pdf", dpi=150)
    script = textwrap.dedent(f"""
        import cv2, numpy as np
        cv2.setNumThreads(2)
        big = np.random.default_rng(0).integers(0, 255, (3000, 3000), dtype=np.uint8)
        for _ in range(3):
            cv2.GaussianBlur(big, (0, 0), 5)   # OpenCV's thread pool runs in the parent
            cv2.warpPerspective(big, np.eye(3), (3000, 3000))
            cv2.resize(big, (2100, 2100), interpolation=cv2.INTER_LINEAR)
        from scan_ingest.pipeline import ingest
        rep = ingest([{str(tmp_path / 'lot.pdf')!r}], db_path={str(tmp_path / 'p.db')!r}, workers=2)
        print(rep.statuses["identified"], rep.statuses["duplicate"])
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["2", "1"], r.stdout
