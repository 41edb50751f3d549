"""What a shot's pictures depend on, as hashes (pure Python, no bpy).

A shot is re-rendered only when its inputs hash changes: the set, the appearance of the
people in it, their per-frame state inside the shot (relative to the shot's first frame, so
a shift in time elsewhere in the film does not touch it), the camera and the render settings.
Within a shot, a frame whose visible state equals the previous frame's is copied, not rendered.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import FilmCrewError
from ..fsutil import sha256_json
from ..plan.model import Plan
from ..staging.blocking import Blocking
from ..staging.cameras import CameraPose, pose_at, track_row
from ..staging.timeline import ShotRange

RENDER_VERSION = 2
ENGINES = {"cycles": "CYCLES", "workbench": "BLENDER_WORKBENCH", "eevee": "BLENDER_EEVEE"}
ALL_PASSES = ("rgb", "depth", "normal", "segment", "pose", "edges", "flow")


def engine_id(name: str) -> str:
    key = name.lower()
    if key not in ENGINES:
        raise FilmCrewError(f"unknown engine '{name}' (choose from {', '.join(ENGINES)})")
    return ENGINES[key]


@dataclass(frozen=True)
class RenderSettings:
    """Everything a shot's files depend on besides the scene (part of its inputs hash)."""

    engine: str = "CYCLES"
    samples: int = 4
    resolution: tuple[int, int] = (480, 270)
    seed: int = 0
    passes: tuple[str, ...] = ALL_PASSES


def _frame_states(blocking: Blocking, cast: list[str], frames: np.ndarray) -> np.ndarray:
    """(F, C, 6) rounded state of each cast member per frame: present, x, y, facing, sit, seat."""
    rows = []
    for cid in cast:
        track = blocking.tracks[cid]
        present = track.present[frames].astype(float)
        rows.append(np.stack([present,
                              np.round(track.position[frames, 0], 3) * present,
                              np.round(track.position[frames, 1], 3) * present,
                              np.round(track.facing[frames], 1) * present,
                              np.round(track.sit[frames], 3) * present,
                              np.round(track.seat_height[frames], 3) * present], axis=1))
    return np.stack(rows, axis=1) if rows else np.zeros((len(frames), 0, 6))


def shot_inputs_hash(*, plan: Plan, shot_range: ShotRange, blocking: Blocking, camera: CameraPose,
                     kit_keys: dict[str, str], settings: RenderSettings) -> str:
    scene = plan.scene(shot_range.scene)
    frames = np.arange(shot_range.start_frame - 1, shot_range.end_frame)
    states = _frame_states(blocking, scene.cast, frames)
    return sha256_json({
        "version": RENDER_VERSION,
        "set": plan.set(scene.set).model_dump(mode="json"),
        "cast": {cid: [plan.character(cid).appearance.model_dump(mode="json"), kit_keys.get(cid)]
                 for cid in scene.cast},
        "states": states.round(4).tolist(),
        "camera": asdict(camera),
        "settings": asdict(settings),
        "style": plan.style,
    })


def frame_keys(*, plan: Plan, shot_range: ShotRange, blocking: Blocking,
               camera: CameraPose | None = None) -> list[str]:
    """A key per frame of the shot; equal neighbouring keys mean identical pictures."""
    scene = plan.scene(shot_range.scene)
    frames = np.arange(shot_range.start_frame - 1, shot_range.end_frame)
    states = _frame_states(blocking, scene.cast, frames)
    keys = []
    for local, row in enumerate(states):
        view = np.round(track_row(pose_at(camera, local)), 4).tolist() if camera is not None else None
        keys.append(sha256_json([row.round(4).tolist(), view]))
    return keys
