"""Write an audit: metrics.json (every figure), the plots as PNG files, and one
self-contained report.html (plots and field crops embedded, nothing fetched)."""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import pandas as pd

from docproc.audit import plots
from docproc.errors import OutputError
from docproc.ingest.inputs import read_kind
from docproc.ingest.pages import iter_pages
from docproc.output.atomic import write_atomically

CROP_HEIGHT = 64


@dataclass(frozen=True)
class GalleryItem:
    """One mistake for the gallery: where it is (file, page, field, or which test digit),
    truth, reading, confidences, and its image as PNG bytes (None when the scan or its
    box is not at hand)."""

    where: str
    truth: str
    text: str
    confidence: float
    digit_confidences: str
    outcome: str
    crop_png: bytes | None
    # The results' status: an error the run accepted ("ok") is the one that costs.
    status: str = ""


Renderer = Callable[[dict[str, Any], dict[str, bytes], list[GalleryItem], dict[str, str]], str]


def _box(row: pd.Series) -> tuple[int, int, int, int] | None:
    try:
        x, y, w, h = (int(float(row[k])) for k in ("x", "y", "w", "h"))
    except (TypeError, ValueError):
        return None
    return (x, y, w, h) if w > 0 and h > 0 else None


def worst_errors(fields: pd.DataFrame, scans: Path | None, limit: int) -> list[GalleryItem]:
    """The ``limit`` worst fields: wrong with the highest confidence first, then fields
    missing or on pages that failed. With ``scans`` (the folder the results' file names
    are relative to), each item carries its crop, cut from the page at the results' box."""
    wrong = fields[fields["outcome"] != "right"].copy()
    wrong["rank"] = wrong["outcome"].map({"wrong": 0, "missing": 1, "error": 2})
    wrong = wrong.sort_values(["rank", "confidence", "file", "page", "part", "field"],
                              ascending=[True, False, True, True, True, True],
                              kind="stable").head(limit)
    crops: dict[int, bytes] = {}
    if scans is not None:
        wanted: dict[tuple[str, int], list[tuple[int, tuple[int, int, int, int]]]] = {}
        for index, row in wrong.iterrows():
            box = _box(row)
            if box is not None:
                wanted.setdefault((row["file"], int(row["page"])), []).append((index, box))
        for name in sorted({file for file, _ in wanted}):
            path = scans / name
            if not path.is_file():
                continue
            pages = {page for file, page in wanted if file == name}
            for page in iter_pages(path, read_kind(path) or ""):
                for index, (x, y, w, h) in wanted.get((name, page.number), []):
                    crop = page.image[max(0, y) : y + h, max(0, x) : x + w]
                    if crop.size:
                        scale = CROP_HEIGHT / crop.shape[0]
                        crop = cv2.resize(crop, (max(1, round(crop.shape[1] * scale)), CROP_HEIGHT),
                                          interpolation=cv2.INTER_AREA)
                        crops[index] = cv2.imencode(".png", crop)[1].tobytes()
                pages.discard(page.number)
                if not pages:
                    break  # pages stream one at a time: stop at the last one needed
    return [
        GalleryItem(f"{row['file']} p{int(row['page'])}{_part(int(row['part']))} {row['field']}", row["truth"], row["text"],
                    float(row["confidence"]), row["digit_confidences"], row["outcome"], crops.get(index),
                    str(row.get("status", "")))
        for index, row in wrong.iterrows()
    ]


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.2%}"


