"""Retargeting a motion clip onto a FilmCrew character rig (numpy only).

Global-rotation retargeting: each rig bone takes the world rotation of the source joint that
drives the same body segment, times a constant rest offset that turns the rig's rest direction
of that segment onto the source's (so a T-pose clip drives an A-pose rig without bending it).
The pelvis also carries the root motion, scaled by the ratio of leg lengths, and the feet are
kept on the floor: the rig's lowest foot point is as high above the floor as the source's,
scaled, in every frame (so on the floor when the clip is on the floor, and jumps keep their
height). The result is per-frame pose-bone quaternions and the root bone's location, in the
armature's space (Z up, facing -Y, origin on the mark), ready to key.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import FilmCrewError
from .clips import Clip, matrix_to_quat, quat_to_matrix, slerp
from .kit import CharacterKit

ROOT = "root"
SPINE = ("spine05", "spine04", "spine03", "spine02", "spine01")
"""The rig's spine, pelvis to chest; it follows the source's joints from pelvis to neck."""
NECK = ("neck01", "neck02", "neck03")
"""The rig's neck; it follows the source's joints from neck to head."""
_SIDES = (("left", "L"), ("right", "R"))
_LIMBS = (
    # rig bones, source joint, source end joint, the rig bone whose head ends the segment
    # (the segment starts at the first rig bone's head)
    (("upperleg01", "upperleg02"), "hip", "knee", "lowerleg01"),
    (("lowerleg01", "lowerleg02"), "knee", "ankle", "foot"),
    (("foot",), "ankle", "foot", ("toe3-1", "toes")),
    (("clavicle", "shoulder01"), "collar", "shoulder", "upperarm01"),
    (("upperarm01", "upperarm02"), "shoulder", "elbow", "lowerarm01"),
    (("lowerarm01", "lowerarm02"), "elbow", "wrist", "wrist"),
    (("wrist",), "wrist", "middle1", "finger3-1"),
    *(((f"finger{digit}-{n}",), f"{finger}{n}", f"{finger}{n + 1}" if n < 3 else None,
       f"finger{digit}-{n + 1}" if n < 3 else None)
      for digit, finger in enumerate(("thumb", "index", "middle", "ring", "pinky"), 1)
      for n in (1, 2, 3)),
)
"""Limb chains per side (rig names without the side; an end may list alternatives); a chain
without an end joint keeps the rest offset of its parent's. Bones the rig lacks are skipped."""
_SOURCE_FEET = ("ankle", "foot")


@dataclass
class Rig:
    """A target rig's rest pose in armature space (Blender's bone conventions).

    Attributes:
        bone_names: B names, parents first.
        parents: (B,) parent index, -1 for the root.
        heads: (B, 3) rest heads.
        matrices: (B, 3, 3) rest orientations (columns: the bone's X, Y, Z axes).
    """

    bone_names: list[str]
    parents: np.ndarray
    heads: np.ndarray
    matrices: np.ndarray

    @classmethod
    def from_kit(cls, kit: CharacterKit) -> Rig:
        return cls(bone_names=list(kit.bone_names), parents=np.asarray(kit.bone_parents),
                   heads=np.asarray(kit.bone_heads, np.float64),
                   matrices=np.asarray(kit.bone_matrices, np.float64))

    def index(self, name: str) -> int:
        try:
            return self.bone_names.index(name)
        except ValueError:
            raise FilmCrewError(f"the rig has no bone {name!r}") from None


@dataclass
class Motion:
    """A clip retargeted onto a rig, one row per output frame.

    Attributes:
        bone_names: the pose bones to key (the driven bones and the bones above them).
        rotations: (F, B, 4) pose-bone ``rotation_quaternion`` (w, x, y, z) per frame.
        root_location: (F, 3) the root pose bone's ``location`` (in its rest frame).
        fps: frames per second.
        source: the clip's file.
    """

    bone_names: list[str]
    rotations: np.ndarray
    root_location: np.ndarray
    fps: float
    source: str

    @property
    def frames(self) -> int:
        return int(self.rotations.shape[0])


