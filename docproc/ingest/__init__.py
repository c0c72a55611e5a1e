"""Ingest: which files a run reads (inputs.py), and their pages as grey images (pages.py,
pdf_scans.py); single-digit crop files for ``docproc classify`` (crop_files.py)."""
