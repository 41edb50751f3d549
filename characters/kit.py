"""Character kits: an anny body for one appearance, baked to a small ``.npz`` file.

A kit holds everything Blender needs to build a rigged, skinned character without torch:
the rest mesh, the armature (heads, tails and rest orientations, Blender's bone convention),
sparse skinning weights and an outfit region per vertex.

Generating a kit needs ``torch`` and ``anny``; it runs in a child process
(``python -m filmcrew.characters``) so that a caller with ``bpy`` loaded never imports torch.
Loading a kit needs numpy only.

Conventions: metres, Z up, the body stands in anny's rest pose (an A pose) with its feet on
Z = 0, the hip joints centred on X = Y = 0, facing -Y (Blender's front view looks along +Y at it).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..child import module_command
from ..errors import FilmCrewError
from ..fsutil import atomic_write_bytes
from ..plan.model import Appearance

KIT_VERSION = 1
REGIONS = ("skin", "top", "bottom", "shoes", "hair", "eyes")
"""Outfit regions, in the order of their codes in ``CharacterKit.region``."""

SKIN, TOP, BOTTOM, SHOES, HAIR, EYES = range(len(REGIONS))
PHENOTYPE_FIELDS = ("gender", "age_years", "weight", "muscle", "height", "proportions")
ANNY_RIG = "anny-blender"
"""anny's pruned rig (104 bones) with Blender bone orientations (head, tail and roll)."""
ANNY_TOPOLOGY = "anny"

HEIGHT_PERCENTILES = (0.005, 0.995)
"""The population percentiles that ``Appearance.height`` 0 and 1 map to."""

Progress = Callable[[str], None]
"""``progress(note)``: a one-line note as each missing kit is written (``"kit 1/2: MAYA"``)."""


@dataclass
class CharacterKit:
    """One character's rest mesh, rig and skinning, in metres (see the module conventions).

    Attributes:
        vertices: (V, 3) float32 rest positions.
        faces: (F, 3) int32 triangles, counter-clockwise seen from outside.
        bone_names: B bone names, parents before children (index 0 is the root).
        bone_parents: (B,) int32 parent index, -1 for the root.
        bone_heads: (B, 3) float32 rest heads.
        bone_tails: (B, 3) float32 rest tails.
        bone_matrices: (B, 3, 3) float32 rest orientations (columns are the bone's X, Y, Z
            axes; Y points from head to tail, as in Blender), which fix each bone's roll.
        weight_indices: (V, K) int16 bone indices of each vertex's K strongest influences.
        weight_values: (V, K) float32 weights (rows sum to 1; unused slots are 0).
        region: (V,) uint8 outfit region codes, indices into ``REGIONS``.
        height_m: standing height, floor to the top of the head.
        appearance_key: the key of the appearance this kit was made for.
    """

    vertices: np.ndarray
    faces: np.ndarray
    bone_names: list[str]
    bone_parents: np.ndarray
    bone_heads: np.ndarray
    bone_tails: np.ndarray
    bone_matrices: np.ndarray
    weight_indices: np.ndarray
    weight_values: np.ndarray
    region: np.ndarray
    height_m: float
    appearance_key: str = ""

    def bone_index(self, name: str) -> int:
        """Index of the bone called ``name`` (raises ``ValueError`` when there is none)."""
        return self.bone_names.index(name)


