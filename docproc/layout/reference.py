"""A page aligned to its template's reference form: an image of the blank form whose
printed structure (its rules, frames and comb sides) is matched against the page's by ECC
(OpenCV's enhanced correlation coefficient), allowing shift, scale and a little rotation
and shear. What the boxes of a reference template are fractions of is the reference's
paper; the alignment says where that paper's pixels lie on the page's, so a copy reduced
to 94%, a form printed a little off or cut short by the scanner still gets its boxes
where its fields are. A page whose structure does not correlate with the form's (another
form, a blank page) is not aligned at all."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# The printed structure is found on the page shrunk to this width (pixels; narrower
# pages are not enlarged), and ECC runs from coarse to fine: the width at each step and
# the iterations allowed there. The coarse steps find the big moves cheaply; the last
# places boxes to within a pixel or two of that width.
STRUCTURE_WIDTH = 600
ALIGN_STEPS = ((75, 60), (150, 40), (300, 30), (600, 15))
CONVERGED = 1e-4
# Printed rules, frames and comb sides: straight ink runs at least this share of the
# page's width (horizontal) or height (vertical). Handwriting has few such runs, so it
# does not pull the alignment towards itself (on generated forms, where the writing is
# most of the ink, the whole ink correlated 0.34 with the blank form; its rules 0.94).
RULE_SHARE = 0.03
# A shrunk pixel at least this much ink is ink (a one-pixel rule shrunk to half is 0.5).
SHRUNK_INK = 0.25
# Rules blurred by this many pixels at each step: the correlation then falls smoothly
# with a misalignment of a stroke's width, instead of at once, and a comb's evenly spaced
# sides do not hold the alignment one cell off (at 1 pixel, 6 of 25 generated cheques
# scaled 94-105% were aligned 4% off in width; at 2, none).
BLUR_SIGMA = 2.0
# Correlation under this is not the template's form. Generated cheques and forms, filled
# in and scanned, correlate about 0.9 with their blank form's rules; another form, a
# blank page and noise do not converge at all, or correlate under 0.1.
MIN_CORRELATION = 0.5
NOT_THE_FORM = ("template did not match: the page's printed structure does not align with the template's "
                "reference form (another form, a blank page, a page scanned from the wrong side); check it with "
                "`docproc template check T.yaml --overlay SCAN`")
# Scale beyond this either way is not a scan of the form (nor a copy of it) but a miss.
MAX_SCALE_CHANGE = 0.2


@dataclass(frozen=True)
class Alignment:
    """Where the reference's paper lies on the page's: ``warp`` maps the reference's
    pixels, scaled to the page's paper size, onto the page's (a 2x3 affine), and
    ``correlation`` is how well the two then agree (ECC, 0 to 1)."""

    warp: np.ndarray
    correlation: float


def printed_rules(ink: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The long straight runs of an ink mask (the printed rules, frames and comb sides),
    found on it shrunk to ``size`` (width, height), as float32 0/1."""
    shrunk = cv2.resize(ink.astype(np.float32), size, interpolation=cv2.INTER_AREA) >= SHRUNK_INK
    shrunk = shrunk.astype(np.uint8)
    width, height = size
    across = cv2.morphologyEx(shrunk, cv2.MORPH_OPEN, np.ones((1, max(5, int(RULE_SHARE * width))), np.uint8))
    down = cv2.morphologyEx(shrunk, cv2.MORPH_OPEN, np.ones((max(5, int(RULE_SHARE * height)), 1), np.uint8))
    return (across | down).astype(np.float32)


def _blurred(rules: np.ndarray, width: int) -> np.ndarray:
    height = max(8, round(rules.shape[0] * width / rules.shape[1]))
    small = cv2.resize(rules, (width, height), interpolation=cv2.INTER_AREA) if width < rules.shape[1] else rules
    return cv2.GaussianBlur(small, (0, 0), BLUR_SIGMA)


def align_to_reference(page_ink: np.ndarray, reference_ink: np.ndarray) -> Alignment | None:
    """The alignment of a straightened page's ink mask to the reference form's ink mask
    (any size: it is scaled to the page's) by their printed rules, or None where they do
    not correlate (no rules on either, ECC does not converge, or it finds a scale no scan
    of the form has)."""
    height, width = page_ink.shape
    scale = min(1.0, STRUCTURE_WIDTH / width)
    size = (max(8, round(width * scale)), max(8, round(height * scale)))
    page_rules, form_rules = printed_rules(page_ink, size), printed_rules(reference_ink, size)
    if not page_rules.any() or not form_rules.any():
        return None
    warp = np.eye(2, 3, dtype=np.float32)
    correlation, done = 0.0, 1.0  # the step's width over the shrunk page's
    for step_width, iterations in ALIGN_STEPS:
        step = min(1.0, step_width / size[0])
        warp[:, 2] *= step / done
        done = step
        try:
            correlation, warp = cv2.findTransformECC(
                _blurred(form_rules, round(size[0] * step)), _blurred(page_rules, round(size[0] * step)), warp,
                cv2.MOTION_AFFINE, (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iterations, CONVERGED), None, 1)
        except cv2.error:
            return None  # uncorrelated: ECC's iterations diverge, and OpenCV stops them
        if step == 1.0:
            break
    warp = warp.astype(np.float64)
    warp[:, 2] /= done * scale
    scales = np.linalg.svd(warp[:, :2], compute_uv=False)
    if np.any(np.abs(scales - 1.0) > MAX_SCALE_CHANGE):
        return None
    return Alignment(warp, float(correlation))


def aligned_box(box: tuple[int, int, int, int], warp: np.ndarray) -> tuple[int, int, int, int]:
    """A box (x0, y0, x1, y1) on the reference's paper, as the box around where its
    corners land on the page's."""
    x0, y0, x1, y1 = box
    corners = np.array([[x0, y0, 1], [x1, y0, 1], [x0, y1, 1], [x1, y1, 1]], np.float64) @ warp.T
    left, top = np.floor(corners.min(axis=0)).astype(int)
    right, bottom = np.ceil(corners.max(axis=0)).astype(int)
    return int(left), int(top), int(right), int(bottom)
