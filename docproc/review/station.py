"""Opening a review: the results, their scans and templates, the store and its queue.

The command (``docproc review``), the tests and the benchmark all start here, then serve
the station (server.py) or export what was keyed (export.py).
"""

from __future__ import annotations

import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from docproc.config import PDF_DPI
from docproc.errors import ReviewError
from docproc.review.crops import CropCutter, ScanFiles
from docproc.review.export import reviewed_rows, write_reviewed, write_truth
from docproc.review.queue import build_queue, read_results
from docproc.review.rules import Rules
from docproc.review.server import Station, bind, is_loopback, serve
from docproc.review.store import ReviewStore, default_store_path


@dataclass(frozen=True)
class Review:
    """An opened review: the results file, its scans, the templates' rules, the store
    (its queue loaded) and what the operator should know before starting."""

    results: Path
    scans: ScanFiles
    rules: Rules
    store: ReviewStore
    queued: int
    warnings: tuple[str, ...]
    # Whether the queue holds a quality-control sample of ok rows: the station is then blind.
    sampled: bool = False

    def station(self, host: str, pdf_dpi: int = PDF_DPI) -> Station:
        """The station to serve at ``host``: with a token unless it is a loopback address."""
        token = None if is_loopback(host) else secrets.token_urlsafe(24)
        # The page's CSRF token outlives a restart, so a page left open while the station was
        # restarted keys on; the access token is new at each start, as is the URL that carries it.
        return Station(self.store, CropCutter(self.scans, pdf_dpi), self.rules, token, self.store.secret("csrf"),
                       blind=self.sampled)


def open_review(results: Path, scans: Path | None = None, templates: list[Path] | None = None,
                store: Path | None = None, sample: float = 0.0, order: str = "confidence",
                load_queue: bool = True, must_exist: bool = False) -> Review:
    """Open the review of ``results``: file names are looked up under ``scans`` (default:
    the current folder), keyed values are checked against ``templates``, and kept in
    ``store`` (default: beside the results). With ``load_queue`` the store's queue is
    rebuilt from the results (review rows, and a ``sample`` share of ok rows, in
    ``order``); what was keyed is kept either way. With ``must_exist`` (an export) a
    store that is not there is an error rather than a new, empty one."""
    items = read_results(results)
    scan_files = ScanFiles(scans if scans is not None else Path.cwd())
    rules = Rules.load(templates or [])
    store_path = store if store is not None else default_store_path(results)
    if must_exist and not store_path.is_file():
        raise ReviewError(f"there is no review store at {store_path}: key fields with `docproc review {results}` "
                          "first, or give --store the file the station kept them in")
    opened = ReviewStore(store_path)
    warnings = []
    unknown = rules.unknown({item.template for item in items})
    if unknown:
        warnings.append(f"the results were read with template(s) {', '.join(unknown)}: give --template with their "
                        "YAML so keyed values are checked against their length, pattern, type and check digit")
    queue = build_queue(items, sample, opened.salt, order) if load_queue else []
    names = sorted({item.file for item in queue})
    missing = [name for name in names if scan_files.path_of(name) is None]
    if missing:
        warnings.append(f"{len(missing)} of the {len(names)} scans in the queue are not under {scan_files.root} "
                        f"(first: {missing[0]}): give --scans, the folder the results' file names are relative to "
                        "(the run's --root)")
    if load_queue:
        opened.load_queue((item, scan_files.sha256(item.file)) for item in queue)
    return Review(results, scan_files, rules, opened, len(queue), tuple(warnings), sampled=sample > 0)


def export(review: Review, reviewed: Path | None, truth: Path | None) -> list[str]:
    """Write the reviewed results and/or the keyed truth (both from one reading of the
    results and the store); a line on each for the operator."""
    rows = reviewed_rows(review.results, review.store, review.scans, review.rules)
    said = []
    if reviewed is not None:
        keyed = write_reviewed(rows, reviewed)
        said.append(f"{keyed} keyed fields in the reviewed results -> {reviewed}")
    if truth is not None:
        count = write_truth(rows, truth)
        said.append(f"{count} keyed fields as truth for `docproc audit --truth {truth}` -> {truth}")
    return said


def address(host: str, port: int, token: str | None) -> str:
    """The URL the station is opened at (with its token where one is needed)."""
    if host in ("0.0.0.0", "::", ""):
        host = socket.gethostname()  # every address of this machine: print one others can reach
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/" + (f"?token={token}" if token else "")


def serve_review(review: Review, host: str, port: int, pdf_dpi: int = PDF_DPI,
                 started: Callable[[str], None] | None = None, stop: threading.Event | None = None) -> None:
    """Serve the station for ``review`` at ``host``:``port`` (0: any free port) until
    interrupted or ``stop`` is set; ``started`` is told the address to open first.
    StationError when the address cannot be listened on."""
    sock = bind(host, port)
    station = review.station(host, pdf_dpi)
    if started is not None:
        started(address(host, sock.getsockname()[1], station.token))
    try:
        serve(station, sock, stop)
    finally:
        sock.close()
        station.close()