def appearance_key(appearance: Appearance) -> str:
    """A short stable hash of the body phenotype (colours excluded) and ``KIT_VERSION``."""
    fields = {name: round(float(getattr(appearance, name)), 4) for name in PHENOTYPE_FIELDS}
    payload = json.dumps({"kit_version": KIT_VERSION, "rig": ANNY_RIG, **fields}, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def kit_path(*, appearance: Appearance, cache_dir: Path) -> Path:
    """Where the kit of ``appearance`` lives in ``cache_dir`` (``smplx-`` kits when the user has
    configured SMPL-X model files, so the two bodies never share a cache entry)."""
    from .smplx_kit import model_folder

    prefix = "smplx-" if model_folder() is not None else ""
    return Path(cache_dir) / f"{prefix}{appearance_key(appearance)}.npz"


# --------------------------------------------------------------------------- loading (numpy)

def load_kit(path: Path) -> CharacterKit:
    """Read a kit written by ``generate_kit`` (numpy only).

    Raises:
        FilmCrewError: the file is missing, unreadable or from another ``KIT_VERSION``.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except (OSError, ValueError, KeyError) as exc:
        raise FilmCrewError(f"cannot read character kit: {exc}", path=path) from exc
    version = int(arrays.get("kit_version", -1))
    if version != KIT_VERSION:
        raise FilmCrewError(f"character kit version {version}, expected {KIT_VERSION}", path=path)
    try:
        return _kit_from_arrays(arrays)
    except KeyError as exc:
        raise FilmCrewError(f"character kit lacks {exc}", path=path) from exc


def _kit_from_arrays(arrays: dict[str, np.ndarray]) -> CharacterKit:
    return CharacterKit(
        vertices=arrays["vertices"],
        faces=arrays["faces"],
        bone_names=[str(name) for name in arrays["bone_names"]],
        bone_parents=arrays["bone_parents"],
        bone_heads=arrays["bone_heads"],
        bone_tails=arrays["bone_tails"],
        bone_matrices=arrays["bone_matrices"],
        weight_indices=arrays["weight_indices"],
        weight_values=arrays["weight_values"],
        region=arrays["region"],
        height_m=float(arrays["height_m"]),
        appearance_key=str(arrays["appearance_key"]),
    )


def _kit_bytes(kit: CharacterKit) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(
        buffer,
        kit_version=np.int32(KIT_VERSION),
        vertices=kit.vertices.astype(np.float32),
        faces=kit.faces.astype(np.int32),
        bone_names=np.array(kit.bone_names, dtype=str),
        bone_parents=kit.bone_parents.astype(np.int32),
        bone_heads=kit.bone_heads.astype(np.float32),
        bone_tails=kit.bone_tails.astype(np.float32),
        bone_matrices=kit.bone_matrices.astype(np.float32),
        weight_indices=kit.weight_indices.astype(np.int16),
        weight_values=kit.weight_values.astype(np.float32),
        region=kit.region.astype(np.uint8),
        height_m=np.float64(kit.height_m),
        appearance_key=np.array(kit.appearance_key),
    )
    return buffer.getvalue()


# --------------------------------------------------------------------------- the cache

def ensure_kits(*, appearances: dict[str, Appearance], cache_dir: Path,
                progress: Progress | None = None,
                python: str | os.PathLike | None = None) -> dict[str, Path]:
    """Kits for every character, generating the missing ones in one child process.

    Args:
        appearances: character id -> appearance.
        cache_dir: folder of the kits, ``<appearance_key>.npz``; created when missing.
        progress: called with a one-line note (``"kit 1/2: MAYA"``) as each missing kit is written.
        python: interpreter with torch and anny for the child (default: ``sys.executable``).

    Returns:
        Character id -> kit path (characters with the same body share one kit).

    Raises:
        FilmCrewError: the child failed; the message carries its last error line.
    """
    cache_dir = Path(cache_dir)
    paths = {cid: kit_path(appearance=app, cache_dir=cache_dir) for cid, app in appearances.items()}
    missing: dict[str, dict[str, Any]] = {}
    names: dict[str, list[str]] = {}
    for cid, path in paths.items():
        if not path.exists():
            missing[str(path)] = appearances[cid].model_dump(mode="json")
            names.setdefault(str(path), []).append(cid)
    if missing:
        _run_generator(jobs=missing, names=names, cache_dir=cache_dir, progress=progress,
                       python=python)
    return paths


def _child_command(python: str | os.PathLike | None) -> tuple[list[str], dict[str, str]]:
    """The command line and environment that run ``characters/__main__.py`` in a child."""
    command, env = module_command("characters", python=python)
    return [*command, "generate"], env


def _run_generator(*, jobs: dict[str, dict[str, Any]], names: dict[str, list[str]], cache_dir: Path,
                   progress: Progress | None, python: str | os.PathLike | None) -> None:
    """Run the child on ``jobs`` (kit path -> appearance data), reporting its progress lines."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    fd, jobs_file = tempfile.mkstemp(prefix=".kits.", suffix=".json", dir=cache_dir)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(jobs, handle)
    command, env = _child_command(python)
    command += ["--jobs", jobs_file]
    try:
        _watch_child(command=command, env=env, names=names, progress=progress)
    finally:
        os.unlink(jobs_file)


def _watch_child(*, command: list[str], env: dict[str, str], names: dict[str, list[str]],
                 progress: Progress | None) -> None:
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace") as stderr:
        try:
            child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True,
                                     env=env)
        except OSError as exc:
            raise FilmCrewError(f"cannot start the character generator: {exc}") from exc
        done = 0
        assert child.stdout is not None
        for line in child.stdout:
            if line.startswith("kit "):
                done += 1
                if progress is not None:
                    who = ", ".join(names.get(line[4:].strip(), []))
                    progress(f"kit {done}/{len(names)}: {who}")
        code = child.wait()
        if code != 0:
            stderr.seek(0)
            raise FilmCrewError(f"character generation failed (exit {code}): "
                                f"{_last_error_line(stderr.read())}")


