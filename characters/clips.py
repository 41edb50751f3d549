"""Motion clips: BVH files and AMASS-style SMPL-X ``.npz`` files, read into one form (numpy only).

A ``Clip`` is a skeleton (joint names, parents, rest offsets) and, per frame, each joint's local
rotation and the root joint's position. Whatever the file's axes and units, a clip is in
FilmCrew's frame: metres, Z up, and its rest skeleton faces -Y with its left side on +X (the
character kits' conventions), so retargeting compares like with like.

Joints carry *roles*: the ``smplx`` package's joint names (``pelvis``, ``left_hip``, ``neck``,
``left_wrist``...), found by name in a BVH file (CMU naming: Hips, LeftUpLeg, LeftLeg, LeftFoot,
LeftArm, LeftForeArm, LeftHand, Neck, Head..., and a few common variants).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..errors import FilmCrewError

SMPLX_JOINTS = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar",
    "right_collar", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "jaw", "left_eye_smplhf", "right_eye_smplhf",
    *(f"{side}_{finger}{n}" for side in ("left", "right")
      for finger in ("index", "middle", "pinky", "ring", "thumb") for n in (1, 2, 3)),
)
"""The 55 joints of SMPL-X in the order of the ``smplx`` package (and of AMASS ``poses``)."""

SMPLX_PARENTS = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 15, 15, 15,
    *(parent for wrist, first in ((20, 25), (21, 40)) for base in range(first, first + 15, 3)
      for parent in (wrist, base, base + 1)),  # five fingers of three joints per hand
)
"""SMPL-X's kinematic tree (``kintree_table[0]``), -1 for the pelvis."""

REQUIRED_ROLES = ("pelvis", "neck", *(f"{side}_{joint}" for side in ("left", "right")
                                      for joint in ("hip", "knee", "ankle", "shoulder", "elbow",
                                                    "wrist")))
"""Roles a clip must have to be retargeted."""

UNITS = {"m": 1.0, "cm": 0.01, "mm": 0.001, "inch": 0.0254, "cmu": 0.0254 / 0.45}
"""Metres per file unit of BVH files (``cmu``: the CMU mocap database's 1/0.45 inch)."""

_ADULT_LEG_M = 0.8
"""Hip-to-ankle length that ``units="auto"`` expects of the skeleton in a BVH file."""


def _smplx_template() -> np.ndarray:
    """Approximate rest joints of the mean SMPL-X body (metres, the model's Y up, facing +Z).

    Used when no SMPL-X model is configured; only bone directions and proportions matter.
    """
    left = {
        "hip": (0.06, -0.33, 0.01), "knee": (0.10, -0.71, 0.0), "ankle": (0.09, -1.11, -0.04),
        "foot": (0.12, -1.16, 0.09), "collar": (0.08, 0.18, 0.0), "shoulder": (0.19, 0.24, -0.01),
        "elbow": (0.45, 0.22, -0.03), "wrist": (0.72, 0.23, -0.03),
        "eye_smplhf": (0.03, 0.40, 0.08),
    }
    fingers = {"index": (0.09, -0.005, 0.025), "middle": (0.095, -0.01, 0.0),
               "pinky": (0.075, -0.015, -0.04), "ring": (0.09, -0.012, -0.02),
               "thumb": (0.03, -0.015, 0.04)}
    joints = {"pelvis": (0.0, -0.24, 0.03), "spine1": (0.0, -0.13, 0.0), "spine2": (0.0, 0.0, 0.02),
              "spine3": (0.0, 0.06, 0.02), "neck": (0.0, 0.27, -0.01), "head": (0.0, 0.36, 0.05),
              "jaw": (0.0, 0.33, 0.08)}
    for side, sign in (("left", 1.0), ("right", -1.0)):
        for name, (x, y, z) in left.items():
            joints[f"{side}_{name}"] = (sign * x, y, z)
        wrist = np.array(joints[f"{side}_wrist"])
        for finger, (x, y, z) in fingers.items():
            step = np.array([sign * 0.03, 0.0, 0.02 if finger == "thumb" else 0.0])
            base = wrist + np.array([sign * x, y, z])
            for n in range(3):
                joints[f"{side}_{finger}{n + 1}"] = tuple(base + n * step)
    return np.array([joints[name] for name in SMPLX_JOINTS], dtype=np.float64)


SMPLX_TEMPLATE = _smplx_template()


