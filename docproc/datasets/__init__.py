"""Datasets docproc trains on and measures with, fetched from the package registries and
checked against their checksums (docs/data.md)."""