def _last_error_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else "no error message"


# --------------------------------------------------------------------------- generation (torch)

def generate_kit(*, appearance: Appearance, path: Path) -> None:
    """Generate the kit of ``appearance`` with anny and write it to ``path`` atomically.

    Needs torch and anny; prefer ``ensure_kits``, which runs this in a child process.
    """
    generate_kits(jobs=[(appearance, Path(path))])


def generate_kits(*, jobs: list[tuple[Appearance, Path]], on_done: Callable[[Path], None] | None = None
                  ) -> None:
    """Generate several kits with one anny model (loaded once), or with the ``smplx`` package
    when the user has configured SMPL-X model files (``FILMCREW_SMPLX_MODELS``)."""
    from .smplx_kit import generate_smplx_kit, model_folder

    folder = model_folder()
    generator = None
    for appearance, path in jobs:
        if folder is not None:
            generate_smplx_kit(appearance=appearance, path=path, folder=folder)
        else:
            generator = generator or _KitGenerator()
            atomic_write_bytes(path, _kit_bytes(generator.kit(appearance)))
        if on_done is not None:
            on_done(path)


class _KitGenerator:
    """An anny model and the data that does not depend on the phenotype."""

    def __init__(self) -> None:
        import anny
        import torch

        torch.set_grad_enabled(False)
        self.model = anny.Anny(rig=ANNY_RIG, topology=ANNY_TOPOLOGY, skinning_method="lbs")
        self.calibration = _load_calibration()
        self.faces = self.model.faces.cpu().numpy().astype(np.int32)
        self.segments = _vertex_segments(self.model, self.faces)
        self.weight_indices = self.model.vertex_bone_indices.cpu().numpy().astype(np.int16)
        self.weight_values = self.model.vertex_bone_weights.cpu().numpy().astype(np.float32)
        self.bone_names = list(self.model.bone_labels)
        self.bone_parents = np.asarray(self.model.bone_parents, dtype=np.int32)

    def kit(self, appearance: Appearance) -> CharacterKit:
        out = self.model(phenotype_kwargs=anny_phenotype(appearance, calibration=self.calibration))
        vertices = out["rest_vertices"][0].cpu().numpy()
        heads = out["rest_bone_heads"][0].cpu().numpy()
        tails = out["rest_bone_tails"][0].cpu().numpy()
        matrices = out["rest_bone_poses"][0, :, :3, :3].cpu().numpy()
        hips = [self.bone_names.index(f"upperleg01.{side}") for side in "LR"]
        centre = heads[hips].mean(axis=0)
        offset = np.array([-centre[0], -centre[1], -vertices[:, 2].min()])
        vertices, heads, tails = vertices + offset, heads + offset, tails + offset
        region = outfit_regions(vertices=vertices, segments=self.segments, heads=heads,
                                bone_names=self.bone_names, weight_indices=self.weight_indices,
                                weight_values=self.weight_values)
        return CharacterKit(
            vertices=vertices.astype(np.float32), faces=self.faces, bone_names=self.bone_names,
            bone_parents=self.bone_parents, bone_heads=heads.astype(np.float32),
            bone_tails=tails.astype(np.float32), bone_matrices=matrices.astype(np.float32),
            weight_indices=self.weight_indices, weight_values=self.weight_values, region=region,
            height_m=float(vertices[:, 2].max()), appearance_key=appearance_key(appearance))