@dataclass
class Clip:
    """A motion clip on its own skeleton, in FilmCrew's frame (see the module docstring).

    Attributes:
        path: the file it came from (for messages).
        joint_names: J joint names as in the file; parents come before children.
        parents: (J,) int parent index, -1 for the root (index 0).
        offsets: (J, 3) rest offset of each joint from its parent, metres (the root's: 0).
        rotations: (F, J, 4) local rotations relative to the rest pose, unit quaternions
            (w, x, y, z); the root's is its rotation in the world.
        root_positions: (F, 3) the root joint's world position, metres.
        fps: frames per second.
        roles: SMPL-X joint name -> joint index, for the joints the clip has.
    """

    path: str
    joint_names: list[str]
    parents: np.ndarray
    offsets: np.ndarray
    rotations: np.ndarray
    root_positions: np.ndarray
    fps: float
    roles: dict[str, int] = field(default_factory=dict)

    @property
    def frames(self) -> int:
        return int(self.rotations.shape[0])

    @property
    def duration(self) -> float:
        """Seconds from the first frame to the last."""
        return (self.frames - 1) / self.fps

    def rest_positions(self) -> np.ndarray:
        """(J, 3) joint positions of the rest pose, the root at the origin."""
        positions = np.zeros_like(self.offsets)
        for joint, parent in enumerate(self.parents.tolist()):
            if parent >= 0:
                positions[joint] = positions[parent] + self.offsets[joint]
        return positions

    def global_rotations(self) -> np.ndarray:
        """(F, J, 3, 3) each joint's rotation from the rest pose to the world."""
        local = quat_to_matrix(self.rotations)
        world = np.empty_like(local)
        for joint, parent in enumerate(self.parents.tolist()):
            world[:, joint] = local[:, joint] if parent < 0 else world[:, parent] @ local[:, joint]
        return world

    def positions(self, rotations: np.ndarray | None = None) -> np.ndarray:
        """(F, J, 3) world joint positions (``rotations``: ``global_rotations()``, if at hand)."""
        world = self.global_rotations() if rotations is None else rotations
        positions = np.empty((self.frames, len(self.joint_names), 3))
        for joint, parent in enumerate(self.parents.tolist()):
            if parent < 0:
                positions[:, joint] = self.root_positions
            else:
                positions[:, joint] = positions[:, parent] + world[:, parent] @ self.offsets[joint]
        return positions


# --------------------------------------------------------------------------- rotations

def quat_to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) unit quaternions (w, x, y, z) -> (..., 3, 3) rotation matrices."""
    w, x, y, z = np.moveaxis(np.asarray(q, dtype=np.float64), -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], -1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], -1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], -1),
    ], -2)


def matrix_to_quat(m: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 4) unit quaternions (w, x, y, z), w >= 0."""
    m = np.asarray(m, dtype=np.float64)
    # the four candidate 4|q_i|^2 values; take the largest per matrix for precision
    trace = np.stack([1 + m[..., 0, 0] + m[..., 1, 1] + m[..., 2, 2],
                      1 + m[..., 0, 0] - m[..., 1, 1] - m[..., 2, 2],
                      1 - m[..., 0, 0] + m[..., 1, 1] - m[..., 2, 2],
                      1 - m[..., 0, 0] - m[..., 1, 1] + m[..., 2, 2]], -1)
    best = trace.argmax(-1)
    s = np.sqrt(np.maximum(np.take_along_axis(trace, best[..., None], -1)[..., 0], 1e-12)) * 2.0
    rows = {
        0: (s / 4, (m[..., 2, 1] - m[..., 1, 2]) / s, (m[..., 0, 2] - m[..., 2, 0]) / s,
            (m[..., 1, 0] - m[..., 0, 1]) / s),
        1: ((m[..., 2, 1] - m[..., 1, 2]) / s, s / 4, (m[..., 0, 1] + m[..., 1, 0]) / s,
            (m[..., 0, 2] + m[..., 2, 0]) / s),
        2: ((m[..., 0, 2] - m[..., 2, 0]) / s, (m[..., 0, 1] + m[..., 1, 0]) / s, s / 4,
            (m[..., 1, 2] + m[..., 2, 1]) / s),
        3: ((m[..., 1, 0] - m[..., 0, 1]) / s, (m[..., 0, 2] + m[..., 2, 0]) / s,
            (m[..., 1, 2] + m[..., 2, 1]) / s, s / 4),
    }
    q = np.zeros(m.shape[:-2] + (4,))
    for case, values in rows.items():
        q = np.where((best == case)[..., None], np.stack(values, -1), q)
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    return np.where(q[..., :1] < 0, -q, q)


