"""Read a model card (``docproc/models/*.json``) and format it for people."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from docproc.errors import ModelError
from docproc.recognize.model_files import SHIPPED_CHECK, SHIPPED_SEQUENCE, card_path, default_model_path, peers_path


def read_card(model_path: Path | None = None) -> dict[str, Any]:
    """The card of a model file, as written by training/evaluate.py."""
    model_path = Path(model_path) if model_path is not None else default_model_path()
    path = card_path(model_path)
    if not path.is_file():
        raise ModelError(
            f"No model card at {path}. Write one with `python -m training.evaluate --model {model_path}`."
        )
    try:
        card = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"Model card {path} cannot be read ({exc}). Rewrite it with `python -m training.evaluate`.") from exc
    if not isinstance(card, dict) or "test" not in card or "calibration" not in card:
        raise ModelError(f"Model card {path} lacks its test or calibration section. "
                         "Rewrite it with `python -m training.evaluate`.")
    return card


def twin_lines(card: dict[str, Any], indent: str = "twin         ") -> list[str]:
    """What a card says of the model's ONNX twin (training/twins.py): its file and hash, and
    how closely it agrees with the Keras file; a line saying it has none otherwise."""
    twin = card.get("twin")
    if not twin:
        return [f"{indent}none recorded: export it with `python -m training.twins {card.get('file', 'MODEL.keras')}`"]
    agreement = twin.get("agreement", {})
    return [f"{indent}{twin['file']}  (sha256 {twin['file_sha256'][:16]}...), read with --runtime onnx (the default); "
            f"--runtime keras reads {card['file']}",
            f"{' ' * len(indent)}largest difference from the Keras model "
            f"{agreement.get('max_abs_difference', float('nan')):.1e}, "
            f"argmax agreement {agreement.get('argmax_agreement', float('nan')):.2%} on {agreement.get('probe', '?')}"]


def format_card(card: dict[str, Any]) -> str:
    """A plain-text summary: headline figures, per-digit scores, confusion matrix, provenance."""
    test, calibration = card["test"], card["calibration"]
    training = card.get("training") or {}
    machine = training.get("machine") or {}
    lines = [
        f"model        {card['file']}  (sha256 {card['file_sha256'][:16]}...)",
        *twin_lines(card),
        f"parameters   {card['parameters']:,}",
        f"test         accuracy {test['accuracy']:.2%} on {test['digits']:,} MNIST test digits ({test['errors']} errors)",
        f"calibration  ECE {calibration['ece_before']:.4f} before, {calibration['ece_after']:.4f} after "
        f"temperature scaling (T = {calibration['temperature']:.3f}, {calibration['bins']} bins)",
    ]
    if training:
        where = machine.get("cpu", "?")
        if machine.get("accelerators"):
            where += " + " + ", ".join(machine["accelerators"])
        lines += [
            f"trained by   {training.get('command', '?')}",
            f"trained on   {where}, {machine.get('cores', '?')} cores, Keras backend {machine.get('keras_backend', '?')}; "
            f"{training.get('wall_seconds', 0) / 60:.1f} min, {training.get('epochs_run', '?')} epochs "
            f"(best {training.get('best_epoch', '?')})",
        ]
    tests = card.get("tests") or {}
    for key, name in (("held_out_fonts", "held-out fonts"), ("optdigits_windep", "optdigits windep"),
                      ("marks", "marks"), ("real_cheques", "real cheques")):
        figures = tests.get(key)
        if not figures:
            continue
        if key == "real_cheques":
            lines.append(f"{name:<12} {figures['field_accuracy']:.1%} of {figures['fields']} fields right, "
                         f"{figures['error_at_30']:.1%} wrong among accepted at 30% review")
        else:
            extra = f", {figures['no_digit']:.1%} read as no digit" if "no_digit" in figures else ""
            lines.append(f"{name:<12} accuracy {figures['accuracy']:.2%} on {figures['count']:,} "
                         f"({figures['errors']} errors){extra}")
    data = card["data"]
    if "source" in data:  # a card of a model trained on MNIST alone
        lines.append(f"data         {data['source']} (SHA-256 checked)")
    else:
        fonts = data.get("fonts", {})
        lines.append(f"data         {data['mnist']['source']}, UCI {' '.join(data['uci']['files'])}, "
                     f"{len(fonts.get('training', {}))} {fonts.get('collection', '')} fonts, drawn marks "
                     "(SHA-256 checked; the card's data section lists each file)")
    lines += ["", "digit  precision  recall     f1  support"]
    for row in test["per_class"]:
        lines.append(f"{row['label']:>5}  {row['precision']:9.4f}  {row['recall']:6.4f}  {row['f1']:6.4f}  {row['support']:7d}")
    lines += ["", "confusion matrix (rows: true digit, columns: predicted)", "      " + "".join(f"{d:>6}" for d in range(10))]
    for label, row in enumerate(test["confusion_matrix"]):
        lines.append(f"{label:>6}" + "".join(f"{n:>6}" for n in row))
    return "\n".join(lines)


def _optional_card(path: Path) -> dict[str, Any] | None:
    """A companion model's card, or None when the model or its card is not there."""
    card = card_path(path)
    if not path.is_file() or not card.is_file():
        return None
    try:
        loaded = json.loads(card.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelError(f"Model card {card} cannot be read ({exc}). Rewrite it with its --card-only command.") from exc
    return loaded if isinstance(loaded, dict) else None


def format_companions(model_path: Path | None = None) -> str:
    """What reads the digits beside the digit model: its peers (when a bundle lies beside
    it) and the single-digit check, a line or two each from their cards."""
    model_path = Path(model_path) if model_path is not None else default_model_path()
    lines = ["", "read with"]
    peers_file = peers_path(model_path)
    peers = _optional_card(peers_file)
    if peers_file.is_file() and peers is None:
        lines.append(f"  peers         {peers_file.name}: no card; write one with `python -m training.peers --card-only`")
    elif peers is not None:
        test = peers.get("test", {})
        alone = test.get("bundle_alone", {})
        reads = test.get("as_docproc_reads", {})
        lines.append(f"  peers         {peers['file']}  (sha256 {peers['file_sha256'][:16]}...), "
                     f"{peers.get('members', '?')} members, {peers.get('parameters', 0):,} parameters")
        if alone:
            lines.append(f"                bundle alone {alone['accuracy']:.2%} on the test digits ({alone['errors']} errors)")
        if "with_peers" in reads and "without_peers" in reads:
            lines.append(f"                as docproc reads: {reads['with_peers']['accuracy']:.2%} "
                         f"({reads['with_peers']['errors']} errors) "
                         f"with them, {reads['without_peers']['accuracy']:.2%} ({reads['without_peers']['errors']}) without")
    else:
        lines.append(f"  peers         none (no {peers_file.name} beside the model)")
    check = _optional_card(SHIPPED_CHECK)
    if check is None:
        lines.append(f"  single-digit  {SHIPPED_CHECK.name}: missing, or without its card")
    else:
        test = check.get("test", {})
        lines.append(f"  single-digit  {check['file']}  (sha256 {check['file_sha256'][:16]}...), "
                     f"{check.get('parameters', 0):,} parameters")
        lines += twin_lines(check, "                twin ")
        if "accuracy_at_0.5" in test:
            lines.append(f"                {test['accuracy_at_0.5']:.2%} right at 0.5 on "
                         f"{test.get('composites', '?'):,} composites "
                         f"of test digits (ROC AUC {test.get('roc_auc', float('nan')):.3f})")
    sequence = _optional_card(SHIPPED_SEQUENCE)
    if sequence is None:
        lines.append(f"  sequence      {SHIPPED_SEQUENCE.name}: missing, or without its card (--reader segment only)")
    else:
        lines.append(f"  sequence      {sequence['file']}  (sha256 {sequence.get('file_sha256', '?')[:16]}...), "
                     f"{sequence.get('parameters', 0):,} parameters; reads with --reader both or sequence")
        lines += twin_lines(sequence, "                twin ")
        for name, figures in sequence.get("tests", {}).items():
            lines.append(f"                {figures['field_accuracy']:.2%} of {figures['fields']:,} fields right: {name}")
    return "\n".join(lines)
