"""SMPL-X bodies as character kits, for users who have the SMPL-X model files.

The model files are licensed (smpl-x.is.tue.mpg.de), so FilmCrew never ships or downloads them:
the user points ``FILMCREW_SMPLX_MODELS`` (or the ``folder`` argument) at the folder holding
``SMPLX_NEUTRAL.npz`` (and ``SMPLX_FEMALE.npz``, ``SMPLX_MALE.npz``). The ``smplx`` package
(torch) then builds the body instead of anny, as a ``CharacterKit`` with the same conventions
(metres, Z up, facing -Y, feet on Z = 0, the hip joints centred over the origin) and the rig
bone names the posing and retargeting code use (``root``, ``upperleg01.L``, ``foot.R``,
``upperarm01.L``, ``wrist.R``, ``spine01``, ``neck01``, ``head``...).

Like ``kit.generate_kit``, building a kit needs torch: run it in a child process when bpy is
loaded. ``rest_joints`` needs numpy only.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import FilmCrewError
from ..fsutil import atomic_write_bytes
from ..plan.model import Appearance
from .clips import SMPLX_JOINTS, SMPLX_PARENTS, _frame_change
from .kit import CharacterKit, _kit_bytes, appearance_key, outfit_regions

MODELS_ENV = "FILMCREW_SMPLX_MODELS"
GENDERS = ("neutral", "female", "male")
_FINGERS = {"thumb": 1, "index": 2, "middle": 3, "ring": 4, "pinky": 5}
_BODY_BONES = {
    "pelvis": "root", "spine1": "spine03", "spine2": "spine02", "spine3": "spine01",
    "neck": "neck01", "head": "head", "jaw": "jaw",
    "{side}_hip": "upperleg01.{s}", "{side}_knee": "lowerleg01.{s}", "{side}_ankle": "foot.{s}",
    "{side}_foot": "toes.{s}", "{side}_collar": "clavicle.{s}", "{side}_shoulder": "upperarm01.{s}",
    "{side}_elbow": "lowerarm01.{s}", "{side}_wrist": "wrist.{s}", "{side}_eye_smplhf": "eye.{s}",
}


def _bone_names() -> dict[str, str]:
    names = {}
    for side, s in (("left", "L"), ("right", "R")):
        for joint, bone in _BODY_BONES.items():
            names[joint.format(side=side)] = bone.format(s=s)
        for finger, digit in _FINGERS.items():
            for n in (1, 2, 3):
                names[f"{side}_{finger}{n}"] = f"finger{digit}-{n}.{s}"
    return names


BONE_NAMES = _bone_names()
"""SMPL-X joint -> FilmCrew rig bone (anny's names where anny has that joint)."""

_TAILS = {
    "pelvis": "spine1", "spine1": "spine2", "spine2": "spine3", "spine3": "neck", "neck": "head",
    "{side}_hip": "{side}_knee", "{side}_knee": "{side}_ankle", "{side}_ankle": "{side}_foot",
    "{side}_collar": "{side}_shoulder", "{side}_shoulder": "{side}_elbow",
    "{side}_elbow": "{side}_wrist", "{side}_wrist": "{side}_middle1",
    **{f"{{side}}_{finger}{n}": f"{{side}}_{finger}{n + 1}" for finger in _FINGERS for n in (1, 2)},
}
"""The joint each bone's tail reaches; the other bones extend their own way (see ``_tails``)."""


# --------------------------------------------------------------------------- the model files

def model_folder(folder: str | os.PathLike | None = None) -> Path | None:
    """The configured SMPL-X model folder: ``folder``, else ``$FILMCREW_SMPLX_MODELS``, else None.

    Raises:
        FilmCrewError: a folder is configured but holds no ``SMPLX_*.npz`` model.
    """
    configured = folder if folder is not None else os.environ.get(MODELS_ENV) or None
    if configured is None:
        return None
    path = Path(configured).expanduser()
    if not path.is_dir() or not any(path.glob("SMPLX_*.npz")):
        where = "the folder argument" if folder is not None else f"${MODELS_ENV}"
        raise FilmCrewError(f"no SMPL-X model (SMPLX_NEUTRAL.npz, SMPLX_FEMALE.npz or "
                            f"SMPLX_MALE.npz) in this folder, named by {where}", path=path)
    return path


def model_file(folder: Path, *, gender: str = "neutral") -> Path:
    """``SMPLX_<GENDER>.npz`` in ``folder``, falling back to the neutral model."""
    if gender not in GENDERS:
        raise FilmCrewError(f"unknown SMPL-X gender {gender!r}; expected one of {GENDERS}")
    for name in (gender, "neutral"):
        path = Path(folder) / f"SMPLX_{name.upper()}.npz"
        if path.exists():
            return path
    raise FilmCrewError(f"no SMPLX_{gender.upper()}.npz or SMPLX_NEUTRAL.npz", path=folder)


def gender_for(appearance: Appearance) -> str:
    """The SMPL-X model for the plan's gender (0 = female, 1 = male; in between: neutral)."""
    if appearance.gender <= 0.25:
        return "female"
    return "male" if appearance.gender >= 0.75 else "neutral"


def rest_joints(*, folder: Path, gender: str = "neutral",
                betas: np.ndarray | None = None) -> np.ndarray:
    """(55, 3) rest joints of a shaped SMPL-X body in model space (numpy only).

    For ``clips.read_smplx(rest_joints=...)``, so a clip's rest skeleton is its own body's.

    Raises:
        FilmCrewError: the model file is unreadable or lacks a key.
    """
    path = model_file(folder, gender=gender)
    try:
        with np.load(path, allow_pickle=False) as data:
            template, shapedirs, regressor = (np.asarray(data[key], np.float64)
                                              for key in ("v_template", "shapedirs", "J_regressor"))
    except (OSError, ValueError, KeyError) as exc:
        raise FilmCrewError(f"cannot read the SMPL-X model: {exc}", path=path) from exc
    vertices = template + _shape_offsets(shapedirs, betas)
    return regressor @ vertices


def _shape_offsets(shapedirs: np.ndarray, betas: np.ndarray | None) -> np.ndarray:
    if betas is None:
        return 0.0
    betas = np.asarray(betas, np.float64).reshape(-1)[:min(10, shapedirs.shape[-1])]
    return shapedirs[:, :, :len(betas)] @ betas


# --------------------------------------------------------------------------- kits (torch)

def smplx_kit(*, folder: Path, gender: str = "neutral", betas: np.ndarray | None = None,
              key: str = "") -> CharacterKit:
    """A character kit of the SMPL-X body with ``betas`` (default: the mean shape).

    Needs torch and the ``smplx`` package.

    Raises:
        FilmCrewError: the model file cannot be loaded by ``smplx``.
    """
    import smplx
    import torch
    from smplx.lbs import blend_shapes, vertices2joints

    path = model_file(folder, gender=gender)
    betas = np.zeros(10) if betas is None else np.asarray(betas, np.float64).reshape(-1)[:10]
    try:
        model = smplx.SMPLX(str(path), ext="npz", num_betas=len(betas), use_pca=False,
                            flat_hand_mean=True)
    except Exception as exc:  # smplx raises assertions, KeyErrors and shape errors alike
        raise FilmCrewError(f"smplx cannot load this SMPL-X model: {exc!r}", path=path) from exc
    with torch.no_grad():
        shape = torch.as_tensor(betas, dtype=torch.float32)[None, :model.num_betas]
        vertices = model.v_template[None] + blend_shapes(shape, model.shapedirs)
        joints = vertices2joints(model.J_regressor, vertices)[0].numpy().astype(np.float64)
        vertices = vertices[0].numpy().astype(np.float64)
        weights = model.lbs_weights.numpy()
    faces = np.asarray(model.faces, dtype=np.int32)
    return kit_from_body(vertices=vertices, faces=faces, joints=joints, weights=weights, key=key)


def kit_from_body(*, vertices: np.ndarray, faces: np.ndarray, joints: np.ndarray,
                  weights: np.ndarray, key: str = "") -> CharacterKit:
    """A kit from a shaped SMPL-X rest body in model space (Y up, facing +Z)."""
    change = _frame_change(left=joints[1] - joints[2], up=joints[12] - joints[0])
    vertices, joints = vertices @ change.T, joints @ change.T
    hips = joints[[1, 2]].mean(axis=0)
    offset = np.array([-hips[0], -hips[1], -vertices[:, 2].min()])
    vertices, joints = vertices + offset, joints + offset
    tails = _tails(joints)
    names = [BONE_NAMES[joint] for joint in SMPLX_JOINTS]
    order = np.argsort(-weights, axis=1)[:, :4]
    values = np.take_along_axis(weights, order, axis=1).astype(np.float32)
    values /= values.sum(axis=1, keepdims=True)
    region = outfit_regions(vertices=vertices, segments=_segments(weights), heads=joints,
                            bone_names=names, weight_indices=order, weight_values=values)
    return CharacterKit(
        vertices=vertices.astype(np.float32), faces=faces.astype(np.int32), bone_names=names,
        bone_parents=np.array(SMPLX_PARENTS, dtype=np.int32), bone_heads=joints.astype(np.float32),
        bone_tails=tails.astype(np.float32), bone_matrices=_bone_matrices(joints, tails),
        weight_indices=order.astype(np.int16), weight_values=values, region=region,
        height_m=float(vertices[:, 2].max()), appearance_key=key)


def generate_smplx_kit(*, appearance: Appearance, path: Path, folder: Path | None = None,
                       betas: np.ndarray | None = None) -> None:
    """Write the SMPL-X kit of ``appearance`` (its gender picks the model) to ``path``.

    The kit's ``appearance_key`` is prefixed ``smplx-`` so it never passes for an anny kit.

    Raises:
        FilmCrewError: no model folder is configured, or the model cannot be loaded.
    """
    folder = model_folder(folder)
    if folder is None:
        raise FilmCrewError(f"no SMPL-X model folder: set ${MODELS_ENV} or pass folder")
    kit = smplx_kit(folder=folder, gender=gender_for(appearance), betas=betas,
                    key=f"smplx-{appearance_key(appearance)}")
    atomic_write_bytes(Path(path), _kit_bytes(kit))


_OWN_WAY = {"head": (0.0, 0.0, 1.0), "jaw": (0.0, -1.0, -0.5), "eye_smplhf": (0.0, -1.0, 0.0),
            "foot": (0.0, -1.0, 0.0)}
"""Directions of the bones that reach no joint (the end of the name decides); fingertips and
others continue their parent segment's way."""


def _tails(joints: np.ndarray) -> np.ndarray:
    """Each bone's tail: the joint it reaches (``_TAILS``), or a short way beyond its head."""
    index = {name: i for i, name in enumerate(SMPLX_JOINTS)}
    height = joints[index["head"], 2] - joints[index["left_ankle"], 2]
    tails = np.empty_like(joints)
    for joint, name in enumerate(SMPLX_JOINTS):
        side = name.split("_", 1)[0] if name.startswith(("left_", "right_")) else ""
        target = _TAILS.get(name.replace(side, "{side}", 1) if side else name)
        if target is not None:
            tails[joint] = joints[index[target.format(side=side)]]
            continue
        segment = joints[joint] - joints[SMPLX_PARENTS[joint]]
        way = next((np.array(way) for end, way in _OWN_WAY.items() if name.endswith(end)), segment)
        length = 0.12 * height if name == "head" else max(0.6 * np.linalg.norm(segment), 0.01 * height)
        tails[joint] = joints[joint] + way / np.linalg.norm(way) * length
    return tails


def _bone_matrices(heads: np.ndarray, tails: np.ndarray) -> np.ndarray:
    """Rest orientations: Y from head to tail, Z as close to the body's front (-Y) as it goes."""
    matrices = np.empty((len(heads), 3, 3), dtype=np.float32)
    for bone, (head, tail) in enumerate(zip(heads, tails, strict=True)):
        y = (tail - head) / np.linalg.norm(tail - head)
        for reference in (np.array([0.0, -1.0, 0.0]), np.array([0.0, 0.0, 1.0])):
            z = reference - np.dot(reference, y) * y
            if np.linalg.norm(z) > 0.2:
                break
        z /= np.linalg.norm(z)
        matrices[bone] = np.column_stack([np.cross(y, z), y, z])
    return matrices


def _segments(weights: np.ndarray) -> dict[str, np.ndarray]:
    """Vertex masks of the head, hands, feet and eyes from the dominant skinning joint."""
    dominant = np.asarray(SMPLX_JOINTS)[weights.argmax(axis=1)]
    hands = [name for name in SMPLX_JOINTS if name.endswith("_wrist")
             or any(name.startswith(f"{side}_{finger}") for side in ("left", "right")
                    for finger in _FINGERS)]
    return {
        "head": np.isin(dominant, ["head", "jaw", "left_eye_smplhf", "right_eye_smplhf"]),
        "hand": np.isin(dominant, hands),
        "foot": np.isin(dominant, ["left_ankle", "right_ankle", "left_foot", "right_foot"]),
        "eyes": np.isin(dominant, ["left_eye_smplhf", "right_eye_smplhf"]),
    }