def axis_angle_to_matrix(v: np.ndarray) -> np.ndarray:
    """(..., 3) axis-angle vectors (radians) -> (..., 3, 3) rotation matrices (Rodrigues)."""
    v = np.asarray(v, dtype=np.float64)
    angle = np.linalg.norm(v, axis=-1, keepdims=True)
    axis = v / np.maximum(angle, 1e-12)
    x, y, z = np.moveaxis(axis, -1, 0)
    zero = np.zeros_like(x)
    k = np.stack([np.stack([zero, -z, y], -1), np.stack([z, zero, -x], -1),
                  np.stack([-y, x, zero], -1)], -2)
    sin, cos = np.sin(angle)[..., None], np.cos(angle)[..., None]
    return np.eye(3) + sin * k + (1 - cos) * (k @ k)


def axis_rotation(axis: str, radians: np.ndarray) -> np.ndarray:
    """(N,) angles about ``"x"``, ``"y"`` or ``"z"`` -> (N, 3, 3) rotation matrices."""
    c, s = np.cos(radians), np.sin(radians)
    one, zero = np.ones_like(c), np.zeros_like(c)
    rows = {"x": ((one, zero, zero), (zero, c, -s), (zero, s, c)),
            "y": ((c, zero, s), (zero, one, zero), (-s, zero, c)),
            "z": ((c, -s, zero), (s, c, zero), (zero, zero, one))}[axis]
    return np.stack([np.stack(row, -1) for row in rows], -2)


def slerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Spherical interpolation of (..., 4) quaternions by ``t`` (broadcast over the last axis)."""
    dot = np.sum(a * b, axis=-1, keepdims=True)
    b = np.where(dot < 0, -b, b)
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    sin = np.sin(theta)
    near = sin < 1e-6
    safe = np.where(near, 1.0, sin)
    wa = np.where(near, 1.0 - t, np.sin((1.0 - t) * theta) / safe)
    wb = np.where(near, t, np.sin(t * theta) / safe)
    out = wa * a + wb * b
    return out / np.linalg.norm(out, axis=-1, keepdims=True)


def _frame_change(*, left: np.ndarray, up: np.ndarray) -> np.ndarray:
    """The axis permutation (with signs) taking a file's left and up axes to +X and +Z."""
    forward = np.cross(left, up)
    source = np.stack([left, up, forward], axis=1)
    target = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, -1.0], [0.0, 1.0, 0.0]])  # +X, +Z, -Y
    change = target @ np.linalg.pinv(source)
    snapped = np.zeros((3, 3))
    for row in range(3):  # nearest signed permutation: the file's axes, only relabelled
        column = int(np.argmax(np.abs(change[row])))
        snapped[row, column] = np.sign(change[row, column])
    if abs(np.linalg.det(snapped) - 1.0) > 1e-6:
        raise ValueError("the rest skeleton's left and up directions do not fix its axes")
    return snapped


def _conjugated(rotations: np.ndarray, change: np.ndarray) -> np.ndarray:
    """Quaternions of ``change @ R @ change.T`` for (F, J, 4) quaternions ``R``."""
    return matrix_to_quat(change @ quat_to_matrix(rotations) @ change.T)


# --------------------------------------------------------------------------- any file

def read_clip(path: Path, **options) -> Clip:
    """Read a ``.bvh`` (``read_bvh``) or a SMPL-X ``.npz`` (``read_smplx``) clip.

    Raises:
        FilmCrewError: an unknown suffix, or the reader's own errors.
    """
    path = Path(path)
    readers = {".bvh": read_bvh, ".npz": read_smplx}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise FilmCrewError(f"unknown motion clip type {path.suffix!r}; expected .bvh or .npz",
                            path=path)
    return reader(path, **options)


# --------------------------------------------------------------------------- BVH

