"""The review station's endpoints through Starlette's test client: keying, the rules, the
export, and every refusal (host, token, cross-site writes, paths out of the scans folder)."""

from __future__ import annotations

import csv
import re
import socket
from pathlib import Path

import cv2
import numpy as np
import pytest
from starlette.testclient import TestClient

from docproc.errors import StationError
from docproc.review.crops import ScanFiles
from docproc.review.export import REVIEWED_COLUMNS, TRUTH_COLUMNS
from docproc.review.server import COOKIE, CSRF_HEADER, Station, bind, make_app
from docproc.review.station import Review, open_review
from tests.commands import docproc, docproc_reading_install
from tests.review_job import Job, fresh_results

LOCAL = "http://127.0.0.1:8750"


def _open(job: Job, **kwargs: object) -> Review:
    return open_review(job.results, job.scans, [job.template], **kwargs)  # type: ignore[arg-type]


@pytest.fixture()
def job(review_job: Job, tmp_path: Path) -> Job:
    return fresh_results(review_job, tmp_path)


@pytest.fixture()
def station(job: Job) -> Station:
    return _open(job).station("127.0.0.1")


def _client(station: Station, base: str = LOCAL) -> TestClient:
    return TestClient(make_app(station), base_url=base)


def _post(client: TestClient, station: Station, path: str, body: dict[str, object]) -> dict:
    response = client.post(path, json={"operator": "ann", **body}, headers={CSRF_HEADER: station.csrf})
    assert response.status_code == 200, response.text
    return response.json()


def test_the_page_loads_nothing_from_elsewhere(station: Station) -> None:
    client = _client(station)
    page = client.get("/")
    assert page.status_code == 200 and station.csrf in page.text
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    assert page.headers["x-frame-options"] == "DENY"
    for text in (page.text, client.get("/static/station.js").text, client.get("/static/station.css").text):
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", text), "an external resource"
    assert client.get("/static/../server.py").status_code == 404
    assert client.get("/static/station.html").status_code == 404


