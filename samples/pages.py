"""Write sets of synthetic scans with their templates and truth (samples, tests, benchmarks).

    python -m samples.pages --out /tmp/heldout --cheques 200 --forms 100 --zips 200 --seed 99
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
from PIL import Image

from docproc.datasets import mnist
from samples.layouts import DigitSource, Layout, cheque_layout, form_layout, render_page, zip_layout


def _save(pages: list[np.ndarray], path: Path, dpi: int, jpeg_quality: int | None = None) -> None:
    suffix = path.suffix.lower()
    images = [Image.fromarray(p[..., ::-1]) for p in pages]  # drawn in BGR
    if suffix in (".png", ".tif", ".tiff"):
        # Document scanners mostly write 8-bit grey PNG/TIFF; JPEGs and PDFs stay in colour.
        images = [image.convert("L") for image in images]
    if suffix == ".pdf":
        # No creation or modification date: the same seed gives the same bytes.
        images[0].save(path, save_all=True, append_images=images[1:], resolution=dpi, creationDate=None, modDate=None)
    elif suffix in (".tif", ".tiff"):
        images[0].save(path, save_all=True, append_images=images[1:], dpi=(dpi, dpi), compression="tiff_lzw")
    elif suffix in (".jpg", ".jpeg"):
        images[0].save(path, quality=jpeg_quality or 85, dpi=(dpi, dpi))
    else:
        images[0].save(path, dpi=(dpi, dpi))


def write_set(out: Path, cheques: int, forms: int, zips: int, seed: int,
              form_pages: int = 2, formats: tuple[str, ...] = ("png", "jpg"),
              split: mnist.Split | None = None,
              written_with: dict[tuple[str, int, str], tuple[int, ...]] | None = None,
              template_keys: bool = False) -> list[tuple[str, int, str, str]]:
    """Write cheques (one page each, PNG and JPEG), forms (``form_pages``-page PDFs) and
    zip-code crops (one multi-page TIFF) under ``out/scans``, their templates under
    ``out/templates`` and ``out/truth.csv``. Digits come from the MNIST test split unless
    ``split`` is given. With ``written_with``, it is filled with each field's digits as
    indices into that split: {(file, page, field): indices}. With ``template_keys``, the
    templates say more of their fields (the cheque's amount is an amount, the form's
    account ends in a Luhn check digit, as its digits then do): the demo samples; the
    benchmarks and training sets keep the plain templates they were measured with.

    Returns the truth rows (file, page, field, text), files relative to ``out/scans``
    (run with ``--root out/scans`` to get the same names).
    """
    rng = np.random.default_rng(seed)
    digits = DigitSource(rng, split)
    truth: list[tuple[str, int, str, str]] = []
    (out / "templates").mkdir(parents=True, exist_ok=True)
    layouts: dict[str, Layout] = {"cheque": cheque_layout(template_keys), "form": form_layout(template_keys)}
    for kind, layout in layouts.items():
        (out / "templates" / f"{kind}.yaml").write_text(layout.template_yaml())

    Page = tuple[np.ndarray, dict[str, str], dict[str, tuple[int, ...]]]

    def render(layout: Layout) -> Page:
        before = len(digits.written)
        image, fields = render_page(layout, rng, digits)
        return image, fields, dict(zip(fields, digits.written[before:]))

    def emit(kind: str, number: int, pages: list[Page], layout: Layout, suffix: str) -> None:
        rel = f"{kind}s/{kind}-{number:04d}.{suffix}"
        (out / "scans" / rel).parent.mkdir(parents=True, exist_ok=True)
        _save([p for p, _, _ in pages], out / "scans" / rel, layout.dpi, jpeg_quality=int(rng.integers(70, 95)))
        for page_number, (_, fields, indices) in enumerate(pages, start=1):
            truth.extend((rel, page_number, name, text) for name, text in fields.items())
            if written_with is not None:
                written_with.update(((rel, page_number, name), indices[name]) for name in fields)

    for number in range(1, cheques + 1):
        layout = layouts["cheque"]
        emit("cheque", number, [render(layout)], layout, formats[number % len(formats)])
    for number in range(1, forms + 1):
        layout = layouts["form"]
        emit("form", number, [render(layout) for _ in range(form_pages)], layout, "pdf")
    zip_pages: list[Page] = []
    for number in range(1, zips + 1):
        layout = zip_layout(["none", "frame", "underline"][number % 3])
        image, fields, indices = render(layout)
        zip_pages.append((image, {"digits-1": fields["zip"]}, {"digits-1": indices["zip"]}))
    if zip_pages:
        emit("zip", 1, zip_pages, zip_layout("none"), "tif")
    with (out / "truth.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["file", "page", "field", "text"])
        writer.writerows(truth)
    return truth


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--cheques", type=int, default=20)
    parser.add_argument("--forms", type=int, default=5)
    parser.add_argument("--zips", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    truth = write_set(args.out, args.cheques, args.forms, args.zips, args.seed)
    print(f"wrote {len(truth)} fields to {args.out}")


if __name__ == "__main__":
    main()