# --------------------------------------------------------------------------- phenotype mapping

@dataclass
class _Calibration:
    """anny's height-for-age calibration (WHO data): age anchors and Beta parameters."""

    years: np.ndarray          # morphological age anchors, years
    anny_age: np.ndarray       # anny's age parameter at those anchors
    height_age: np.ndarray     # anny ages of the height distributions
    boys: tuple[np.ndarray, np.ndarray]   # (alpha, beta) of the height parameter per age anchor
    girls: tuple[np.ndarray, np.ndarray]


def _load_calibration() -> _Calibration:
    import torch
    from anny.paths import get_anny_root_dir

    folder = get_anny_root_dir() / "data" / "shape_calibration"
    states = {name: torch.load(folder / f"{name}.pth", weights_only=True, map_location="cpu")
              for name in ("boys", "girls")}
    mapping = states["boys"]["morphological_age_mapping"]
    heights = {name: state["conditional_height_distribution"] for name, state in states.items()}
    return _Calibration(
        years=mapping["morphological_age_anchors"].numpy(),
        anny_age=mapping["anny_age_anchors"].numpy(),
        height_age=heights["boys"]["age_anchors"].numpy(),
        boys=(heights["boys"]["alpha_anchors"].numpy(), heights["boys"]["beta_anchors"].numpy()),
        girls=(heights["girls"]["alpha_anchors"].numpy(), heights["girls"]["beta_anchors"].numpy()),
    )


def anny_phenotype(appearance: Appearance, *, calibration: _Calibration) -> dict[str, float]:
    """anny's phenotype parameters for ``appearance``.

    - gender: anny uses 0 = male, 1 = female; the plan uses 0 = female, 1 = male.
    - age: years through anny's own morphological-age mapping (calibrated on WHO heights:
      1 y -> 0.05, 4 y -> 0.215, 11 y -> 0.415, 16 y -> 0.67, 18 y -> 0.77, 64 y -> 0.83).
    - height: a percentile for the age and sex (0.5 = the median person), through anny's
      height-for-age Beta distributions, spanning the 0.5th to the 99.5th percentile (about
      1.58 to 1.99 m for a man, 1.41 to 1.82 m for a woman). anny's raw 0.5 makes everyone
      about the 95th percentile (a 1.90 m man, a 1.45 m eight-year-old), its 1.0 a 2.3 m giant.
    - weight, muscle, proportions: anny's parameters, unchanged.
    """
    age = float(np.interp(appearance.age_years, calibration.years, calibration.anny_age))
    return {
        "gender": 1.0 - appearance.gender,
        "age": age,
        "muscle": appearance.muscle,
        "weight": appearance.weight,
        "height": _height_parameter(percentile=appearance.height, male=appearance.gender, age=age,
                                    calibration=calibration),
        "proportions": appearance.proportions,
    }


def _height_parameter(*, percentile: float, male: float, age: float,
                      calibration: _Calibration) -> float:
    quantiles = []
    for alpha_beta in (calibration.boys, calibration.girls):
        alpha, beta = (float(np.interp(age, calibration.height_age, anchors)) for anchors in alpha_beta)
        quantiles.append(_beta_quantile(HEIGHT_PERCENTILES[0] + percentile * np.ptp(HEIGHT_PERCENTILES),
                                        alpha, beta))
    return male * quantiles[0] + (1.0 - male) * quantiles[1]


def _beta_quantile(q: float, alpha: float, beta: float, samples: int = 4001) -> float:
    x = np.linspace(0.0, 1.0, samples)[1:-1]
    log_pdf = (alpha - 1.0) * np.log(x) + (beta - 1.0) * np.log1p(-x)
    pdf = np.exp(log_pdf - log_pdf.max())
    cdf = np.concatenate([[0.0], np.cumsum(pdf), [pdf.sum()]])
    cdf /= cdf[-1]
    grid = np.concatenate([[0.0], x, [1.0]])
    return float(np.interp(q, cdf, grid))


# --------------------------------------------------------------------------- outfit regions

