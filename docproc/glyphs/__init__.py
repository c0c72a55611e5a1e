"""Glyphs: from a field's image to normalized digit crops. Ink and paper (binarize.py),
printed rules (rules.py), digit candidates and their alternatives (segment.py, cuts.py),
the MNIST recipe (normalize.py), and how a field's crops are laid out (crop_layout.py)."""
