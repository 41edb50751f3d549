#!/usr/bin/env bash
# One-time set-up of a FilmCrew checkout: system tools, a virtual environment with the
# package and its test dependencies, and anny's body-model cache. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)
command -v espeak-ng >/dev/null 2>&1 || need_apt+=(espeak-ng)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
# torch is pinned so pip takes the CPU build on this disk, not a multi-GB CUDA build.
.venv/bin/python -m pip install -q -e ".[test]"

# anny builds its ~800 MB cache on first use (about two minutes): do it once, here.
.venv/bin/python - <<'PY'
import tempfile
from pathlib import Path
from filmcrew.characters.kit import generate_kit
from filmcrew.plan.model import Appearance
with tempfile.TemporaryDirectory() as tmp:
    generate_kit(appearance=Appearance(), path=Path(tmp) / "warm.npz")
PY
echo "FilmCrew is set up: .venv/bin/filmcrew"
