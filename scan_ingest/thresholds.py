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
# A page that does not lie flat (folded, curled; flatness.py): each field's printed frame is looked for within
# ±FLAT_SEARCH_MM of its place, at FLAT_PX_PER_MM, by normalised cross-correlation; a frame counts when its
# correlation is at least FLAT_MIN_NCC and beats any other match 1.5 mm away or more by FLAT_AMBIGUITY, and when
# it agrees with its neighbours. The page's measure: the second farthest frame from its place on the layout.
# Measured (session 15, bench_scan seed 5 pages, 79–85 per profile): a perfect render ≤ 0.15 mm; scanner
# profiles ≤ 0.23 mm, phone photos ≤ 0.15, photocopy ≤ 0.37, fax ≤ 0.23 but one page at 1.09 (initials written
# over two writing boxes moved both matches); bent phone photos (folds of 1.2–3 mm, profile phone_photo_bent):
# 83 of 85 above 0.6 mm, one at 0.45, one with too few frames to tell. Above BEND_REVIEW_MM every value of the
# page goes to review; a single field's frame found farther than FIELD_OFF_MM sends that field to review.
FLAT_PX_PER_MM = 4.0
FLAT_SEARCH_MM = 4.0
FLAT_MIN_NCC = 0.3
FLAT_AMBIGUITY = 0.1
BEND_REVIEW_MM = 0.45
# A frame counts in the page's measure only as far as the frames of other fields around it confirm (session 21,
# flatness._confirmed): when their median displacement is within FLAT_IN_PLACE_MM, the frame's own distance is
# how the capture shows that kind of frame, not where the paper is (a fax loses a thin box line between two of its
# 100-dpi rows: 8 flat fax pages of seed 5 measured 0.98-1.20 mm, sent whole to review; confirmed, ≤ 0.23). Measured
# on bench_scan seed 5 (fax, scanner_200, photocopy) and bent photos of seeds 6 and 7 (164 pages): the other
# fields around a frame of a bent page sit ≥ 0.42 mm off where that frame counts (at 0.5 one bent page would measure
# 0.42 instead of 1.07); flat pages' ≤ 0.1. Every bent page measures as before (0.59-2.61 mm).
FLAT_IN_PLACE_MM = 0.25
# Above BEND_REVIEW_MM a page is first flattened (session 20, read._aligned): pieces of frames measured along each
# axis (flatness.axis_shifts) give a smooth displacement (flatness.displacement: none when fewer than
# FLATTEN_MIN_SAMPLES agree with their neighbours along an axis), plus FLATTEN_REFINE more passes on the flattened
# page; then BEND_REVIEW_MM and FIELD_OFF_MM apply to what is left. Measured on the 82 bent pages of bench_scan
# seed 5: before 0.86–2.53 mm, after one pass residuals of agreeing pieces mostly 0.05–0.3 mm; with the refinement
# pass 79 of 82 pages below 0.45 mm (mark review 2.8 %, 0 silent errors on 1,640 fields).
FLATTEN_MIN_SAMPLES = 6
FLATTEN_REFINE = 1
FIELD_OFF_MM = 0.45
# On a flattened page a mark field is off from FLAT_MARK_OFF_MM (session 21, phone_photo_bent seed 12, 240 pages: an
# empty « Autre » bubble at the end of a row, its ring found 0.32 mm from its place after flattening, read marked
# by its ink share, 0.062, on a blank photocopied sheet: a phantom entry). Mark fields of those 240 pages farther
# than 0.25 mm: 35 of 3,226 (12 of them beyond FIELD_OFF_MM already).
FLAT_MARK_OFF_MM = 0.25
# A reflection on a photo (fade.py): each field's printed frame, in pieces (a box, a bubble, FADE_PIECE_MM of a
# writing box), is measured as the median along its lines (every FADE_STEP_MM) of the darkest pixel within
# ±FADE_BAND_MM across them. Measured (session 16, bench_scan seed 1 pages, 81–85 per profile, about 24,700 pieces
# each): every piece of every page of the scanner profiles, photocopy, upside down and phone photos is at least
# 0.84 of its page's median (page medians 0.22–0.36); under a reflection (profile phone_photo_glare, seed 5) pieces
# fall to 0.05–0.1 and the three marks read wrong there sat at 0.07–0.10. Below FADE_REVIEW of the page's median a
# field goes to review even when it reads blank — where the print has lost 40 % of its contrast, pale ink (pencil)
# falls under INK_DARKNESS. Fax pages (bilevel) are not measured: their grey print is dithered into dots (page
# medians 0–0.6), and neither is a page whose median is under FADE_MIN_PRINT.
FADE_PIECE_MM = 10.0
FADE_STEP_MM = 0.5
FADE_BAND_MM = 0.75
FADE_REVIEW = 0.6
FADE_MIN_PRINT = 0.1
# A dark, grainy photo (noise.py): the grain's standard deviation relative to the local paper, in tiles of
# NOISE_TILE_MM, at each bubble and checkbox. Measured (session 17, bench_scan seed 5, every spot of 77–82 pages
# per profile): scanner profiles, photocopy and upside down ≤ 0.013, photos (plain, bent, under a reflection,
# blurred, sent by a messaging app, taken at a slant) ≤ 0.033; dark photos (profile phone_photo_dim) 0.061–0.114,
# and the five unticked boxes read as ticked there sat at 0.098–0.112. Above NOISE_REVIEW the ink-pixel share that
# finds a thin tick is reached by grain alone: there it is measured on the page filtered by a NOISE_MEDIAN_PX median
# (session 19; session 17 counted such a mark as marked by its mean darkness only, so most ticks and many empty
# boxes went to review: 7.7-10.2 % of marks on dark photos). Measured on the 2,891 spots of phone_photo_dim seed 5
# (all of them grainy): empty spots' share ≤ 0.096 before the median, ≤ 0.019 after (99.9 % ≤ 0.001); marked spots
# ≥ 0.177 before and after. A pen stroke is 2-5 px wide at 8 px/mm: a 3 x 3 median keeps lines 2 px wide.
# A page whose digit boxes the reader finds binarised (papier.digits.preprocess.flat, box by box: fax 98-100 % of
# crops, grey captures 0 %) at this share or more is a binarised capture: all its boxes are read as such
# (read._read_all_digits).
BINARISED_PAGE_SHARE = 0.6
NOISE_TILE_MM = 8.0
NOISE_REVIEW = 0.05
NOISE_MEDIAN_PX = 3
# A tint under a mark (tint.py): a fluorescent marker's band, a stain. Around each bubble and checkbox, a ring
# TINT_RING_MM (from, to) outside it; the share of its pixels darker than TINT_DARKNESS of the local paper that
# survive an opening by a disk TINT_WIDTH_MM across and belong to an area TINT_MIN_EXTENT_MM long (a band, a stain;
# not a filled bubble pushed off its ring). The rings leave out the label's side. Measured (session 17, bench_scan
# seed 5, every spot of 82 pages per profile): 0 on every profile but two spots — 0.058 on a blurred photo, 0.19 on a
# photocopy (a fill pushed off its bubble onto the field's bold label); highlighted lines (profile
# scanner_200_marker, 1.5 bands a page) up to 0.76, and the 17 fields read wrong under a band at 0.29–0.60.
# Strokes come into a checkbox from outside (read._spill_mm2): ink in the gap SPILL_GAP_MM (from, to) left of the box,
# above it or below it (no print there on any form; its label is on the right), while the box itself holds ink.
# Measured (session 17, bench_scan seed 5, every checkbox read ticked, 9 profiles): left ≤ 0.31 mm², above and below
# ≤ 0.42 but for one fax tick at 1.66 (a tick strays little); initials written on into the box (drawn on a rendered
# page) 0.98–3.5 mm² on the left; a rubber stamp's border across a box up to 2.4 mm². At SPILL_MIN_MM2 or more the
# box goes to review. Profile scanner_200_sprawl (30 % of texts run on 2–6 mm past their box), seed 5: 24 silent
# errors without the left gap (« Annulé » boxes read as ticked), 0 with it; seeds 6 and 7: 0.
SPILL_GAP_MM = (1.4, 2.6)
SPILL_MIN_MM2 = 0.6
# The same gap left of a digit field's first box, when a text box ends within RUN_ON_SOURCE_MM to its left
# (read._run_on_into, session 19): a text written on past its box ends in the first digit box (the first régie
# journal: « oct. 2026 » run on into the cheque number's first box, read as the cheque number 6 and accepted at
# 0.9997 — scan bench, scanner_200_sprawl, seed 9). Gap ink there: ≤ 0.06 mm² on 246 such fields of 240 scanner
# pages; up to 3 mm² where writing runs on (22 of 102 and 62 of 252 fields at SPILL_MIN_MM2 or more).
RUN_ON_SOURCE_MM = 4.0
# Ink that is not print around a mark (foreign.py): a rubber stamp's border or letters, writing run on, crossing a
# bubble or a box. The free ring of each spot: paper FOREIGN_RING_MM (from, to) beyond its printed outline (a tick,
# a cross or a fill strays 1-2 mm past it; 1.6-5 mm was tried first: big crosses reached 1.4 mm² there), away from
# the form's print (the furniture rendered from the layout: pixels darker than FOREIGN_PRINT_LEVEL of 255, grown by
# FOREIGN_PRINT_PAD_MM), from other marks' own 3 mm and from writing zones (grown by FOREIGN_WRITE_PAD_MM: a fiche's
# bubbles sit 2.4 mm from the text boxes above and below them; grown by 1.5 mm, nothing was left of their rings).
# Thin straight lines along the page's axes FOREIGN_STREAK_MM long and thinner than FOREIGN_STREAK_PX are dropped
# first: a fax's transmission streaks put up to 3.4 mm² in the rings of ticked bubbles.
# Measured (session 18, bench_scan seed 5, every spot read marked or unsure and truly marked, 7 profiles: scanner
# 200 dpi, photocopy, fax, photo, blurred and dim photos, writing run on): ≤ 0.45 mm² but writing run on (0.94, ink
# that *is* foreign); marks read wrongly under a stamp (profile scanner_200_stamp, seeds 6 and 7: the bubbles of a
# birth declaration's « Pièces vues », « Quittance annulée » boxes under the stamp's letters) 1.33-15 mm². At
# FOREIGN_REVIEW_MM2 or more, a marked or unsure mark sends its field to review.
FOREIGN_RING_MM = (3.0, 6.0)
FOREIGN_PRINT_LEVEL = 250
FOREIGN_PRINT_PAD_MM = 0.35
FOREIGN_WRITE_PAD_MM = 0.8
FOREIGN_REVIEW_MM2 = 0.8
FOREIGN_STREAK_MM = 10.0
FOREIGN_STREAK_PX = 5
# A mark across a checkbox's edge that leaves its inside empty (foreign.touching, session 19): the scan benchmark
# (scanner_200, seed 8, 240 pages) accepted a deliberately half-filled « Rendu » box as empty, silently: the blot sat
# on the box's right line and the box's inside, measured inset from its lines, held no ink. The *edge band* of a
# checkbox is the paper TOUCH_RING_MM (from, to) beyond its outline, off the print (FOREIGN_PRINT_PAD_MM) and off
# writing zones (FOREIGN_WRITE_PAD_MM), and on the side of a writing zone that ends within TOUCH_RUN_ON_MM to the
# left of the box, off that zone's rows too (writing run on from its box stops there). A box read empty with
# TOUCH_REVIEW_MM2 of ink (isolated specks and marker bands dropped) in its edge band goes to review. Measured on
# every checkbox read empty: ≤ 0.19 mm² wherever nothing was there (scanner 200 dpi seeds 5 and 8, fax, writing
# run on: 3 boxes of 570 above 0.8 mm², text passing above or below); the half-filled box 1.84 mm².
TOUCH_RING_MM = (0.05, 1.5)
TOUCH_RUN_ON_MM = 6.0
TOUCH_REVIEW_MM2 = 0.5
# ... and a blot laid over a box's corner, most of it on paper the edge band leaves out (session 22: scanner_200_stamp,
# seed 12, 240 pages: a half-filled « Annulé » box of a return register, the blot over its top-left corner beside the
# barcode's digit boxes; inside 0.008, edge band 0.25 mm²: read empty, accepted). foreign.widened: the longest
# stretch of the box's sides where the darkness summed across the line (± BOX_LINE_BAND_MM) exceeds the print's (the
# median of the page's checkbox sides) by BOX_LINE_EXTRA, about three pixels of full ink (marks.line_runs_mm, as for
# the copy boxes below). A box read empty with a stretch of BOX_LINE_RUN_MM or more goes to review. Measured on every
# checkbox of 17 profiles, seed 5 (10,250 empty boxes): with one pixel of ink (the copy boxes' 1.0) a fax's
# transmission streak along a box's line made a new false alarm (3.5 mm; 0.25 with three); with three, no empty box
# newly sent to review (1 mm or more only where a stamp or a marker band had already sent the box to review); the
# blot: 1.625 mm (2.25 with one pixel). Seed 12's 240 stamped pages read again: 0 silent errors, mark review 4.4 %
# and empty marks in review 2.1 % as before. Ticks cross the lines too (1–3.5 mm), but a ticked box reads marked.
BOX_LINE_BAND_MM = 0.45
BOX_LINE_INSET_MM = 0.5
BOX_LINE_EXTRA = 3.0
BOX_LINE_RUN_MM = 1.0
# Holes punched for a ring binder (holes.py): dark disks HOLE_DIAMETER_MM (min, max) across — ISO 838 holes are 6 mm —
# filling at least HOLE_FILL of their bounding square, darker than HOLE_DARK of the paper, centred HOLE_CENTRE_MM from
# the aligned page's left edge (holes 12 mm from the edge, ± 2.5 mm for a sheet not pushed home, and some slack)
# and not inside a field (a filled bubble). Painted as
# paper grown by HOLE_PAINT_PAD_MM (the hole's blurred edge); a field with a bubble, a box or a digit box covered at
# HOLE_COVER_REVIEW or more goes to review. The markers (10 mm squares) and the margin's printed row numbers
# (3 mm) are of other sizes. White holes (a flatbed's lid): a thin circle correlated with rims of HOLE_RIM_RADII_MM
# at 4 px/mm, at HOLE_RIM_NCC or more and darker than the paper inside and around it by HOLE_RIM_CONTRAST.
# Measured (session 18, aligned pages of bench_scan profiles): white holes' best correlation 0.82-0.91; scanner,
# photocopy and photo pages with no hole <= 0.38 (a fax's blank margin correlates at 1.0 with anything: no contrast).
# No hole found on any page of 9 unpunched profiles; on punched ones (seeds 6, 7) every hole found on 73 of 78 pages,
# some on 4, none on 1.
HOLE_CENTRE_MM = (8.0, 17.0)
HOLE_DIAMETER_MM = (4.8, 7.5)
HOLE_FILL = 0.65
HOLE_DARK = 0.5
HOLE_PAINT_PAD_MM = 0.3
HOLE_COVER_REVIEW = 0.15
HOLE_RIM_RADII_MM = (2.7, 3.0, 3.3)
HOLE_RIM_NCC = 0.6
HOLE_RIM_CONTRAST = 0.12
TINT_DARKNESS = 0.12
TINT_WIDTH_MM = 1.5
TINT_RING_MM = (1.0, 2.0)
TINT_MIN_EXTENT_MM = 8.0
TINT_RING_FRAC = 0.25
# A band whose edge runs through the spot (session 19, scanner_200_marker seed 5: an « Annulé » box and an « Autre »
# bubble half under a band read as marked and accepted, rings 0.24 and 0.17, the ring's label side being left out):
# the spot's inside (TINT_INSIDE_INSET_MM within its outline) at TINT_INSIDE_FRAC wide-dark or more (those two: 0.85,
# 0.87) with TINT_EDGE_RING_FRAC of its ring. Filled bubbles merged with their label on blurred photos and
# photocopies reach such insides (19 spots of seed 5's photocopy, blurred and dark photos) with rings ≤ 0.024.
TINT_INSIDE_INSET_MM = 0.4
TINT_INSIDE_FRAC = 0.5
TINT_EDGE_RING_FRAC = 0.1
# ... or from the label's side, which the ring leaves out (seed 7: a main courante « Annulé » box, its right third
# under a band over its label and the author's box: inside 0.36, ring 0.004, whole ring 0.24): the inside at
# TINT_LABEL_INSIDE_FRAC with TINT_LABEL_RING_FRAC of the whole ring. Spots with such insides off the marker profile
# (seed 5: photocopy, blurred and dark photos) have whole rings ≤ 0.16: a thin margin, measured on one seed.
TINT_LABEL_INSIDE_FRAC = 0.25
TINT_LABEL_RING_FRAC = 0.2
# ... or the band runs on over the label (session 21, scanner_200_marker seed 11, 240 pages: a « Rendu » box whose
# right half lay under a band coming from its label, inside 0.43, whole ring 0.15, read ticked on an empty line and
# accepted: a phantom loan return): with TINT_LABEL_INSIDE_FRAC of its inside, the label side (TINT_BAND_GAP_MM to
# TINT_BAND_SIDE_MM right of the outline) at least TINT_BAND_COVER wide-dark on the rows where the inside is
# (tint.band_through). Measured on the spots the older rules leave (inside ≥ 0.25): the four such bands found on
# 960 marker pages (seeds 6, 7, 8 and 11) cover 0.99-1.0 of it; bubbles filled and merged with their label by a blur
# (17 profiles of seed 5, 7 profiles of seed 11, about 3,100 pages) at most 0.71.
# Session 22 (seed 15, marker, 240 pages): a paler band from a « Mère inconnue » label ended inside its box, inside
# 0.23 (the half-resolution mask), label side 0.99 covered, read ticked on a blank form: a phantom. The band rule
# now asks TINT_BAND_INSIDE_FRAC of the inside, not TINT_LABEL_INSIDE_FRAC.
TINT_BAND_GAP_MM = 0.3
TINT_BAND_SIDE_MM = 8.0
TINT_BAND_COVER = 0.85
TINT_BAND_INSIDE_FRAC = 0.15

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
# A mark read with a small margin (marks.mark_confidence below MARK_REVIEW_CONFIDENCE, about a third of the way from
# its threshold to clearly empty or clearly marked) goes to review (session 22: seed 15, 240 pages, a pencil
# half-filled bubble on a blurred photo read empty at 0.918; two empty « Vir. » bubbles of a flattened bent photo read
# marked at 0.919 and 0.931: phantom payments). Auto-accepted mark fields of written lines below it on that seed:
# 0.3-0.4 % on scanners, 0.7 % photocopy, about 1 % on photos, 2.2 % with a reflection.
MARK_REVIEW_CONFIDENCE = 0.935
BASELINE_FRACTION = 0.5        # the baseline is the median of this fraction of the page's least-inked bubbles