_BVH_ROLES = {
    "pelvis": ("hips", "hip", "pelvis", "root"),
    "neck": ("neck", "neck1", "neck01"),
    "head": ("head",),
    "{side}_collar": ("{Side}Shoulder", "{Side}Collar", "{s}Collar", "{Side}Clavicle"),
    "{side}_shoulder": ("{Side}Arm", "{Side}UpArm", "{Side}UpperArm", "{s}Shldr"),
    "{side}_elbow": ("{Side}ForeArm", "{Side}LowArm", "{Side}LowerArm", "{s}ForeArm", "{Side}Elbow"),
    "{side}_wrist": ("{Side}Hand", "{s}Hand", "{Side}Wrist"),
    "{side}_hip": ("{Side}UpLeg", "{Side}UpperLeg", "{Side}Thigh", "{s}Thigh", "{Side}Hip"),
    "{side}_knee": ("{Side}Leg", "{Side}LowLeg", "{Side}LowerLeg", "{s}Shin", "{Side}Shin",
                    "{Side}Knee"),
    "{side}_ankle": ("{Side}Foot", "{s}Foot", "{Side}Ankle"),
    "{side}_foot": ("{Side}ToeBase", "{Side}Toe", "{Side}Toes", "{s}Toe"),
}
"""BVH joint names per role (matched without case, after any ``prefix:``); the first one wins."""

_CHANNELS = ("xposition", "yposition", "zposition", "xrotation", "yrotation", "zrotation")


def _bvh_roles(names: list[str]) -> dict[str, int]:
    plain = {re.sub(r"^.*:", "", name).lower(): index for index, name in enumerate(names)}
    roles = {}
    for role, candidates in _BVH_ROLES.items():
        for side, Side, s in (("left", "Left", "l"), ("right", "Right", "r")):
            wanted = role.format(side=side)
            for candidate in candidates:
                index = plain.get(candidate.format(Side=Side, s=s).lower())
                if index is not None:
                    roles.setdefault(wanted, index)
                    break
    if "pelvis" not in roles:
        roles["pelvis"] = 0  # the root joint of a BVH is its pelvis
    return roles


class _Tokens:
    """Whitespace tokens of a BVH file with their line numbers, read in order."""

    def __init__(self, text: str, path: Path) -> None:
        self.items = [(token, number) for number, line in enumerate(text.splitlines(), 1)
                      for token in line.split()]
        self.position = 0
        self.path = path

    def error(self, message: str) -> FilmCrewError:
        line = self.items[min(self.position, len(self.items) - 1)][1] if self.items else None
        return FilmCrewError(f"malformed BVH: {message}", path=self.path, line=line)

    def next(self, what: str) -> str:
        if self.position >= len(self.items):
            raise self.error(f"the file ends where {what} was expected")
        token = self.items[self.position][0]
        self.position += 1
        return token

    def expect(self, word: str) -> None:
        token = self.next(repr(word))
        if token.upper() != word.upper():
            self.position -= 1
            raise self.error(f"expected {word!r}, found {token!r}")

    def number(self, what: str) -> float:
        token = self.next(what)
        try:
            return float(token)
        except ValueError:
            self.position -= 1
            raise self.error(f"expected a number for {what}, found {token!r}") from None

    @property
    def line(self) -> int:
        return self.items[self.position - 1][1]


@dataclass
class _BvhJoint:
    name: str
    parent: int
    offset: tuple[float, float, float]
    channels: list[str]


def _parse_joint(tokens: _Tokens, *, name: str, parent: int, joints: list[_BvhJoint],
                 end_site: bool = False) -> None:
    index = len(joints)
    tokens.expect("{")
    tokens.expect("OFFSET")
    offset = tuple(tokens.number(f"the OFFSET of {name}") for _ in range(3))
    channels: list[str] = []
    if end_site:
        joints.append(_BvhJoint(name, parent, offset, channels))
        tokens.expect("}")
        return
    tokens.expect("CHANNELS")
    count = tokens.number(f"the channel count of {name}")
    for _ in range(int(count)):
        channel = tokens.next(f"a channel of {name}")
        if channel.lower() not in _CHANNELS:
            tokens.position -= 1
            raise tokens.error(f"unknown channel {channel!r} of joint {name!r}")
        channels.append(channel.lower())
    joints.append(_BvhJoint(name, parent, offset, channels))
    while True:
        word = tokens.next(f"JOINT, End Site or '}}' in {name}")
        if word == "}":
            return
        if word.upper() == "JOINT":
            _parse_joint(tokens, name=tokens.next("a joint name"), parent=index, joints=joints)
        elif word.upper() == "END":
            tokens.expect("Site")
            _parse_joint(tokens, name=f"{name}_end", parent=index, joints=joints, end_site=True)
        else:
            tokens.position -= 1
            raise tokens.error(f"expected JOINT, End Site or '}}' in {name}, found {word!r}")


