"""docproc: batch OCR for handwritten digits in scanned documents."""

__version__ = "0.1.0"