# --------------------------------------------------------------------------- resampling

def resample(clip: Clip, *, fps: float) -> Clip:
    """The clip at ``fps``: rotations slerped, the root's position interpolated linearly.

    Output frame k is at k / fps seconds, up to the clip's last frame.
    """
    if not fps > 0:
        raise FilmCrewError(f"fps must be positive, not {fps}", path=clip.path)
    count = int(np.floor(clip.duration * fps + 1e-3)) + 1
    source = np.arange(count) / fps * clip.fps
    lower = np.minimum(np.floor(source + 1e-9).astype(int), clip.frames - 1)
    upper = np.minimum(lower + 1, clip.frames - 1)
    t = (source - lower)[:, None]
    rotations = slerp(clip.rotations[lower], clip.rotations[upper], t[:, None])
    root = (1.0 - t) * clip.root_positions[lower] + t * clip.root_positions[upper]
    return replace(clip, rotations=rotations, root_positions=root, fps=float(fps))


# --------------------------------------------------------------------------- the joint map

@dataclass
class _Link:
    """One rig bone driven by one source joint, with the rest offset between them."""

    bone: int
    joint: int
    offset: np.ndarray  # (3, 3): rig rest direction -> source rest direction


def _rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation taking direction ``a`` onto direction ``b``."""
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    axis, cos = np.cross(a, b), float(np.dot(a, b))
    if cos < -1.0 + 1e-9:  # opposite: half a turn about any perpendicular axis
        perpendicular = np.cross(a, [1.0, 0.0, 0.0])
        if np.linalg.norm(perpendicular) < 1e-6:
            perpendicular = np.cross(a, [0.0, 1.0, 0.0])
        perpendicular /= np.linalg.norm(perpendicular)
        return 2.0 * np.outer(perpendicular, perpendicular) - np.eye(3)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + k + k @ k / (1.0 + cos)


def _links(clip: Clip, rig: Rig) -> list[_Link]:
    """Which source joint drives each driven rig bone, and the rest offsets."""
    rest = clip.rest_positions()
    roles = clip.roles
    links = [_Link(rig.index(ROOT), roles["pelvis"], np.eye(3))]
    links += _chain(clip, rig, rest=rest, start=roles["pelvis"], end=roles["neck"],
                    bones=SPINE, end_bone="neck01")
    if "head" in roles and "head" in rig.bone_names:
        neck = _chain(clip, rig, rest=rest, start=roles["neck"], end=roles["head"], bones=NECK,
                      end_bone="head")
        head_end = _end_site(clip, roles["head"])
        if head_end is not None:  # a BVH head's End Site gives the head its own direction
            offset = _offset(rig, rest, "head", None, (roles["head"], head_end))
        else:
            offset = neck[-1].offset if neck else np.eye(3)
        links += [*neck, _Link(rig.index("head"), roles["head"], offset)]
    for side, suffix in _SIDES:
        inherited: dict[str, np.ndarray] = {}
        for bones, joint, end, end_bone in _LIMBS:
            role, end_role = f"{side}_{joint}", f"{side}_{end}" if end else None
            bones = [f"{bone}.{suffix}" for bone in bones if f"{bone}.{suffix}" in rig.bone_names]
            if role not in roles or not bones:
                continue
            ends = [f"{name}.{suffix}" for name in
                    ((end_bone,) if isinstance(end_bone, str) else end_bone or ())]
            end_name = next((name for name in ends if name in rig.bone_names), None)
            if end_role in roles and end_name is not None:
                offset = _offset(rig, rest, bones[0], end_name, (roles[role], roles[end_role]))
            else:  # no end joint: keep the parent chain's offset (a rigid extension of it)
                parent = rig.bone_names[int(rig.parents[rig.index(bones[0])])]
                offset = inherited.get(parent, np.eye(3))
            for bone in bones:
                links.append(_Link(rig.index(bone), roles[role], offset))
                inherited[bone] = offset
    return links


def _end_site(clip: Clip, joint: int | None) -> int | None:
    """The only child of ``joint`` (e.g. a BVH head's End Site), if it has exactly one."""
    if joint is None:
        return None
    children = np.nonzero(clip.parents == joint)[0]
    return int(children[0]) if len(children) == 1 else None


def _offset(rig: Rig, rest: np.ndarray, start: str, end: str | None,
            joints: tuple[int, int]) -> np.ndarray:
    """Rest offset of a rig segment (``start`` head to ``end`` head, or ``start``'s own tail
    direction when ``end`` is None) onto the source segment between ``joints``."""
    head = rig.heads[rig.index(start)]
    rig_direction = (rig.heads[rig.index(end)] - head if end is not None
                     else rig.matrices[rig.index(start)][:, 1])
    source_direction = rest[joints[1]] - rest[joints[0]]
    if np.linalg.norm(source_direction) < 1e-9 or np.linalg.norm(rig_direction) < 1e-9:
        return np.eye(3)
    return _rotation_between(rig_direction, source_direction)


def _chain(clip: Clip, rig: Rig, *, rest: np.ndarray, start: int, end: int,
           bones: tuple[str, ...], end_bone: str) -> list[_Link]:
    """Rig ``bones`` (a chain ending at ``end_bone``'s head) along the source path start -> end.

    Each rig bone follows the source segment that covers its middle, measured as a fraction
    of each chain's length, so chains with different joint counts line up.
    """
    path = [end]
    while path[-1] != start:
        parent = int(clip.parents[path[-1]])
        if parent < 0:
            raise FilmCrewError(f"joint {clip.joint_names[end]!r} does not descend from "
                                f"{clip.joint_names[start]!r}", path=clip.path)
        path.append(parent)
    path.reverse()
    bones = tuple(bone for bone in bones if bone in rig.bone_names)
    if not bones or end_bone not in rig.bone_names:
        return []
    lengths = np.linalg.norm(np.diff(rest[path], axis=0), axis=1)
    if lengths.sum() <= 0:
        return []
    source_ends = np.cumsum(lengths) / lengths.sum()
    points = [rig.heads[rig.index(bone)] for bone in (*bones, end_bone)]
    rig_lengths = np.linalg.norm(np.diff(points, axis=0), axis=1)
    middles = (np.cumsum(rig_lengths) - rig_lengths / 2.0) / rig_lengths.sum()
    links = []
    for bone, middle, direction in zip(bones, middles, np.diff(points, axis=0), strict=True):
        segment = int(min(np.searchsorted(source_ends, middle), len(path) - 2))
        source = rest[path[segment + 1]] - rest[path[segment]]
        offset = (_rotation_between(direction, source) if np.linalg.norm(source) > 1e-9
                  else np.eye(3))
        links.append(_Link(rig.index(bone), path[segment], offset))
    return links


# --------------------------------------------------------------------------- retargeting

def retarget(clip: Clip, *, rig: Rig, fps: float, align: bool = True,
             scale: str | float = "legs") -> Motion:
    """Retarget ``clip`` onto ``rig`` at ``fps``.

    Args:
        clip: a clip from ``clips.read_clip``.
        rig: the character's rest rig (``Rig.from_kit``).
        fps: the output frame rate (the plan's); the clip is resampled to it.
        align: True: the first frame stands over the armature's origin (the mark) and faces -Y
            (the character's facing); False: the clip keeps its own placement and heading,
            its world origin on the armature's origin.
        scale: ``"legs"``: root motion scaled by the rig's leg length over the clip's; or a
            number, the factor itself (1.0 keeps the clip's metres).

    Returns:
        The motion; its frame k is at k / fps seconds into the clip.

    Raises:
        FilmCrewError: the rig lacks a bone the map needs, or ``scale`` is not valid.
    """
    clip = resample(clip, fps=fps)
    links = _links(clip, rig)
    factor = _scale(clip, rig, scale)
    joint_rotations = clip.global_rotations()
    joint_positions = clip.positions(joint_rotations)
    if align:
        joint_rotations, joint_positions = _aligned(clip, joint_rotations, joint_positions)
    deltas = _bone_deltas(rig, links, joint_rotations)
    hips = joint_positions[:, [clip.roles["left_hip"], clip.roles["right_hip"]]].mean(axis=1)
    heads = _heads(rig, deltas, hips=factor * hips)
    lift = factor * _source_soles(clip, joint_positions) - _rig_soles(rig, heads)
    heads += lift[:, None, None] * np.array([0.0, 0.0, 1.0])
    return _motion(clip, rig, links=links, deltas=deltas, root_head=heads[:, rig.index(ROOT)])


def _scale(clip: Clip, rig: Rig, scale: str | float) -> float:
    if not isinstance(scale, str):
        if not scale > 0:
            raise FilmCrewError(f"scale must be positive, not {scale}", path=clip.path)
        return float(scale)
    if scale != "legs":
        raise FilmCrewError(f"unknown scale {scale!r}; expected 'legs' or a number",
                            path=clip.path)
    rest = clip.rest_positions()
    source = np.mean([np.linalg.norm(rest[clip.roles[f"{side}_hip"]] - rest[clip.roles[f"{side}_knee"]])
                      + np.linalg.norm(rest[clip.roles[f"{side}_knee"]]
                                       - rest[clip.roles[f"{side}_ankle"]])
                      for side, _ in _SIDES])
    target = np.mean([np.linalg.norm(rig.heads[rig.index(f"upperleg01.{s}")]
                                     - rig.heads[rig.index(f"lowerleg01.{s}")])
                      + np.linalg.norm(rig.heads[rig.index(f"lowerleg01.{s}")]
                                       - rig.heads[rig.index(f"foot.{s}")])
                      for _, s in _SIDES])
    if source <= 0:
        raise FilmCrewError("the clip's legs have no length in its rest pose", path=clip.path)
    return float(target / source)


def _aligned(clip: Clip, rotations: np.ndarray,
             positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Turn the clip about Z so frame 0 faces -Y, and move its hips over the origin."""
    forward = rotations[0, clip.roles["pelvis"]] @ np.array([0.0, -1.0, 0.0])
    yaw = -np.pi / 2.0 - np.arctan2(forward[1], forward[0])
    if np.hypot(forward[0], forward[1]) < 1e-6:  # facing straight up or down: keep the heading
        yaw = 0.0
    c, s = np.cos(yaw), np.sin(yaw)
    turn = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    hips = positions[0, [clip.roles["left_hip"], clip.roles["right_hip"]]].mean(axis=0)
    start = turn @ np.array([hips[0], hips[1], 0.0])
    return turn @ rotations, positions @ turn.T - start


def _bone_deltas(rig: Rig, links: list[_Link], joint_rotations: np.ndarray) -> np.ndarray:
    """(F, B, 3, 3) each rig bone's rotation from its rest to its pose, in armature space.

    A driven bone takes its joint's rotation times the rest offset; the others follow their
    parents rigidly.
    """
    frames = joint_rotations.shape[0]
    driven = {link.bone: link for link in links}
    deltas = np.empty((frames, len(rig.bone_names), 3, 3))
    for bone, parent in enumerate(rig.parents.tolist()):
        link = driven.get(bone)
        if link is not None:
            deltas[:, bone] = joint_rotations[:, link.joint] @ link.offset
        elif parent >= 0:
            deltas[:, bone] = deltas[:, parent]
        else:
            deltas[:, bone] = np.eye(3)
    return deltas


def _heads(rig: Rig, deltas: np.ndarray, *, hips: np.ndarray) -> np.ndarray:
    """(F, B, 3) posed bone heads, the whole pose moved so the hip centre is at ``hips`` (F, 3)."""
    legs = [rig.index(f"upperleg01.{s}") for _, s in _SIDES]
    heads = np.empty(deltas.shape[:2] + (3,))
    for bone, parent in enumerate(rig.parents.tolist()):
        if parent < 0:
            heads[:, bone] = rig.heads[bone]
        else:
            heads[:, bone] = heads[:, parent] + deltas[:, parent] @ (rig.heads[bone] - rig.heads[parent])
    return heads + (hips - heads[:, legs].mean(axis=1))[:, None, :]


def _rig_soles(rig: Rig, heads: np.ndarray) -> np.ndarray:
    """(F,) height of the rig's lowest foot point (ankles and the heads of the bones on the
    feet, the toes), relative to standing on the floor at rest."""
    feet = [rig.index(f"foot.{s}") for _, s in _SIDES]
    bones = feet + [bone for bone, parent in enumerate(rig.parents.tolist()) if parent in feet]
    return (heads[:, bones, 2] - rig.heads[bones, 2]).min(axis=1)


def _source_soles(clip: Clip, positions: np.ndarray) -> np.ndarray:
    """(F,) height of the clip's lowest foot point above the clip's floor.

    The floor is the lowest the feet get in the clip (relative to their rest heights above
    the lowest rest foot joint), so a clip is on the floor in at least one frame.
    """
    joints = [clip.roles[f"{side}_{joint}"] for joint in _SOURCE_FEET for side, _ in _SIDES
              if f"{side}_{joint}" in clip.roles]
    rest = clip.rest_positions()[joints, 2]
    soles = (positions[:, joints, 2] - (rest - rest.min())).min(axis=1)
    return soles - soles.min()


def _motion(clip: Clip, rig: Rig, *, links: list[_Link], deltas: np.ndarray,
            root_head: np.ndarray) -> Motion:
    """Pose-bone rotations and the root's location for the driven bones and those above them."""
    keyed: set[int] = set()
    for link in links:
        bone = link.bone
        while bone >= 0 and bone not in keyed:
            keyed.add(bone)
            bone = int(rig.parents[bone])
    order = sorted(keyed)
    rotations = np.empty((deltas.shape[0], len(order), 4))
    for column, bone in enumerate(order):
        parent = int(rig.parents[bone])
        relative = deltas[:, bone] if parent < 0 else (
            np.swapaxes(deltas[:, parent], -1, -2) @ deltas[:, bone])
        rest = rig.matrices[bone]
        rotations[:, column] = matrix_to_quat(rest.T @ relative @ rest)
    root = rig.index(ROOT)
    location = (root_head - rig.heads[root]) @ rig.matrices[root]  # rest.T @ (p - head), rows
    return Motion(bone_names=[rig.bone_names[b] for b in order],
                  rotations=_continuous(rotations), root_location=location, fps=clip.fps,
                  source=clip.path)


def _continuous(q: np.ndarray) -> np.ndarray:
    """Flip quaternion signs so consecutive frames agree (keys interpolate the short way)."""
    q = q.copy()
    for frame in range(1, q.shape[0]):
        flip = np.sum(q[frame] * q[frame - 1], axis=-1) < 0
        q[frame, flip] *= -1.0
    return q


def pose_heads(motion: Motion, *, rig: Rig) -> np.ndarray:
    """(F, B, 3) armature-space bone heads of ``motion`` on ``rig`` (forward kinematics).

    Bones the motion does not key keep their rest rotation relative to their parents.
    """
    frames = motion.frames
    columns = {name: i for i, name in enumerate(motion.bone_names)}
    basis = np.tile(np.eye(3), (frames, len(rig.bone_names), 1, 1))
    for name, column in columns.items():
        basis[:, rig.index(name)] = quat_to_matrix(motion.rotations[:, column])
    world = np.empty_like(basis)
    heads = np.empty((frames, len(rig.bone_names), 3))
    for bone, parent in enumerate(rig.parents.tolist()):
        rest = rig.matrices[bone]
        if parent < 0:
            world[:, bone] = rest @ basis[:, bone]
            heads[:, bone] = rig.heads[bone] + motion.root_location @ rest.T
        else:
            to_parent = rig.matrices[parent].T @ (rig.heads[bone] - rig.heads[parent])
            world[:, bone] = world[:, parent] @ rig.matrices[parent].T @ rest @ basis[:, bone]
            heads[:, bone] = heads[:, parent] + world[:, parent] @ to_parent
    return heads