def _parse_bvh(path: Path) -> tuple[list[_BvhJoint], np.ndarray, float]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise FilmCrewError(f"cannot read motion clip: {exc}", path=path) from exc
    tokens = _Tokens(text, path)
    tokens.expect("HIERARCHY")
    tokens.expect("ROOT")
    joints: list[_BvhJoint] = []
    _parse_joint(tokens, name=tokens.next("the root joint's name"), parent=-1, joints=joints)
    tokens.expect("MOTION")
    tokens.expect("Frames:")
    frames = int(tokens.number("the frame count"))
    tokens.expect("Frame")
    tokens.expect("Time:")
    frame_time = tokens.number("the frame time")
    if frames < 1 or frame_time <= 0:
        raise tokens.error(f"{frames} frames of {frame_time} s: need at least one frame and a "
                           "positive frame time")
    width = sum(len(joint.channels) for joint in joints)
    values = tokens.items[tokens.position:]
    if len(values) != frames * width:
        raise FilmCrewError(f"malformed BVH: {frames} frames of {width} channels need "
                            f"{frames * width} numbers, found {len(values)}", path=path,
                            line=tokens.line)
    try:
        motion = np.array([float(token) for token, _ in values], dtype=np.float64)
    except ValueError as exc:
        raise FilmCrewError(f"malformed BVH: a motion value is not a number ({exc})",
                            path=path) from exc
    fps = 1.0 / frame_time
    if abs(fps - round(fps)) < 0.01:  # frame times are written rounded: 0.008333 is 120 fps
        fps = float(round(fps))
    return joints, motion.reshape(frames, width), fps


def read_bvh(path: Path, *, units: str | float = "auto") -> Clip:
    """Read a BVH clip (any channel order per joint; only the root's translation is used).

    Args:
        path: the ``.bvh`` file.
        units: metres per file unit, or a name of ``UNITS`` (``"cm"``, ``"inch"``, ``"cmu"``...).
            ``"auto"`` picks the named unit that makes the legs (hip to ankle) closest to an
            adult's 0.8 m; name the unit when you know it (retargeting scales root motion by the
            ratio of leg lengths, so the unit only matters where the clip is used as is).

    Raises:
        FilmCrewError: the file is unreadable or malformed (with the line), or lacks a joint that
            retargeting needs (the names it tried).
    """
    path = Path(path)
    joints, motion, fps = _parse_bvh(path)
    names = [joint.name for joint in joints]
    roles = _bvh_roles(names)
    _check_roles(roles, path=path, kind="BVH")
    offsets = np.array([joint.offset for joint in joints], dtype=np.float64)
    offsets[0] = 0.0
    parents = np.array([joint.parent for joint in joints], dtype=np.int64)
    rotations, root = _bvh_channels(joints, motion)
    scale = _bvh_scale(units, offsets=offsets, parents=parents, roles=roles, path=path)
    clip = Clip(path=str(path), joint_names=names, parents=parents, offsets=offsets,
                rotations=rotations, root_positions=root, fps=fps, roles=roles)
    rest = clip.rest_positions()
    try:
        change = _frame_change(left=rest[roles["left_hip"]] - rest[roles["right_hip"]],
                               up=rest[roles["neck"]] - rest[roles["pelvis"]])
    except ValueError as exc:
        raise FilmCrewError(f"BVH rest pose: {exc}", path=path) from exc
    return replace(clip, offsets=scale * offsets @ change.T, root_positions=scale * root @ change.T,
                   rotations=_conjugated(rotations, change))


