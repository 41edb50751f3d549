"""The production folder: its paths, ownership check and the per-stage input hashes."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from .errors import OutputError
from .fsutil import atomic_write_json

MARKER = ".filmcrew"
# Files FilmCrew itself writes; a folder holding anything else is someone else's.
OWN_NAMES = {MARKER, "farm.json", "clips", "screenplay.fountain", "screenplay.pdf", "plan.json", "scene.blend", "shots",
             "manifest.json", "animatic.mp4", "subtitles.srt", "timeline.otio", "report.json",
             "refined", "film.mp4", "characters", "staging.npz", "cameras.json", "storyboard.png",
             "agents", "audio"}


@dataclass(frozen=True)
class Production:
    root: Path

    @property
    def marker(self) -> Path:
        return self.root / MARKER

    @property
    def state_path(self) -> Path:
        return self.marker / "state.json"

    def path(self, name: str) -> Path:
        return self.root / name

    @property
    def plan(self) -> Path:
        return self.root / "plan.json"

    @property
    def screenplay(self) -> Path:
        return self.root / "screenplay.fountain"

    @property
    def blend(self) -> Path:
        return self.root / "scene.blend"

    @property
    def staging(self) -> Path:
        return self.root / "staging.npz"

    @property
    def cameras(self) -> Path:
        return self.root / "cameras.json"

    @property
    def characters(self) -> Path:
        return self.root / "characters"

    def shot_dir(self, shot_id: str) -> Path:
        return self.root / "shots" / shot_id

    # --- ownership --------------------------------------------------------------------
    def claim(self) -> None:
        """Make sure the folder is ours (new, empty or already a production) and writable."""
        root = self.root
        if root.exists() and not root.is_dir():
            raise OutputError("output path exists and is not a folder", path=root)
        if root.is_dir() and not self.marker.exists():
            foreign = sorted(p.name for p in root.iterdir() if p.name not in OWN_NAMES)
            if foreign:
                raise OutputError(f"output folder holds other files ({', '.join(foreign[:3])}"
                                  f"{'...' if len(foreign) > 3 else ''}); choose an empty folder "
                                  "or an existing FilmCrew production", path=root)
        try:
            self.marker.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create the production folder: {exc.strerror}", path=root) from None
        if not os.access(root, os.W_OK) or not os.access(self.marker, os.W_OK):
            raise OutputError("output folder is read-only", path=root)
        probe = self.marker / ".write-probe"
        try:
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise OutputError(f"output folder is not writable: {exc.strerror}", path=root) from None

    def require(self, path: Path, *, stage: str) -> Path:
        if not path.exists():
            from .errors import StageError

            raise StageError(f"missing; run `filmcrew {stage}` first", path=path)
        return path

    # --- stage state ------------------------------------------------------------------
    def load_state(self) -> dict:
        try:
            return json.loads(self.state_path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return {}

    def stage_hash(self, stage: str) -> str | None:
        return self.load_state().get(stage)

    def record_stage(self, stage: str, inputs_hash: str) -> None:
        state = self.load_state()
        state[stage] = inputs_hash
        atomic_write_json(self.state_path, state)


def merge_report(path: Path, sections: dict) -> dict:
    """Update report.json section by section, keeping every key other stages wrote."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        report = {}
    except json.JSONDecodeError as exc:  # never paper over someone's report with a fresh one
        raise OutputError(f"not valid JSON (line {exc.lineno}); fix or remove it", path=path) from None
    if not isinstance(report, dict):
        raise OutputError("must hold a JSON object", path=path)
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(report.get(key), dict):
            report[key].update(value)
        else:
            report[key] = value
    atomic_write_json(path, report)
    return report