# A tick drawn mostly beside its bubble (seen on the fax profile: a large tick whose stroke crosses the ring at
# its bottom-left) leaves the inner disk almost empty. When a choice field reads as entirely empty, the ink in a
# halo around each bubble (an annulus from HALO_INNER to HALO_OUTER radii, on the side away from the option's
# printed label) is compared with the page's median halo: a clear excess sends the field to review.
# Geometry: the ring (r = 2.1 mm, 0.7 pt) ends before 1.25 r; 1.75 r (3.7 mm) stays clear of the previous
# option's label (4.5 mm left of the centre) and of the label bands above and below.
# Measured (fax + scanner_200, 83 pages each): the missed tick covered 9 % of its halo; empty halos after the
# page-median correction stay ≤ 2 % (fax speckle).
# The label side of the annulus is measured too, against the median of the same option's label side down the
# column (the label is printed identically on every line), where at least HALO_LABEL_MIN_ROWS lines share it.
# Why: a half fill pushed off its bubble toward the label (fax, seed 2 page 82: ink over the ring's upper right
# and the label's first letter, inner disk empty) was read as "nothing marked" without a flag. That halo now
# measures 0.37; empty fields' label sides stay ≤ 0.01. Review cost measured on 7 profiles x 83 pages x 2 seeds:
# mark review unchanged (0.0-1.2 %).
HALO_INNER = 1.25
HALO_OUTER = 1.75
HALO_INK_MIN = 0.04
HALO_LABEL_MIN_ROWS = 3
# Where an option's label letters are, relative to its bubble (papier/render.py draws the 6.5 pt label from
# r + 0.9 mm, baseline 0.8 mm below the centre), with 0.3 mm to spare: the label side of the halo outside this band
# is measured on every page, against the page's median (a fiche form's single line has no column to compare with).
# Why: a half fill pushed below-right of a « Célibataire » bubble (deces fiche, scanner_150_jpeg, seed 1 page 65)
# was read as "nothing marked".
LABEL_GAP_MM = 0.6
LABEL_ABOVE_MM = 1.8
LABEL_BELOW_MM = 1.6

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

