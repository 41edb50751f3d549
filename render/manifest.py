"""manifest.json: what a production's render holds, frame by frame (pydantic model, no bpy).

With it, a production folder is a labelled synthetic dataset: for every shot and frame the
camera (intrinsics K and the camera-to-world matrix), the pass files, and for each character
on screen the COCO-18 body joints in 3D (metres, world) and 2D (pixels) with COCO visibility;
hands and face (21 + 21 + 70 keypoints) are in the frame's ``keypoints`` file, same layout.
``content_hashes`` has the SHA-256 of every file of the shot.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from ..errors import FilmCrewError
from ..fsutil import atomic_write_json, atomic_write_text, sha256_file
from .passes import frame_file_map
from .pose import BODY, FACE_COUNT, HAND

MANIFEST_VERSION = 2


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FrameCamera(_Model):
    K: list[list[float]] = Field(description="3x3 intrinsics; pixels, origin at the top-left corner, y down")
    focal_mm: float
    sensor_width_mm: float
    world_from_camera: list[list[float]] = Field(description="4x4; the camera looks down its -Z, +Y up")


class Keypoints(_Model):
    xyz: list[list[float]] = Field(description="world position of each keypoint, metres")
    xy: list[list[float]] = Field(description="pixel position (origin top-left corner, y down)")
    v: list[int] = Field(description="COCO visibility: 0 outside the frame, 1 hidden, 2 visible")


class Frame(_Model):
    frame: int = Field(description="1-based frame of the shot (the NNNN of its files)")
    film_frame: int = Field(description="1-based frame of the whole cut")
    camera: FrameCamera
    files: dict[str, str] = Field(description="pass -> file, relative to the production folder")
    characters: dict[str, Keypoints] = Field(description="character id -> COCO-18 body keypoints")
    keypoints: str = Field(description="the frame's full keypoints file (body, hands, face)")


class ShotCamera(_Model):
    intrinsics: dict
    world_from_camera: list[list[list[float]]] = Field(description="one 4x4 per frame")
    convention: str


class Shot(_Model):
    id: str
    scene: str
    film_frames: list[int]
    frame_count: int
    passes: list[str]
    camera: ShotCamera
    frames: list[Frame]
    depth_range: dict | None = Field(None, description="near_m, far_m: the shot's depth PNG normalisation")
    joints: str = Field(description="every bone head per frame (.npz: bones, one (F,B,3) array per character)")
    inputs_hash: str
    content_hashes: dict[str, str]


class SegmentLabel(_Model):
    colour: str
    rgb: list[int]
    kind: str = Field(description="character or prop")
    id: str = Field(description="the character id or the prop class")


class Manifest(_Model):
    schema_version: int = MANIFEST_VERSION
    title: str
    fps: int
    resolution: list[int]
    engine: str
    samples: int
    passes: list[str]
    frame_count: int
    keypoint_names: dict[str, list[str]]
    segmentation: list[SegmentLabel]
    audio: dict
    deliverables: dict[str, str]
    shots: list[Shot]


def keypoint_names() -> dict[str, list[str]]:
    return {"body": list(BODY), "hand_right": list(HAND), "hand_left": list(HAND),
            "face": [f"face_{i}" for i in range(FACE_COUNT)]}


class HashCache:
    """SHA-256 of files, remembered by (size, mtime) so an unchanged folder is not read again."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.known = json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            self.known = {}
        self.used: dict[str, list] = {}

    def sha256(self, path: Path, key: str) -> str:
        stat = os.stat(path)
        stamp = [stat.st_size, stat.st_mtime_ns]
        entry = self.known.get(key)
        if entry is None or entry[:2] != stamp:
            entry = [*stamp, sha256_file(path)]
        self.used[key] = entry
        return entry[2]

    def save(self) -> None:
        atomic_write_json(self.path, self.used)


def shot_entry(*, root: Path, shot: str, scene: str, film_frames: tuple[int, int], frame_count: int,
               passes: tuple[str, ...], inputs_hash: str, hashes: HashCache) -> dict:
    """A shot's manifest entry, read from the files its render wrote."""
    folder = root / "shots" / shot
    frames, matrices, content = [], [], {}
    intrinsics = None
    for number in range(1, frame_count + 1):
        keypoints = folder / "keypoints" / f"{number:04d}.json"
        try:
            record = json.loads(keypoints.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            raise FilmCrewError("missing or unreadable; render the shot again", path=keypoints) from None
        files = {label: f"shots/{shot}/{rel}" for label, rel in frame_file_map(passes, number).items()}
        camera = record["camera"]
        matrices.append(camera["world_from_camera"])
        if intrinsics is None:
            intrinsics = {"K": camera["K"], "focal_mm": camera["focal_mm"],
                          "sensor_width_mm": camera["sensor_width_mm"]}
        frames.append({"frame": number, "film_frame": record["film_frame"], "camera": camera, "files": files,
                       "characters": {cid: person["body"] for cid, person in record["characters"].items()},
                       "keypoints": f"shots/{shot}/keypoints/{number:04d}.json"})
        for rel in [*files.values(), frames[-1]["keypoints"]]:
            content[rel] = hashes.sha256(root / rel, rel)
    depth_range = None
    if "depth" in passes and (folder / "depth" / "range.json").exists():
        depth_range = json.loads((folder / "depth" / "range.json").read_text())
    width = int(round(intrinsics["K"][0][2] * 2)) if intrinsics else 0
    height = int(round(intrinsics["K"][1][2] * 2)) if intrinsics else 0
    return {
        "id": shot, "scene": scene, "film_frames": list(film_frames), "frame_count": frame_count,
        "passes": list(passes),
        "camera": {"intrinsics": {**(intrinsics or {}), "width": width, "height": height},
                   "world_from_camera": matrices,
                   "convention": "Blender: camera looks down -Z, +Y up; metres; K for pixels from the "
                                 "top-left corner, y down"},
        "frames": frames, "depth_range": depth_range, "joints": f"shots/{shot}/joints.npz",
        "inputs_hash": inputs_hash, "content_hashes": content,
    }


def segment_legend(root: Path, shots: list[str]) -> list[dict]:
    """The union of the shots' segmentation legends (``segment/legend.json``), by id."""
    labels: dict[tuple[str, str], dict] = {}
    for shot in shots:
        path = root / "shots" / shot / "segment" / "legend.json"
        if path.exists():
            for entry in json.loads(path.read_text()):
                labels[(entry["kind"], entry["id"])] = entry
    return [labels[k] for k in sorted(labels)]


def write_manifest(path: Path, data: dict) -> Manifest:
    """Validate ``data`` against the model and write it atomically."""
    manifest = Manifest.model_validate(data)
    atomic_write_text(path, json.dumps(manifest.model_dump(mode="json"), separators=(",", ":")) + "\n")
    return manifest


def load_manifest(path: Path) -> Manifest:
    try:
        return Manifest.model_validate_json(path.read_text())
    except FileNotFoundError:
        raise FilmCrewError("missing; run `filmcrew render` first", path=path) from None
    except ValueError as exc:
        first = str(exc).splitlines()
        raise FilmCrewError(f"manifest does not validate: {' '.join(first[:3])}", path=path) from None
