"""The review queue: the fields of a results file that a person should key.

Every ``review`` row is in it, and with ``sample`` a share of the ``ok`` rows for quality
control. Which ok rows are sampled follows from each row's key and a secret salt kept in
the store, so the sample is the same after a restart and for every operator on the
queue, and no operator can tell a sampled row from a review row: the item a client gets
does not say which it is, a sampled row comes at a random place in the queue, and where
there is a sample the station is blind (server.py: no reasons or confidences shown).
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from docproc.config import REVIEW_ORDERS
from docproc.errors import ReviewError
from docproc.output.results import COLUMNS, JSON_LINES_SUFFIXES, read_rows

ORDERS = REVIEW_ORDERS


@dataclass(frozen=True)
class QueueItem:
    """One field to key: where it is (file, page, part, field and its box on the page as
    rasterized), what the machine read, how sure it was, and why it is in review."""

    file: str
    page: int
    part: int
    template: str
    field: str
    text: str
    marks: str
    confidence: float
    digit_confidences: tuple[float, ...]
    status: str
    reason: str
    box: tuple[int, int, int, int]
    # The readers' other likely readings, where the results are JSON Lines: (text, probability).
    alternatives: tuple[tuple[str, float], ...] = field(default=())

    @property
    def key(self) -> str:
        """The field's identity across runs and restarts (file, page, part, field)."""
        return field_key(self.file, self.page, self.part, self.field)


def field_key(file: str, page: int, part: int, name: str) -> str:
    """The key a field is stored under: its place in the results, as JSON."""
    return json.dumps([file, int(page), int(part), name], ensure_ascii=False)


def _confidences(text: str) -> tuple[float, ...]:
    return tuple(float(c) for c in text.split()) if text else ()


def _from_csv(path: Path) -> list[QueueItem]:
    columns, rows = read_rows(path)
    missing = [c for c in COLUMNS if c not in columns and c not in ("part", "marks", "value", "reason")]
    if missing:
        raise ReviewError(f"{path} is not a docproc results CSV: it has no {', '.join(missing)} column; give the file "
                          "`docproc run -o` wrote")
    items = []
    for row in rows:
        text = str(row["text"])
        items.append(QueueItem(str(row["file"]), int(row["page"]), int(row.get("part", 1) or 1), str(row["template"]),
                               str(row["field"]), text, str(row.get("marks", "") or text), float(row["confidence"]),
                               _confidences(str(row["digit_confidences"])), str(row["status"]),
                               str(row.get("reason", "")), (int(row["x"]), int(row["y"]), int(row["w"]), int(row["h"]))))
    return items


def _from_jsonl(path: Path) -> list[QueueItem]:
    items = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
                box = r.get("box") or {"x": 0, "y": 0, "w": 0, "h": 0}
                items.append(QueueItem(r["file"], int(r["page"]), int(r.get("part", 1)), r["template"], r["field"],
                                       r["text"], r.get("marks") or r["text"], float(r["confidence"]),
                                       tuple(float(c) for c in r["digit_confidences"]), r["status"], r.get("reason", ""),
                                       (int(box["x"]), int(box["y"]), int(box["w"]), int(box["h"])),
                                       tuple((a["text"], float(a["probability"])) for a in r.get("alternatives", ()))))
            except (ValueError, KeyError, TypeError) as exc:
                raise ReviewError(f"{path}, line {number}: not a docproc results record ({exc}); give the file "
                                  "`docproc run -o` wrote") from exc
    return items


def is_json_lines(path: Path) -> bool:
    """Whether a results file is JSON Lines (by its name, as ``docproc run -o`` chose), else CSV."""
    return path.suffix.lower() in JSON_LINES_SUFFIXES


def read_results(path: Path) -> list[QueueItem]:
    """Every row of a results file (CSV, or JSON Lines by its ``.jsonl``/``.ndjson`` name)
    as a queue item, in file order. ReviewError when it is missing or not docproc's."""
    if not path.is_file():
        raise ReviewError(f"results file {path} does not exist; give the CSV that `docproc run -o` wrote")
    try:
        if is_json_lines(path):
            return _from_jsonl(path)
        return _from_csv(path)
    except (ValueError, KeyError, TypeError, UnicodeDecodeError, csv.Error) as exc:
        # TypeError: a CSV row shorter than its header (its missing values are None).
        raise ReviewError(f"{path} cannot be read as docproc results ({exc}); give the CSV that `docproc run -o` "
                          "wrote") from exc


def _uniform(key: str, salt: str) -> float:
    """A number in [0, 1) that follows from the key and the salt alone."""
    digest = hashlib.sha256((salt + key).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def sampled(key: str, salt: str, share: float) -> bool:
    """Whether an ok row is in the quality-control sample: a share ``share`` of keys,
    chosen by a hash of the key and the store's secret salt."""
    return _uniform(key, salt) < share


def build_queue(items: list[QueueItem], sample: float = 0.0, salt: str = "", order: str = "confidence") -> list[QueueItem]:
    """The fields to key, in the order they are shown: the review rows, and a ``sample``
    share of the ok rows; least confident first (``order`` = ``confidence``, ties in file
    order; a sampled row at a random place among them) or in file order (``file``). Error
    rows are files or pages that could not be read: there is no field to key."""
    if order not in ORDERS:
        raise ReviewError(f"unknown order {order!r}; choose one of {', '.join(ORDERS)}")
    if not 0.0 <= sample <= 1.0:
        raise ReviewError(f"--sample {sample:g} is not a share; give a number from 0 to 1 (0.02 keys 2% of the ok rows)")
    wanted = [item for item in items
              if item.status == "review" or (item.status == "ok" and sample > 0 and sampled(item.key, salt, sample))]
    if order == "file":
        return wanted
    # Least confident first; a sampled ok row goes to a random place among the review rows'
    # confidences, so where it comes in the queue does not give it away either.
    confidences = [item.confidence for item in wanted if item.status == "review"] or [0.0, 1.0]
    low, high = min(confidences), max(confidences)

    def place(item: QueueItem) -> float:
        return item.confidence if item.status == "review" else low + (high - low) * _uniform(item.key, salt + ":place")

    return sorted(wanted, key=place)  # stable: ties stay in file order