def test_keying_a_field_shows_the_next_and_keeps_the_entry(job: Job, station: Station) -> None:
    client = _client(station)
    first = _post(client, station, "/api/next", {})
    item = first["item"]
    assert first["progress"] == {"total": 8, "done": 0, "left": 8, "per_minute": None}
    assert item["reason"] and item["rules"] and item["crop"] == f"/crop/{item['id']}.png"
    assert len(item["digit_confidences"]) == len(item["text"])
    assert "status" not in item and "confidence" not in item  # a quality sample must not show
    crop = client.get(item["crop"])
    assert crop.headers["content-type"] == "image/png"
    image = cv2.imdecode(np.frombuffer(crop.content, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[0] >= 180
    keyed = _post(client, station, "/api/key", {"id": item["id"], "kind": "value", "entry": "01012026"})
    assert keyed["accepted"] and keyed["item"]["id"] != item["id"] and keyed["progress"]["done"] == 1
    [entry] = station.store.keyed()
    assert (entry.text, entry.operator, entry.machine_text) == ("01012026", "ann", item["text"])


def test_an_entry_that_breaks_the_templates_rules_needs_a_second_enter(station: Station) -> None:
    client = _client(station)
    item = _post(client, station, "/api/next", {})["item"]
    rules = item["rules"]
    checked = _post(client, station, "/api/check", {"id": item["id"], "entry": "12"})
    assert checked["problems"], rules
    refused = _post(client, station, "/api/key", {"id": item["id"], "kind": "value", "entry": "12"})
    assert refused == {"accepted": False, "problems": checked["problems"], "final": False}
    assert station.store.keyed() == []
    nothing = _post(client, station, "/api/key", {"id": item["id"], "kind": "value", "entry": "  "})
    assert nothing["accepted"] is False and nothing["final"] is True
    letters = _post(client, station, "/api/check", {"id": item["id"], "entry": "12ab"})
    assert any("only digits" in p for p in letters["problems"])
    confirmed = _post(client, station, "/api/key", {"id": item["id"], "kind": "value", "entry": "12", "confirm": True})
    assert confirmed["accepted"] and station.store.keyed()[0].text == "12"


def test_undo_brings_back_the_entry_and_blank_and_unreadable_are_kept(station: Station) -> None:
    client = _client(station)
    item = _post(client, station, "/api/next", {})["item"]
    _post(client, station, "/api/key", {"id": item["id"], "kind": "unreadable"})
    undone = _post(client, station, "/api/undo", {})
    assert undone["undone"] and undone["item"]["id"] == item["id"]
    assert undone["item"]["undone"] == {"kind": "unreadable", "marks": ""}
    nxt = _post(client, station, "/api/key", {"id": item["id"], "kind": "blank"})
    assert [k.kind for k in station.store.keyed()] == ["blank"]
    skipped = _post(client, station, "/api/skip", {"id": nxt["item"]["id"]})
    assert skipped["item"]["id"] != nxt["item"]["id"]


def test_the_export_and_the_truth_close_the_loop_with_the_audit(job: Job, tmp_path: Path) -> None:
    station = _open(job).station("127.0.0.1")
    client = _client(station)
    shown = _post(client, station, "/api/next", {})
    keyed = []
    for kind in ("value", "unreadable", "blank"):
        item = shown["item"]
        entry = item["text"] if kind == "value" else ""
        shown = _post(client, station, "/api/key", {"id": item["id"], "kind": kind, "entry": entry, "confirm": True})
        keyed.append((item, kind))
    station.close()
    reviewed, truth = tmp_path / "reviewed.csv", tmp_path / "truth.csv"
    # Review is part of the default install: the export runs without the audit extra's pandas.
    done = docproc_reading_install("review", *job.review_args("--export", str(reviewed), "--export-truth", str(truth)))
    assert done.returncode == 0, done.stderr
    assert "3 keyed fields in the reviewed results" in done.stderr and "2 keyed fields as truth" in done.stderr
    with reviewed.open() as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == REVIEWED_COLUMNS
        rows = {(r["file"], r["field"]): r for r in reader}
    with job.results.open() as handle:
        assert len(rows) == len(list(csv.DictReader(handle)))
    for item, kind in keyed:
        row = rows[(item["file"], item["field"])]
        assert row["status"] == "keyed" and row["keyed_by"] == "ann" and row["machine_text"] == item["text"]
        assert row["reason"] == ("" if kind == "value" else f"keyed {kind}")
        assert row["text"] == (item["text"] if kind == "value" else "")
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row["keyed_at"])
    assert sum(r["status"] == "keyed" for r in rows.values()) == 3
    with truth.open() as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == TRUTH_COLUMNS
        truth_rows = list(reader)
    assert [r["text"] for r in truth_rows] == [keyed[0][0]["text"], ""]
    audit = docproc("audit", str(job.results), "--truth", str(truth), "-o", str(tmp_path / "audit"))
    assert audit.returncode == 0, audit.stderr
    assert "2 fields" in audit.stderr


def test_a_station_on_a_loopback_address_answers_only_to_loopback_names(station: Station) -> None:
    assert _client(station, "http://localhost:8750").get("/").status_code == 200
    rebound = _client(station, "http://attacker.example:8750")
    assert rebound.get("/").status_code == 421
    assert rebound.post("/api/next", json={"operator": "ann"}, headers={CSRF_HEADER: station.csrf}).status_code == 421


def test_writes_from_another_site_are_refused(station: Station) -> None:
    client = _client(station)
    body = {"operator": "mallory"}
    assert client.post("/api/next", json=body).status_code == 403  # no CSRF token: another site's form or fetch
    assert client.post("/api/next", json=body, headers={CSRF_HEADER: "guessed"}).status_code == 403
    foreign = {CSRF_HEADER: station.csrf, "origin": "http://evil.example"}
    assert client.post("/api/next", json=body, headers=foreign).status_code == 403
    plain = client.post("/api/next", content=b'{"operator": "mallory"}',
                        headers={CSRF_HEADER: station.csrf, "content-type": "text/plain"})
    assert plain.status_code == 415
    own = {CSRF_HEADER: station.csrf, "origin": LOCAL}
    assert client.post("/api/next", json=body, headers=own).status_code == 200
    assert client.post("/api/next", json={"operator": ""}, headers=own).status_code == 400
    for strange in ("0", None, [0], 1.5):
        refused = client.post("/api/key", json={"operator": "ann", "id": strange, "entry": "1"}, headers=own)
        assert refused.status_code == 400 and "reload the page" in refused.json()["error"]
    assert station.store.keyed() == []


def test_any_other_address_needs_the_printed_token(job: Job) -> None:
    station = _open(job).station("0.0.0.0")
    assert station.token
    client = _client(station, "http://scanner-room.example:8750")
    assert client.get("/").status_code == 403
    assert client.get("/crop/0.png").status_code == 403
    assert client.get("/static/station.js").status_code == 403
    assert client.post("/api/next", json={"operator": "ann"}, headers={CSRF_HEADER: station.csrf}).status_code == 403
    assert client.get("/?token=wrong").status_code == 403
    entered = client.get(f"/?token={station.token}", follow_redirects=False)
    assert entered.status_code == 303 and entered.headers["location"] == "/"
    assert COOKIE in entered.cookies and "httponly" in entered.headers["set-cookie"].lower()
    assert client.get("/").status_code == 200  # the cookie carries the token from here on
    assert client.post("/api/next", json={"operator": "ann"}, headers={CSRF_HEADER: station.csrf}).status_code == 200


def test_only_crops_of_queued_fields_are_served_and_no_path_leaves_the_scans(job: Job, tmp_path: Path) -> None:
    secret = tmp_path / "secret.png"
    cv2.imwrite(str(secret), np.zeros((400, 400), np.uint8))
    outside = job.scans / "cheques" / "link.png"
    outside.symlink_to(secret)
    try:
        scans = ScanFiles(job.scans)
        for name in ("../secret.png", str(secret), "cheques/link.png", "cheques/../../secret.png", "cheques"):
            assert scans.path_of(name) is None, name
        assert scans.path_of("cheques/cheque-0001.jpg") is not None
        # A results file naming a scan outside the folder gets a stand-in, never that file's pixels.
        text = job.results.read_text()
        job.results.write_text(text.replace("cheques/cheque-0001.jpg", "../secret.png"))
        station = _open(job, sample=0.0).station("127.0.0.1")
        client = _client(station)
        seqs = [seq for seq in range(8) if station.store.item(seq).file == "../secret.png"]
        assert seqs
        crop = cv2.imdecode(np.frombuffer(client.get(f"/crop/{seqs[0]}.png").content, np.uint8), cv2.IMREAD_GRAYSCALE)
        assert crop.shape == (60, 520) and crop.mean() > 200  # "scan not found", not the black secret
        assert client.get("/crop/99.png").status_code == 404
        assert client.get("/crop/-1.png").status_code == 404
        assert client.get("/crop/..%2F..%2Fsecret.png").status_code == 404
    finally:
        outside.unlink()


def test_the_command_says_what_to_do_when_it_cannot_start(job: Job, tmp_path: Path) -> None:
    no_store = docproc("review", *job.review_args("--export", str(tmp_path / "out.csv")))
    assert no_store.returncode == 14 and "no review store" in no_store.stderr
    missing = docproc("review", str(tmp_path / "missing.csv"))
    assert missing.returncode == 14 and "does not exist" in missing.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        with pytest.raises(StationError, match="is taken"):
            bind("127.0.0.1", port)
        busy = docproc("review", *job.review_args("--port", str(port)))
    assert busy.returncode == 15 and f"port {port}" in busy.stderr and "--port" in busy.stderr


def test_a_queue_with_a_quality_sample_is_keyed_blind(job: Job) -> None:
    with job.results.open() as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        if row["field"] == "amount":
            row.update(status="ok", reason="")
    with job.results.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    plain = _open(job).station("127.0.0.1")
    assert plain.store.progress("x").total == 4 and not plain.blind
    assert _post(_client(plain), plain, "/api/next", {})["item"]["reason"]
    station = _open(job, sample=1.0).station("127.0.0.1")
    assert station.blind and station.store.progress("x").total == 8
    client = _client(station)
    shown = _post(client, station, "/api/next", {})
    while shown["item"] is not None:
        item = shown["item"]
        assert item["blind"] and item["reason"] == "" and item["digit_confidences"] == [] and item["alternatives"] == []
        shown = _post(client, station, "/api/key", {"id": item["id"], "kind": "value", "entry": "1", "confirm": True})
    assert len(station.store.keyed()) == 8


def test_json_lines_results_are_reviewed_and_exported_as_the_csv_contract(review_job: Job, tmp_path: Path) -> None:
    results = tmp_path / "results.jsonl"
    scans = review_job.scans
    read = docproc("run", str(scans / "cheques" / "cheque-0001.jpg"), "--root", str(scans), "--template",
                   str(review_job.template), "--review-below", "1.0", "-o", str(results), "-q")
    assert read.returncode == 0, read.stderr
    job = Job(scans, results, review_job.template)
    station = _open(job).station("127.0.0.1")
    client = _client(station)
    item = _post(client, station, "/api/next", {})["item"]
    assert item["file"] == "cheques/cheque-0001.jpg" and all(set(a) == {"text", "probability"}
                                                              for a in item["alternatives"])
    assert client.get(item["crop"]).headers["content-type"] == "image/png"
    _post(client, station, "/api/key", {"id": item["id"], "kind": "value", "entry": item["marks"], "confirm": True})
    station.close()
    reviewed = tmp_path / "reviewed.csv"
    done = docproc("review", *job.review_args("--export", str(reviewed)))
    assert done.returncode == 0, done.stderr
    with reviewed.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 and list(rows[0]) == REVIEWED_COLUMNS
    assert [r["status"] for r in rows].count("keyed") == 1
    assert all(re.fullmatch(r"\d\.\d{4}", r["confidence"]) for r in rows)


def test_the_command_prints_the_token_it_needs_on_another_address(job: Job) -> None:
    import http.client
    from urllib.parse import urlsplit

    from benchmarks.station_browser import StationProcess, free_port

    port = free_port()
    station = StationProcess(job.review_args("--host", "0.0.0.0"), port)
    try:
        url = urlsplit(station.url)
        token = url.query.removeprefix("token=")
        assert url.port == port and len(token) >= 24
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", "/", headers={"host": f"scanner-room:{port}"})
        assert connection.getresponse().status == 403
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request("GET", f"/?token={token}", headers={"host": f"scanner-room:{port}"})
        entered = connection.getresponse()
        assert entered.status == 303 and token in (entered.getheader("set-cookie") or "")
    finally:
        assert station.stop() == 0