def _vertex_segments(model: Any, faces: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean vertex masks of anny's body-part segmentation (head, hands, feet, eyes)."""
    from anny.face_segmentation import get_face_segmentation_mask

    groups = {"head": ["head"], "hand": ["hand.L", "hand.R"], "foot": ["foot.L", "foot.R"],
              "eyes": ["eye_front.L", "eye_front.R", "eye_back.L", "eye_back.R"]}
    masks = {}
    for name, labels in groups.items():
        face_mask = get_face_segmentation_mask(model, labels).cpu().numpy()
        vertex_mask = np.zeros(int(faces.max()) + 1, dtype=bool)
        vertex_mask[faces[face_mask].ravel()] = True
        masks[name] = vertex_mask
    return masks


def _bone_group(name: str) -> str:
    if name.startswith(("wrist", "finger", "metacarpal")):
        return "hand"
    if name.startswith(("clavicle", "shoulder", "upperarm", "lowerarm")):
        return "arm"
    if name.startswith(("neck", "head", "eye")):
        return "neck"
    if name.startswith(("upperleg", "lowerleg")):
        return "leg"
    if name.startswith(("foot", "toe")):
        return "foot"
    return "torso"  # root, pelvis, spine


def outfit_regions(*, vertices: np.ndarray, segments: dict[str, np.ndarray], heads: np.ndarray,
                   bone_names: list[str], weight_indices: np.ndarray,
                   weight_values: np.ndarray) -> np.ndarray:
    """Region code per vertex: clothes from skinning weights, skin/hair/eyes from the head.

    Long sleeves to the wrists, trousers to the ankles, shoes over the feet, a collar at
    the base of the neck, hair over the skull cap, eyeballs dark.
    """
    groups = np.array([_bone_group(name) for name in bone_names])
    dominant = weight_indices[np.arange(len(vertices)), weight_values.argmax(axis=1)]
    group = groups[dominant]
    z = vertices[:, 2]
    hip_z = heads[[bone_names.index("upperleg01.L"), bone_names.index("upperleg01.R")], 2].mean()
    neck = heads[bone_names.index("neck01")]
    waist_z = hip_z + 0.2 * (neck[2] - hip_z)
    region = np.full(len(vertices), TOP, dtype=np.uint8)
    region[(group == "torso") & (z < waist_z)] = BOTTOM
    region[group == "leg"] = BOTTOM
    region[np.isin(group, ("torso", "neck")) & _neck(vertices, neck)] = SKIN
    region[group == "hand"] = SKIN
    region[segments["hand"]] = SKIN
    region[segments["head"]] = SKIN
    region[(group == "foot") | segments["foot"]] = SHOES
    region[segments["head"] & _skull_cap(vertices, segments)] = HAIR
    region[segments["eyes"]] = EYES
    return region


def _neck(vertices: np.ndarray, neck: np.ndarray) -> np.ndarray:
    """Vertices above a crew neckline: around the neck's base, dipping towards the front."""
    x, y, z = vertices[:, 0] - neck[0], vertices[:, 1] - neck[1], vertices[:, 2] - neck[2]
    front = np.clip(-y / 0.06, 0.0, 1.0)
    neckline = 0.01 - 0.035 * front + 0.25 * np.maximum(np.abs(x) - 0.03, 0.0)
    return (z > neckline) & (np.abs(x) < 0.09)


def _skull_cap(vertices: np.ndarray, segments: dict[str, np.ndarray]) -> np.ndarray:
    """Vertices above the ear line and behind the hairline (a mask over all vertices)."""
    head = vertices[segments["head"]]
    eye_z = vertices[segments["eyes"], 2].mean()
    top_z = head[:, 2].max()
    back_y, front_y = head[:, 1].max(), head[:, 1].min()
    up = (vertices[:, 2] - eye_z) / (top_z - eye_z)            # 0 at the eyes, 1 at the crown
    forward = (back_y - vertices[:, 1]) / (back_y - front_y)   # 0 at the back, 1 at the nose
    threshold = np.interp(forward, [0.0, 0.2, 0.32, 0.55, 0.7, 1.0],
                          [-0.75, -0.65, 0.05, 0.15, 0.5, 0.6])
    return up > threshold