def _bvh_channels(joints: list[_BvhJoint], motion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local rotations (F, J, 4) and the root's translation (F, 3) from the channel values."""
    frames = motion.shape[0]
    rotations = np.zeros((frames, len(joints), 4))
    rotations[..., 0] = 1.0
    root = np.tile(np.array(joints[0].offset, dtype=np.float64), (frames, 1))
    column = 0
    for index, joint in enumerate(joints):
        matrix = np.tile(np.eye(3), (frames, 1, 1))
        for channel in joint.channels:
            values = motion[:, column]
            column += 1
            if channel.endswith("rotation"):  # intrinsic: the order listed is the product order
                matrix = matrix @ axis_rotation(channel[0], np.radians(values))
            elif index == 0:
                root[:, "xyz".index(channel[0])] = values
        rotations[:, index] = matrix_to_quat(matrix)
    return rotations, root


def _bvh_scale(units: str | float, *, offsets: np.ndarray, parents: np.ndarray,
               roles: dict[str, int], path: Path) -> float:
    if not isinstance(units, str):
        if not units > 0:
            raise FilmCrewError(f"units must be positive metres per unit, not {units}", path=path)
        return float(units)
    if units != "auto":
        if units not in UNITS:
            raise FilmCrewError(f"unknown units {units!r}; expected 'auto', a number or one of "
                                f"{sorted(UNITS)}", path=path)
        return UNITS[units]
    leg = _chain_length(offsets, parents, start=roles["left_hip"], end=roles["left_ankle"])
    if leg <= 0:
        raise FilmCrewError("the left leg has no length in the rest pose", path=path)
    return min(UNITS.values(), key=lambda metres: abs(np.log(leg * metres / _ADULT_LEG_M)))


def _chain_length(offsets: np.ndarray, parents: np.ndarray, *, start: int, end: int) -> float:
    """Sum of the offsets from joint ``start`` down to its descendant ``end``."""
    length, joint = 0.0, end
    while joint != start and joint >= 0:
        length += float(np.linalg.norm(offsets[joint]))
        joint = int(parents[joint])
    return length if joint == start else 0.0


def _check_roles(roles: dict[str, int], *, path: Path, kind: str) -> None:
    missing = [role for role in REQUIRED_ROLES if role not in roles]
    if missing:
        tried = {role: _BVH_ROLES.get(role.replace("left", "{side}").replace("right", "{side}"), ())
                 for role in missing}
        hint = "; ".join(f"{role} (tried {', '.join(names[:3])}...)" if names else role
                         for role, names in tried.items())
        raise FilmCrewError(f"{kind} skeleton lacks joints for: {hint}", path=path)


# --------------------------------------------------------------------------- SMPL-X (AMASS)

_SPLIT_KEYS = (("root_orient", 1), ("pose_body", 21), ("pose_jaw", 1), ("pose_eye", 2),
               ("pose_hand", 30))
"""AMASS's split pose keys in SMPL-X joint order, with their joint counts."""

UP_AXES = ("auto", "y", "z")


def read_smplx(path: Path, *, up_axis: str = "auto", rest_joints: np.ndarray | None = None,
               fps: float | None = None) -> Clip:
    """Read an AMASS-style SMPL-X motion ``.npz``.

    Keys: ``poses`` (F, 165) axis-angle in ``SMPLX_JOINTS`` order (F, 156 SMPL-H poses are
    accepted: no jaw and eyes), or the split keys ``root_orient`` (F, 3), ``pose_body`` (F, 63),
    optional ``pose_jaw``, ``pose_eye``, ``pose_hand`` (F, 90); ``trans`` (F, 3) metres;
    ``mocap_frame_rate`` or ``mocap_framerate``; ``betas`` is not read here (see
    ``smplx_kit.rest_joints``).

    Args:
        path: the ``.npz`` file.
        up_axis: the world's up axis in the file. AMASS's SMPL-X releases differ: most are Z up
            (``"z"``), some Y up (``"y"``). ``"auto"`` (the default) picks the axis the body's
            spine points along on average over the clip, which is right for any clip in which
            the person is mostly upright.
        rest_joints: (55, 3) rest joints of the body in model space (Y up, facing +Z), e.g.
            from a SMPL-X model and the clip's betas; default: ``SMPLX_TEMPLATE``.
        fps: the frame rate, for files without one.

    Raises:
        FilmCrewError: unreadable file, a missing key, a wrong shape, no frame rate.
    """
    path = Path(path)
    data = _load_npz(path)
    poses = _smplx_poses(data, path=path)
    frames = poses.shape[0]
    trans = _array(data, "trans", shape=(frames, 3), path=path)
    rate = fps if fps is not None else _frame_rate(data, path=path)
    if up_axis not in UP_AXES:
        raise FilmCrewError(f"unknown up_axis {up_axis!r}; expected one of {UP_AXES}", path=path)
    joints = SMPLX_TEMPLATE if rest_joints is None else np.asarray(rest_joints, dtype=np.float64)
    if joints.shape != (len(SMPLX_JOINTS), 3):
        raise FilmCrewError(f"rest joints have shape {joints.shape}, expected (55, 3)", path=path)
    parents = np.array(SMPLX_PARENTS, dtype=np.int64)
    offsets = joints - joints[np.maximum(parents, 0)]
    offsets[0] = 0.0
    local = axis_angle_to_matrix(poses.reshape(frames, len(SMPLX_JOINTS), 3))
    model = _frame_change(left=joints[1] - joints[2], up=joints[12] - joints[0])  # Y up, +Z front
    if up_axis == "auto":
        up_axis = _smplx_up_axis(local[:, 0] @ np.array([0.0, 1.0, 0.0]))
    world = model if up_axis == "y" else np.eye(3)
    rotations = matrix_to_quat(model @ local @ model.T)
    rotations[:, 0] = matrix_to_quat(world @ local[:, 0] @ model.T)  # model space -> the world
    root = (trans + joints[0]) @ world.T  # SMPL-X rotates the body about the pelvis joint
    return Clip(path=str(path), joint_names=list(SMPLX_JOINTS), parents=parents,
                offsets=offsets @ model.T, rotations=rotations, root_positions=root, fps=rate,
                roles={name: index for index, name in enumerate(SMPLX_JOINTS)})


def _smplx_up_axis(spine: np.ndarray) -> str:
    """``"y"`` or ``"z"``: the file axis that the pelvis's up points along on average."""
    mean = np.abs(spine.mean(axis=0))
    return "z" if mean[2] >= mean[1] else "y"


def _load_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError) as exc:
        raise FilmCrewError(f"cannot read SMPL-X motion: {exc}", path=path) from exc


