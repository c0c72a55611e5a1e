"""Where the paper is in a scan: the scanner bed (the dark border and corners around a page
that a flatbed or a feeder without cropping stores) cut away, so a template's coordinates
are fractions of the paper, not of the image."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# The bed is darker than this share of the paper's own level (security tints and grey
# paper stay above it; the black or dark grey of a scanner bed well under).
BED_LEVEL = 0.55
# Dark regions thinner than this share of the scan's shorter side are ink, not bed.
BED_THICKNESS = 0.01
# A bed runs along the scan's edges: a border all round, the corners around a page laid
# askew. Dark ink that reaches the edge of a tight crop (a thick stroke cut off) holds
# far less of the scan's outermost pixels than this share.
MIN_EDGE_SHARE = 0.3
# Less bed than this share of the scan is noise at its edge, and the scan is kept whole.
MIN_BED_SHARE = 0.002
# Paper on the bed at least this share of the largest piece's area is another document
# (two cheques scanned on one flatbed page), not a scrap or a gap in the bed.
OTHER_DOCUMENT = 0.25
# Bed pixels left inside the paper's box (the corners around a tilted page, the shadow
# at its edge) are painted this far beyond where the bed was found.
SHADOW = 3


@dataclass(frozen=True)
class Paper:
    """The paper's part of a scan: the grey image of its box (the bed inside the box
    painted the paper's colour), where the box lies in the scan (x, y), which of the
    box's pixels are paper (None: all of them, as when no bed was found), and how many
    documents lie on the bed (this one, the largest, among them)."""

    image: np.ndarray
    offset: tuple[int, int]
    mask: np.ndarray | None = None
    documents: int = 1


def find_paper(grey: np.ndarray) -> Paper:
    """The paper in ``grey`` (ink dark): the box of what is not scanner bed, where bed is
    the dark regions, too thick to be ink, that reach the scan's edge; of several documents
    on the bed, the largest. A scan with no bed comes back whole, at offset (0, 0)."""
    documents = find_documents(grey)
    return max(documents, key=lambda paper: int(paper.image.size if paper.mask is None else paper.mask.sum()))


def find_documents(grey: np.ndarray) -> list[Paper]:
    """Every document on the scanner bed of ``grey`` (see ``find_paper``), in reading order
    of the scan as stored: rows of documents from the top, each row from the left. A
    document is a piece of paper at least ``OTHER_DOCUMENT`` of the largest's area; a scan
    with no bed is one document, the whole scan."""
    height, width = grey.shape
    whole = [Paper(grey, (0, 0))]
    # Every fourth pixel each way gives the paper's level as well, sixteen times faster.
    threshold = BED_LEVEL * float(np.percentile(grey[::4, ::4], 90))
    edges = np.concatenate([grey[:2].ravel(), grey[-2:].ravel(), grey[:, :2].ravel(), grey[:, -2:].ravel()])
    if np.mean(edges < threshold) < MIN_EDGE_SHARE:
        return whole  # no bed along the edges: most scans have none
    dark = (grey < threshold).astype(np.uint8)
    side = max(3, int(BED_THICKNESS * min(height, width)))
    thick = cv2.morphologyEx(dark, cv2.MORPH_OPEN, np.ones((side, side), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(thick, connectivity=8)
    if count <= 1:
        return whole
    at_edge = np.zeros(count, bool)
    for edge in (labels[0], labels[-1], labels[:, 0], labels[:, -1]):
        at_edge[np.unique(edge)] = True
    at_edge[0] = False
    bed = at_edge[labels]
    rim = np.concatenate([bed[0], bed[-1], bed[:, 0], bed[:, -1]])
    if bed.sum() < MIN_BED_SHARE * height * width or rim.mean() < MIN_EDGE_SHARE:
        return whole
    # The bed's own speckle and the shadow at the paper's edge: what is dark next to the
    # bed is bed too.
    bed = cv2.dilate(bed.astype(np.uint8), np.ones((2 * SHADOW + 1, 2 * SHADOW + 1), np.uint8)).astype(bool)
    count, labels, stats, _ = cv2.connectedComponentsWithStats((~bed).astype(np.uint8), connectivity=4)
    if count <= 1:
        return whole
    areas = stats[1:, cv2.CC_STAT_AREA]
    pieces = [1 + int(i) for i in np.flatnonzero(areas >= OTHER_DOCUMENT * areas.max())]
    papers = []
    for label in _reading_order(pieces, stats):
        x, y, w, h = (int(v) for v in stats[label, :4])
        box = grey[y : y + h, x : x + w].copy()
        inside_bed = labels[y : y + h, x : x + w] != label
        if not inside_bed.any():
            papers.append(Paper(box, (x, y), documents=len(pieces)))
            continue
        box[inside_bed] = int(np.median(box[~inside_bed]))
        papers.append(Paper(box, (x, y), ~inside_bed, len(pieces)))
    return papers


def _reading_order(labels: list[int], stats: np.ndarray) -> list[int]:
    """Pieces of paper (their component labels and stats) in reading order: a piece whose
    vertical centre lies within the first piece of the current row is in that row."""
    rows: list[list[int]] = []
    for label in sorted(labels, key=lambda i: (int(stats[i, cv2.CC_STAT_TOP]), int(stats[i, cv2.CC_STAT_LEFT]))):
        top, height = int(stats[label, cv2.CC_STAT_TOP]), int(stats[label, cv2.CC_STAT_HEIGHT])
        if rows:
            first = rows[-1][0]
            row_top, row_height = int(stats[first, cv2.CC_STAT_TOP]), int(stats[first, cv2.CC_STAT_HEIGHT])
            if top + height / 2 < row_top + row_height:
                rows[-1].append(label)
                continue
        rows.append([label])
    return [label for row in rows for label in sorted(row, key=lambda i: int(stats[i, cv2.CC_STAT_LEFT]))]