# --- local registration of marks and the page's blank bubble ------------------------------------------------------
# (marks.registration, marks.blank_reference) Measured first: which mark fields went to review and why
# (bench_scan --out, reasons per field, photocopy + scanner_150_jpeg + fax, 83 pages each, seed 1). ~80 % were
# 'one box marked and another barely marked' on EMPTY bubbles whose ink fraction was 0.02–0.07: the printed ring
# leaking into the measured inner disk, (a) because the printed bubbles sat up to 3.4 px (0.4 mm) off the layout
# after alignment (pages aligned on 3 markers + QR corners; the disk also sat ~1 px off by a half-pixel
# convention), (b) because a dark photocopy / blurred JPEG ring bleeds 1–2 px inwards at darkness 0.2–0.3.
REG_MAX_SHIFT_PX = 4           # search ±0.5 mm around the layout position (the worst offset measured: 3.4 px)
REG_MIN_CONTRAST = 0.05        # a ring is 'seen' when ring minus surroundings ≥ this (blank rings: 0.15–0.35)
REG_MIN_BUBBLES = 6            # fewer seen rings (or spread < 40 mm): one translation instead of an affine field
REG_OUTLIER_PX = 1.5           # rings farther than this from the fitted field are left out of the fit
BLANK_REF_MIN_BUBBLES = 8      # the per-pixel median of fewer bubbles is not a blank reference (none is used)
BLANK_REF_MAX = 0.3            # the blank reference never exceeds this (a ring bleeds ≤ 0.3; ink is ≥ 0.3 above)
# A fax transmission 'streak' (a line of ink across the page) over a bubble or a box is at most STREAK_MAX_ROWS
# rows high (measured: 2 px) and inked over ≥ STREAK_ROW_SPAN of the width of each of its rows, running off an
# edge (seen: 70 % of a box, from its left edge). A filled box is full on every row, not a streak (scanner_150_jpeg:
# 4 filled boxes had been sent to review as streaks); spots darker than STREAK_CHECK_MAX are filled, not looked at.
# STREAK_ROW_SPAN was 0.6 until a streak starting in the middle of an « Annulé » box and running off its right edge
# (fax, seed 3, session 7: about half the width, 2-3 rows) was read as a tick at 0.92, silently. A band of at most
# STREAK_MAX_ROWS rows reaches the "marked" ink fraction (MARK_FRAC_MARKED) only when it spans ≥ 35 % of the width;
# below about 20 % it stays "empty" and in between "unsure". At 0.3, every thin band that could read as a mark is a
# streak (review), and a tick or cross, never a flat band with nothing else, is unaffected.
STREAK_MAX_ROWS = 4
STREAK_ROW_SPAN = 0.3
STREAK_CHECK_MAX = 0.3
# Toner specks (photocopied blanks carry a few dark dots, 0.2–0.5 mm): after the two fixes above, most of the
# remaining reviews on scanner_150_jpeg were one or two such dots inside an empty bubble or box (ink fraction
# 0.02–0.045). A blob counts as a speck when it is at most SPECK_MAX_PX pixels (0.375 mm²) and SPECK_MAX_SIDE px
# (0.75 mm) across and does not touch the edge of the measured area; with at most SPECK_MAX_COUNT specks and no
# other ink the spot is paper. The smallest deliberate mark the simulator draws (a faint blot, radius 0.6 R ≈ 1.3
# mm) and any pen stroke (≥ 1.5 mm long inside a bubble) are far larger. But a fax can dither a pale mark down to
# a couple of dots (below).
SPECK_MAX_PX = 24
SPECK_MAX_SIDE = 6
SPECK_MAX_COUNT = 2
# A bilevel capture (a fax, a scanner's black-and-white mode; sources.LoadedPage.bilevel) thresholds or dithers pale
# ink away: a faint pencil blot in a « Père » bubble came out of the fax as two dots (8 px) in the bubble's centre
# and was read "nothing marked", silently (bench_scan fax, seed 4, session 7). On a bilevel page a bubble that would
# read empty goes to review when its centre (radius ≤ BILEVEL_DOT_RADIUS of the measured disk's) holds at least
# BILEVEL_DOT_MIN_PX ink pixels, specks or not. Measured on the fax pages of bench seeds 1-4 (session 8): of 7,661
# empty bubbles, 7,642 have no ink pixel there, 8 have 1-3, 11 (in 10 fields of about 2,800) have 4-8; the blot: 8.
# Cost: about +0.4 point of mark review on fax. Pale ink that the fax turned into nothing at all cannot be seen.
BILEVEL_DOT_RADIUS = 0.5
BILEVEL_DOT_MIN_PX = 4