def _array(data: dict[str, np.ndarray], key: str, *, shape: tuple[int, ...],
           path: Path) -> np.ndarray:
    if key not in data:
        raise FilmCrewError(f"SMPL-X motion lacks the key {key!r} (keys: {sorted(data)})",
                            path=path, field=key)
    value = np.asarray(data[key], dtype=np.float64)
    if value.shape != shape:
        raise FilmCrewError(f"{key} has shape {value.shape}, expected {shape}", path=path,
                            field=key)
    if not np.isfinite(value).all():
        raise FilmCrewError(f"{key} holds NaN or infinite values", path=path, field=key)
    return value


def _smplx_poses(data: dict[str, np.ndarray], *, path: Path) -> np.ndarray:
    """(F, 165) axis-angle poses from ``poses`` or the split keys."""
    if "poses" in data:
        poses = np.asarray(data["poses"], dtype=np.float64)
        if poses.ndim != 2 or poses.shape[1] not in (165, 156) or poses.shape[0] < 1:
            raise FilmCrewError(f"poses has shape {poses.shape}, expected (frames, 165) for "
                                "SMPL-X or (frames, 156) for SMPL-H", path=path, field="poses")
        poses = _array({"poses": poses}, "poses", shape=poses.shape, path=path)
        if poses.shape[1] == 156:  # SMPL-H: body, then hands; SMPL-X puts jaw and eyes between
            poses = np.concatenate([poses[:, :66], np.zeros((len(poses), 9)), poses[:, 66:]], 1)
        return poses
    if "root_orient" not in data:
        raise FilmCrewError("SMPL-X motion lacks 'poses' (or 'root_orient' and 'pose_body')",
                            path=path, field="poses")
    frames = int(np.shape(data["root_orient"])[0]) if np.ndim(data["root_orient"]) == 2 else 0
    parts = []
    for key, count in _SPLIT_KEYS:
        if key in data or key in ("root_orient", "pose_body"):
            parts.append(_array(data, key, shape=(frames, 3 * count), path=path))
        else:
            parts.append(np.zeros((frames, 3 * count)))
    return np.concatenate(parts, axis=1)


def _frame_rate(data: dict[str, np.ndarray], *, path: Path) -> float:
    for key in ("mocap_frame_rate", "mocap_framerate"):
        if key in data:
            rate = float(np.asarray(data[key]).reshape(-1)[0])
            if not rate > 0:
                raise FilmCrewError(f"{key} is {rate}, expected a positive frame rate", path=path,
                                    field=key)
            return rate
    raise FilmCrewError("SMPL-X motion lacks 'mocap_frame_rate' (or 'mocap_framerate')",
                        path=path, field="mocap_frame_rate")
