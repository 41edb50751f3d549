"""The pose library as data (``assets/poses/library.json``): loading and validation.

A pose names what it drives: arm segments aimed in the body frame, spine/neck/head rotations,
a pelvis drop, cyclic oscillations. Adding a pose is adding an entry, not code. Postures
(stand, sit) are the base; gestures, transitions and talk layer over it and blend in and out.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import FilmCrewError
from ..plan.actions import ACTIONS

LIBRARY = Path(__file__).resolve().parents[1] / "assets" / "poses" / "library.json"
PARTS = ("spine", "neck", "head", "left.upper", "left.lower", "right.upper", "right.lower")
Vec3 = tuple[float, float, float]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ArmAim(_Model):
    """Directions of one arm's segments, ``[out, forward, up]`` in the body frame."""

    upper: Vec3 | None = None
    lower: Vec3 | None = None
    aim_at_target: bool = Field(False, description="point the whole arm at the event's target")

    @field_validator("upper", "lower")
    @classmethod
    def _not_zero(cls, value: Vec3 | None) -> Vec3 | None:
        if value is not None and sum(c * c for c in value) < 1e-8:
            raise ValueError("a direction cannot be zero")
        return value


class Rotation(_Model):
    """Degrees: pitch > 0 bends forward, yaw > 0 turns to the character's left, roll > 0 to the right."""

    pitch: float = Field(0.0, ge=-90.0, le=90.0)
    yaw: float = Field(0.0, ge=-90.0, le=90.0)
    roll: float = Field(0.0, ge=-60.0, le=60.0)


class Oscillation(_Model):
    part: Literal[PARTS]
    axis: Literal["pitch", "yaw", "roll"]
    degrees: float = Field(ge=-60.0, le=60.0)
    hz: float = Field(gt=0.0, le=8.0)


class Pose(_Model):
    kind: Literal["posture", "gesture", "transition", "talk"]
    summary: str
    actions: list[str] = Field(default_factory=list, description="plan actions this pose performs")
    keywords: list[str] = Field(default_factory=list, description="words of a parenthetical or emotion")
    target: Literal["none", "optional", "required"] = "none"
    blend_seconds: float = Field(0.25, ge=0.0, le=2.0)
    arms: dict[Literal["left", "right"], ArmAim] = Field(default_factory=dict)
    spine: Rotation | None = None
    neck: Rotation | None = None
    head: Rotation | None = None
    pelvis_drop: float = Field(0.0, ge=0.0, le=0.6, description="share of the hip height")
    oscillate: list[Oscillation] = Field(default_factory=list)

    @field_validator("actions")
    @classmethod
    def _known_actions(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in ACTIONS]
        if unknown:
            raise ValueError(f"unknown actions {unknown}; the motion library has {sorted(ACTIONS)}")
        return value


class PoseLibrary(_Model):
    version: int = Field(ge=1)
    conventions: str = ""
    poses: dict[str, Pose]

    def pose(self, name: str) -> Pose:
        """The pose called ``name`` (``KeyError`` naming the known poses when there is none)."""
        try:
            return self.poses[name]
        except KeyError:
            raise KeyError(f"no pose {name!r} in the library; known: {sorted(self.poses)}") from None

    def for_action(self, action: str) -> str | None:
        """The pose that performs a plan action, or None when the action has no gesture."""
        for name, pose in self.poses.items():
            if action in pose.actions:
                return name
        return None


def load_library(path: Path | None = None) -> PoseLibrary:
    """Read and validate a pose library (default: the bundled one).

    Raises:
        FilmCrewError: unreadable JSON or an invalid entry, naming the file, line and field.
    """
    path = Path(path) if path is not None else LIBRARY
    if path == LIBRARY:
        return _bundled()
    return _load(path)


@lru_cache(maxsize=1)
def _bundled() -> PoseLibrary:
    return _load(LIBRARY)


def _load(path: Path) -> PoseLibrary:
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
    except OSError as exc:
        raise FilmCrewError(f"cannot read the pose library: {exc}", path=path) from exc
    except json.JSONDecodeError as exc:
        raise FilmCrewError(f"invalid JSON: {exc.msg}", path=path, line=exc.lineno) from exc
    try:
        library = PoseLibrary.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        raise FilmCrewError(error["msg"], path=path, field=field) from exc
    for required in ("stand", "sit"):
        if required not in library.poses:
            raise FilmCrewError(f"the library must define the posture {required!r}", path=path, field="poses")
    return library
