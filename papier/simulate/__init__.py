"""Simulated filling and scanning of kit pages, with exact truth (tests, benchmark, demo).

    PROFILES, Profile                       degradation profiles (scanner_300, scanner_200, scanner_150_jpeg,
                                            photocopy, fax, upside_down, phone_photo,
                                            phone_photo_bent: a folded sheet, phone_photo_glare:
                                            a lamp reflected on the sheet)
    render_pages(pdf, pages, dpi)           kit pages as grey images (pypdfium2)
    make_values(page, known_values, rng)    realistic valid values, export format (row -> field -> value)
    fill_page(img, page, values, dpi, rng)  pen marks, handwritten (held-out) digits, text -> (image, info)
    degrade(img, profile, rng)              what the machine gives back
    simulate_batch(kit_dir, out_dir, ...)   a scanned batch + truth.jsonl
    simulate_outage(kit_dir, out_dir, ...)  a whole outage (weeks of registers) + truth.jsonl + scenario.json
"""

from papier.simulate.batch import read_truth, simulate_batch
from papier.simulate.degrade import PROFILES, Profile, degrade
from papier.simulate.ink import Writer, fill_page, make_writer
from papier.simulate.io import render_pages
from papier.simulate.outage import simulate_outage
from papier.simulate.values import make_values

__all__ = ["PROFILES", "Profile", "Writer", "degrade", "fill_page", "make_values", "make_writer", "read_truth",
           "render_pages", "simulate_batch", "simulate_outage"]
