"""Every threshold of the scan reader, named, with the reason and the measurement that chose it.

Units: darkness is in [0, 1] (0 = paper white, 1 = black), measured on the aligned page (8 px/mm, grayscale)
after normalising by the page's own paper level; lengths in mm.

How they were chosen: ``bench/bench_scan.py --calibrate`` prints, per degradation profile, the distribution of
bubble darkness above the page's baseline for bubbles the simulator left empty and those it filled (filled,
ticked, crossed, half-filled). The numbers below sit in the gap between the two populations on every profile,
with the ambiguous band in between sent to review.

Calibration run (simulator, scanner_200 + photocopy, 46 pages, deliberately ambiguous marks excluded):
  empty bubbles (1185): score ≤ 0.022, ink fraction 0.000 — empty checkboxes (261): score ≤ 0.012, fraction 0.000
  marked bubbles (248): score ≥ 0.158 (1st percentile 0.197) — ticked checkboxes (25): score ≥ 0.058, fraction
  ≥ 0.059 (a thin tick: the reason the ink fraction is measured at all).
"""

from __future__ import annotations

# --- geometry -------------------------------------------------------------------------------------------------
ALIGN_PX_PER_MM = 8.0          # the aligned page: 8 px/mm (203 dpi); the digit reader's crops assume it
SNIPPET_MARGIN_MM = 1.5        # around a text/digit zone in its snippet (enough to see a stroke leaving the box)
BUBBLE_INNER = 0.85            # fraction of the bubble radius measured: the printed ring (0.7 pt at r) stays out;
                               # 0.70 missed ticks drawn across the ring (2 silent errors in 4,400 fields)
CHECKBOX_INNER_MM = 0.7        # inset of a checkbox's measured square from its printed border
ZONE_INSET_MM = 0.6            # inset of text/digit zones when looking for ink (printed box lines stay out)

# --- alignment --------------------------------------------------------------------------------------------------
# Residual = RMS distance (mm) between the marker corners found and where the homography puts them.
# Measured: scanner profiles 0.02–0.15 mm, phone photos 0.2–0.6 mm. Above 1.0 mm a bubble (r 2.1 mm) could
# already be measured off-centre: every field of the page goes to review.
RESIDUAL_REVIEW_MM = 1.0
# With fewer than 3 markers the page is aligned from QR corners only: less precise, accepted only if its
# residual is below this, and flagged in the page's align_method.
QR_ONLY_RESIDUAL_MM = 0.6

# --- marks (bubbles, checkboxes) --------------------------------------------------------------------------------
# Mark score = mean darkness of the inner disk minus the page's blank baseline (median darkness of the page's
# least-inked bubbles). A bubble's inner disk is (0.7 * 2.1 mm)^2 * pi = 6.8 mm^2.
# Measured (empty vs marked populations): empty bubbles stay below 0.05 even on photocopies and faxes (noise,
# speckles); a tick or a cross covers ≥ 12 % of the inner disk at ink darkness ≥ 0.7 → ≥ 0.09; filled ≥ 0.5.
MARK_EMPTY_MAX = 0.05          # ≤ this: clearly empty
MARK_FILLED_MIN = 0.12         # ≥ this: clearly marked; between the two: review
# Ink-pixel fraction of the measured area (pixels darker than INK_DARKNESS), baseline-corrected: a tick or a
# thin cross in a checkbox moves the mean darkness little (≈ 0.06) but covers ≥ 8 % of the box with ink pixels;
# an empty box on a photocopy has ≤ 1 % (specks).
MARK_FRAC_EMPTY = 0.02         # ≤ this (and mean ≤ MARK_EMPTY_MAX): clearly empty
MARK_FRAC_MARKED = 0.05        # ≥ this: clearly marked
BASELINE_FRACTION = 0.5        # the baseline is the median of this fraction of the page's least-inked bubbles
# A second mark in a single choice counts when it is at least this fraction of the strongest one (a stray
# stroke at 20 % of a filled bubble is a slip; two comparable marks are a real ambiguity → review).
SECOND_MARK_RATIO = 0.35

# A tick drawn mostly beside its bubble (seen on the fax profile: a large tick whose stroke crosses the ring at
# its bottom-left) leaves the inner disk almost empty. When a choice field reads as entirely empty, the ink in a
# halo around each bubble (an annulus from HALO_INNER to HALO_OUTER radii, on the side away from the option's
# printed label) is compared with the page's median halo: a clear excess sends the field to review.
# Geometry: the ring (r = 2.1 mm, 0.7 pt) ends before 1.25 r; 1.75 r (3.7 mm) stays clear of the previous
# option's label (4.5 mm left of the centre) and of the label bands above and below.
# Measured (fax + scanner_200, 83 pages each): the missed tick covered 9 % of its halo; empty halos after the
# page-median correction stay ≤ 2 % (fax speckle).
HALO_INNER = 1.25
HALO_OUTER = 1.75
HALO_INK_MIN = 0.04

# --- ink in writing zones ---------------------------------------------------------------------------------------
# A pixel is ink when darker than this (normalised darkness). Only measured *inside* boxes and bubbles (inset
# from the printed dropout-grey lines), where the paper is blank. Measured: pencil strokes 0.30–0.50 (a first
# setting at 0.55 missed pencil digits entirely: silent blanks in the benchmark), pen ≥ 0.7, empty zones ≤ 0.05
# median with JPEG noise up to ~0.15 in isolated pixels (removed by the 2x2 opening).
INK_DARKNESS = 0.22
# A zone has ink when its ink area (after removing isolated specks) is at least this many mm^2.
# Measured: one digit "1" written small ≈ 1.2 mm^2; fax speckle on an empty 5x7 box ≤ 0.15 mm^2.
INK_MIN_AREA_MM2 = 0.45
# Between "no ink" and INK_MIN_AREA_MM2 * this, the zone is "faint": kept as ink (never silently blank).
INK_FAINT_FACTOR = 0.5