# --- « copie n° » box ----------------------------------------------------------------------------------------------
# The copy number decides which sheet a page is (0 = the original). Its boxes are 'blank' only with (almost) no ink
# pixel at all (read._copy_box_trace: pixels darker than INK_DARKNESS inside the boxes; only one or two isolated
# toner specks away from the boxes' edges are left out). Measured, full bench_scan run (83 pages × 7 profiles,
# seed 1; fax also seeds 2 and 3): blank boxes 0.00 mm² on every profile but photocopy, where a toner speck at a
# box's edge left up to 0.09 mm²; written copy numbers ≥ 0.84 mm²; the fax pencil "2" that the writing-zone test
# (2x2 opening) had reduced to 0.06 mm² measures 1.22 mm² here. The threshold sits 2x above the largest blank and
# 4x below the faintest written number: anything from it up makes the copy number 'unsure' → review.
COPY_TRACE_MM2 = 0.2
# ... nor pale ink (session 21, phone_photo_blurred seed 11, 240 pages: a "6" written low across the box's foot, made
# paler than INK_DARKNESS everywhere by the blur — darkness ≤ 0.17 — was taken for an empty box, the photocopy for
# the original). Pixels darker than COPY_FAINT_DARKNESS in the boxes' writing zones: that "6" 151; blank boxes of 17
# profiles of seed 5 and 7 of seed 11 (3,071 pages) ≤ 10, but on grainy and bent photos (up to 1,006), whose blank
# boxes the trace above already sends to review. From COPY_FAINT_PX up: 'unsure' → review. Session 22 (seed 14,
# 240 pages, blurred photo): a pencil "3" at 51 px was taken for an empty box (flagged only as a conflict with the
# original); blank boxes of 17 profiles of that seed: at most 22 (photocopy), 16 (reflection), 9 (bent); 60 → 35.
COPY_FAINT_DARKNESS = 0.10
COPY_FAINT_PX = 35
# A written copy number is a sheet's identity, not a value: read wrongly, a photocopy takes another copy's number
# (its pre-printed receipt numbers with it). Its one or two boxes carry no check, so it is accepted only when
# its confidence reaches COPY_CONFIDENCE, not the digit reader's threshold for plain numbers (0.998 when this was
# set; 0.9995 since). Measured on the calibration digits (24 renderings x 6 profiles): box readings wrong at confidence
# ≥ 0.998: 17 in 89,224; ≥ 0.9999: 1 in 59,912; ≥ 0.99999: 0 in 39,525. The scan benchmark (seed 1) had read a
# "3" as "2" at ≥ 0.998. Anything below goes to review: one glance per photocopied sheet.
COPY_CONFIDENCE = 0.99999
# A copy number written on a box's edge (a "1" drawn over the first box's left line: phone photo, scan benchmark
# seed 1, session 6) leaves nothing inside the boxes: the sheet was stored as the original. So the ink around the
# boxes is measured too (read._copy_edge_ink): within COPY_EDGE_BAND_MM of the boxes' outlines, outside the writing
# zones and outside the printed lines (± COPY_EDGE_LINE_TOL_MM, where the print itself is ink), specks < 2x2 px
# removed. Measured, every page with a blank « copie n° » of a full bench_scan run (seed 1, 7 profiles, 154
# pages): at most 0.06 mm² (a photocopy), 0.00 on every other profile; the "1" on the line: 3.05 mm². Anything from
# COPY_EDGE_MM2 up makes an empty copy box 'unsure' → review. The band stays clear of the printed label « Copie n° »
# (1.6 mm to the left of the first box).
COPY_EDGE_BAND_MM = 0.9
COPY_EDGE_LINE_TOL_MM = 0.25
COPY_EDGE_MM2 = 0.5
# ... and a copy number drawn right over a line (a pencil "1" along the second box's right line: scanner_300, seed
# 4, session 7, stored as the original and caught only as a conflict with it) darkens the printed line, which the
# band above leaves out: read._line_widening_mm, the longest stretch of the boxes' sides where the darkness summed
# across the line (± COPY_LINE_BAND_MM) exceeds the print's (the median of all sides) by COPY_LINE_EXTRA. Measured
# on every blank copy box of bench_scan seeds 1-4 (7 profiles, 616 pages): at most 0.375 mm (a photocopy; fax
# 0.25); the pencil "1": 4.9 mm, the phone photo's "1": 5.3 mm. (Counting ink pixels instead of summing darkness
# saw the pencil over 0.25 mm only: the grey print is itself at the ink threshold.)
COPY_LINE_BAND_MM = 0.45      # half-width of the band across a line: the next box's line is 1.0 mm away
COPY_LINE_INSET_MM = 0.5      # corners left out (the perpendicular line widens them)
COPY_LINE_EXTRA = 1.0         # one pixel of full ink more than the print, across the line
COPY_LINE_RUN_MM = 1.5
