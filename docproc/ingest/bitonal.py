"""Grey from bitonal scans: archives store cheques and forms as 1-bit images (CCITT G3/G4,
LZW), thresholded or dithered. Dithering turns grey into dot density, which segmentation
would take for specks and broken strokes; averaging each pixel's neighbourhood gives the
grey back (inverse halftoning), and leaves a thresholded scan's strokes as they were,
with soft edges like a grey scan's."""

from __future__ import annotations

import cv2
import numpy as np

# The spread of the average, in pixels: error-diffusion dots repeat every two or three
# pixels, whatever the resolution.
SIGMA = 1.0


def grey_from_bitonal(white: np.ndarray) -> np.ndarray:
    """Grey uint8 (ink dark) from a bitonal page (True where the paper is white)."""
    grey = white.astype(np.float32) * 255.0
    return np.clip(cv2.GaussianBlur(grey, (0, 0), SIGMA) + 0.5, 0, 255).astype(np.uint8)