def _scores_table(title: str, groups: dict[str, dict[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td>{g['fields']}</td><td>{g['right']}</td><td>{g['wrong']}</td>"
        f"<td>{g['missing']}</td><td>{g['error']}</td><td>{_percent(g['field_accuracy'])}</td>"
        f"<td>{_percent(g['digit_accuracy'])}</td></tr>"
        for name, g in groups.items()
    )
    return (f"<h2>{html.escape(title)}</h2><table><thead><tr><th></th><th>fields</th><th>right</th><th>wrong</th>"
            f"<th>missing</th><th>unreadable page</th><th>field accuracy</th><th>digit accuracy</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>")


def marked_reading(truth: str, text: str) -> str:
    """The reading as HTML with its wrong digits marked: a digit read for another or read
    where there is none in ``<span class="wrong">``, a truth digit missed as a dot in
    ``<span class="missed">``, aligned as the audit aligns digits (scores.aligned_digits)."""
    from rapidfuzz.distance import Levenshtein

    out = []
    for tag, t0, t1, r0, r1 in Levenshtein.opcodes(truth, text):
        if tag == "equal":
            out.append(html.escape(text[r0:r1]))
            continue
        if r1 > r0:
            out.append(f'<span class="wrong">{html.escape(text[r0:r1])}</span>')
        if t1 - t0 > r1 - r0:
            out.append('<span class="missed">' + "&middot;" * (t1 - t0 - (r1 - r0)) + "</span>")
    return "".join(out)


def _gallery(items: list[GalleryItem]) -> str:
    if not items:
        return "<h2>Worst errors</h2><p>No field was read wrong.</p>"
    cards = []
    for item in items:
        image = (f'<img src="{_data_uri(item.crop_png)}" alt="{html.escape(item.where)}">'
                 if item.crop_png else '<div class="nocrop">no crop (pass --scans)</div>')
        reading = marked_reading(item.truth, item.text) if item.outcome == "wrong" else f"({item.outcome})"
        accepted = ('<div class="accepted">accepted: status ok</div>' if item.status == "ok" and item.outcome == "wrong"
                    else "")
        cards.append(
            f'<div class="card{" accepted-error" if accepted else ""}">{image}'
            f'<div class="where">{html.escape(item.where)}</div>{accepted}'
            f'<div>truth <b>{html.escape(item.truth)}</b></div>'
            f'<div>read <b class="reading">{reading}</b> at {item.confidence:.3f}</div>'
            f'<div class="digits">{html.escape(item.digit_confidences)}</div></div>'
        )
    return f"<h2>Worst errors (wrong with high confidence first)</h2><div class=\"gallery\">{''.join(cards)}</div>"


STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{margin-bottom:0.2em} .sub{color:#666;margin-top:0}
.headline{display:flex;gap:1em;flex-wrap:wrap;margin:1.5em 0}
.figure{border:1px solid #ddd;border-radius:6px;padding:0.6em 1em;min-width:10em}
.figure .value{font-size:1.6em;font-weight:600} .figure .label{color:#555;font-size:0.9em}
table{border-collapse:collapse;margin:0.5em 0 1.5em} td,th{border-bottom:1px solid #e3e3e3;padding:0.3em 0.7em;text-align:right}
td:first-child,th:first-child{text-align:left}
.plots{display:flex;flex-wrap:wrap;gap:1em} .plots img{max-width:100%;border:1px solid #eee}
.wrong{color:#fff;background:#c0392b;padding:0 0.1em;border-radius:2px} .missed{color:#c0392b}
.accepted{color:#c0392b;font-weight:600} .card.accepted-error{border-color:#c0392b;border-width:2px}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:0.8em}
.card{border:1px solid #ddd;border-radius:6px;padding:0.5em;font-size:0.9em}
.card img{max-width:100%;display:block;margin-bottom:0.3em}
.where{color:#555} .bad{color:#b03a2e} .digits{color:#777;font-family:monospace;font-size:0.85em}
.nocrop{color:#999;font-style:italic;margin-bottom:0.3em}
"""


def _part(part: int) -> str:
    """How the gallery names a document of a split page (``p1.2``: page 1, part 2); nothing for part 1."""
    return f".{part}" if part != 1 else ""


def _page(title: str, subtitle: str, headline: list[tuple[str, str]], sections: str, images: dict[str, bytes],
          gallery: str) -> str:
    boxes = "".join(f'<div class="figure"><div class="value">{v}</div><div class="label">{html.escape(label)}</div></div>'
                    for v, label in headline)
    pictures = "".join(f'<img src="{_data_uri(png)}" alt="{html.escape(name)}">' for name, png in images.items())
    return (
        f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1><p class=\"sub\">{html.escape(subtitle)}</p>"
        f"<div class=\"headline\">{boxes}</div>{sections}<h2>Plots</h2><div class=\"plots\">{pictures}</div>{gallery}"
        "</body></html>\n"
    )


def _threshold_line(review: dict[str, Any], unit: str) -> str:
    threshold, target = review["threshold"], review["target_error"]
    if threshold is None:
        met = f"no threshold meets it: every one of the {unit} must be reviewed"
    else:
        met = (f"confidence &ge; {threshold:.4f} accepts {1 - review['share_reviewed']:.1%} of {unit} "
               f"({review['accepted']}) at {_percent(review['error_among_accepted'])} wrong "
               f"({review['errors_among_accepted']} of {review['accepted']}); the true rate may be up to "
               f"{_percent(review['error_upper_95'])} (95% upper bound)")
    lines = [f"Target: at most {target:.2%} wrong among accepted {unit}: {met}."]
    needed = review.get("sample_needed")
    if threshold is not None and review["error_upper_95"] > target:
        small = (f" It takes at least {needed:,} accepted {unit} with no error to show {target:.2%} at all."
                 if needed else "")
        lines.append(f'<b class="bad">Warning: this sample is too small to support the target</b>: the threshold '
                     f"was chosen on these {unit}, and its bound is above the target.{small}")
    if review.get("conservative_threshold") is not None:
        lines.append(f"The lowest threshold whose 95% upper bound meets the target: confidence &ge; "
                     f"{review['conservative_threshold']:.4f}, which reviews {review['conservative_share_reviewed']:.1%}.")
    run = review.get("run")
    if run is not None:
        lines.append(f"The run's own --review-below accepted {run['accepted']} {unit} (status ok; "
                     f"{_percent(run['share_reviewed'])} reviewed) at {_percent(run['error_among_accepted'])} wrong "
                     f"({run['errors']} of {run['accepted']}; 95% upper bound {_percent(run['error_upper_95'])}).")
    return "<h2>Review threshold</h2>" + "".join(f"<p>{line}</p>" for line in lines)


def render_html(figures: dict[str, Any], images: dict[str, bytes], gallery: list[GalleryItem],
                sources: dict[str, str]) -> str:
    """The field audit's page: headline figures, tables per template and field, plots, gallery."""
    overall, review, calibration = figures["overall"], figures["review"], figures["calibration"]
    headline = [
        (_percent(overall["field_accuracy"]), f"fields right ({overall['right']} of {overall['fields']})"),
        (_percent(overall["digit_accuracy"]), "digits right (aligned)"),
        (_percent(review["error_at_10_percent_review"]), "wrong among accepted, 10% reviewed"),
        (_percent(review["share_reviewed"]), f"review needed for {review['target_error']:.2%} error"),
        (f"{calibration['ece']:.3f}", "calibration error (ECE)"),
    ]
    counts = (f"<p>{overall['missing']} truth fields missing from the results, {overall['error']} on pages the run "
              f"could not read ({figures['error_rows']} error rows), {figures['extra_rows']} result rows with no truth.</p>")
    if figures.get("unmatched"):
        counts += "<ul>" + "".join(f"<li>{html.escape(note)}</li>" for note in figures["unmatched"]) + "</ul>"
    sections = (_threshold_line(review, "fields") + counts + _scores_table("By template", figures["per_template"])
                + _scores_table("By field", figures["per_field"]))
    subtitle = f"results {sources['results']} against truth {sources['truth']}, {sources['date']}"
    return _page("docproc accuracy audit", subtitle, headline, sections, images, _gallery(gallery))


def render_model_html(figures: dict[str, Any], images: dict[str, bytes], gallery: list[GalleryItem],
                      sources: dict[str, str]) -> str:
    """The model audit's page: accuracy, per-digit scores, review trade-off and
    calibration of single digits, the most confident mistakes."""
    overall, review, calibration = figures["overall"], figures["review"], figures["calibration"]
    headline = [
        (_percent(overall["accuracy"]), f"digits right ({overall['right']} of {overall['digits']})"),
        (str(overall["errors"]), "errors"),
        (_percent(review["share_reviewed"]), f"review needed for {review['target_error']:.2%} error"),
        (f"{calibration['ece']:.4f}", "calibration error (ECE)"),
    ]
    rows = "".join(f"<tr><td>{s['label']}</td><td>{s['support']}</td><td>{_percent(s['precision'])}</td>"
                   f"<td>{_percent(s['recall'])}</td><td>{_percent(s['f1'])}</td></tr>" for s in figures["digits"]["per_digit"])
    table = ("<h2>Per digit</h2><table><thead><tr><th>digit</th><th>test digits</th><th>precision</th><th>recall</th>"
             f"<th>F1</th></tr></thead><tbody>{rows}</tbody></table>")
    subtitle = f"model {sources['model']} on {sources['data']}, {sources['date']}"
    return _page("docproc model audit", subtitle, headline, _threshold_line(review, "digits") + table, images,
                 _gallery(gallery))


def draw_plots(figures: dict[str, Any], unit: str) -> dict[str, bytes]:
    """Every plot of a report as PNG bytes, by file name; ``unit`` names what is ranked
    and calibrated ("fields" or "digits")."""
    return {
        "review_tradeoff.png": plots.review_tradeoff(figures["review"], unit),
        "reliability.png": plots.reliability(figures["calibration"], unit),
        "digit_confusion.png": plots.confusion(figures["digits"]),
        "per_digit.png": plots.per_digit_f1(figures["digits"]),
    }


def write_report(out: Path, figures: dict[str, Any], gallery: list[GalleryItem], sources: dict[str, str],
                 render: Renderer = render_html, unit: str = "fields") -> Path:
    """Write metrics.json, the plots and report.html (made by ``render``) into ``out``
    (created if needed); each file is written whole under a temporary name and renamed
    into place. Returns the path of report.html."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create report folder {out}: {exc.strerror}; choose another -o folder") from exc
    images = draw_plots(figures, unit)
    documents: dict[str, bytes] = {
        "metrics.json": (json.dumps({"sources": sources, **figures}, indent=2, allow_nan=False) + "\n").encode(),
        **images,
        "report.html": render(figures, images, gallery, sources).encode(),
    }
    for name, content in documents.items():
        write_atomically(out / name, content, fix="check the folder's permissions and free space, or choose another -o")
    return out / "report.html"


def sources_of(results: list[Path], truth: Path) -> dict[str, str]:
    """What the report was made from, for its header and metrics.json."""
    return {"results": ", ".join(map(str, results)), "truth": str(truth), "date": dt.date.today().isoformat()}

