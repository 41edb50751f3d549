"""Bake a character's motion onto its armature: walking legs, arm swing, gaze and gestures.

Everything is solved in numpy over all frames at once (forward kinematics over the rest pose,
analytic two-bone leg IK, aims and rotations in the body frame), then written to F-curves in
bulk: every frame where something moves, only the ends of still spans. Layers, in order: the
posture (stand/sit blend), the pelvis (gait bob, crouch), spine/neck/head (gestures, talking,
gaze within the neck's limits), legs (IK to the gait's ankle targets where the legs walk), arms
(swing opposite the legs, then gestures blended in and out).

Armature space: Z up, the body faces -Y, the character's left is +X.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import bpy
import numpy as np

from ..characters.jaw import JAW
from ..staging.gait import Gait, GaitBody
from ..staging.performance import PoseEvent
from ..staging.poses import Pose, PoseLibrary, load_library

SPINE = ("spine05", "spine04", "spine03", "spine02", "spine01")
NECK = ("neck01", "neck02", "neck03")
LEGS = tuple(f"{bone}.{side}" for side in "LR" for bone in ("upperleg01", "lowerleg01", "foot"))
ARMS = tuple(f"{bone}.{side}" for side in "LR" for bone in ("upperarm01", "lowerarm01"))
KEYED = ("root", *SPINE, *NECK, "head", *LEGS, *ARMS)
EYES = ("eye.L", "eye.R")
EYE_YAW, EYE_PITCH = 30.0, 20.0  # how far the eyes turn in the head
JAW_OPEN = 9.0          # degrees the jaw drops on a full syllable
SYLLABLES = 4.5         # syllables per second of speech
SEGMENT_END = {"upperleg01": "lowerleg01", "lowerleg01": "foot", "upperarm01": "lowerarm01",
               "lowerarm01": "wrist"}
NECK_LIMIT = 80.0       # degrees the head turns from the chest, neck and head together
NECK_SHARE = 0.4        # of a head turn, the share the neck takes (the head the rest)
PITCH_LIMIT = 35.0
ARM_SWING = 18.0        # degrees each arm swings forward and back at a full stride
SIDES = {"left": ("L", 1.0), "right": ("R", -1.0)}


def gait_body(armature: bpy.types.Object, *, age_years: float = 35.0) -> GaitBody:
    """The dimensions walking needs, read from the armature's rest pose."""
    bones = armature.data.bones
    hip = np.array(bones["upperleg01.L"].head_local)
    knee = np.array(bones["lowerleg01.L"].head_local)
    ankle = np.array(bones["foot.L"].head_local)
    ball = np.array(bones["toe2-1.L"].head_local) if "toe2-1.L" in bones else ankle + [0.0, -0.13, 0.0]
    return GaitBody(toe_forward=float(np.linalg.norm((ball - ankle)[:2])), toe_height=float(max(ball[2], 0.0)),hip_height=float(hip[2]), hip_half_width=float(abs(hip[0])),
                    stance_half_width=float(abs(ankle[0])), ankle_height=float(ankle[2]),
                    leg_length=float(np.linalg.norm(knee - hip) + np.linalg.norm(ankle - knee)),
                    ankle_forward=float(hip[1] - ankle[1]), age_years=age_years)


# --------------------------------------------------------------------------- rotation maths

def _axis_angle(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """(n, 3, 3) rotations about unit ``axis`` (n, 3) by ``angle`` (n,) radians."""
    x, y, z = axis[:, 0], axis[:, 1], axis[:, 2]
    c, s = np.cos(angle), np.sin(angle)
    t = 1.0 - c
    return np.stack([np.stack([c + x * x * t, x * y * t - z * s, x * z * t + y * s], -1),
                     np.stack([y * x * t + z * s, c + y * y * t, y * z * t - x * s], -1),
                     np.stack([z * x * t - y * s, z * y * t + x * s, c + z * z * t], -1)], axis=1)


def _between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, 3, 3) shortest rotations taking directions ``a`` to ``b``."""
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    axis = np.cross(a, b)
    sin = np.linalg.norm(axis, axis=1)
    cos = np.clip(np.einsum("ni,ni->n", a, b), -1.0, 1.0)
    fallback = np.cross(a, np.where(np.abs(a[:, :1]) < 0.9, [[1.0, 0, 0]], [[0, 1.0, 0]]))
    axis = np.where(sin[:, None] > 1e-9, axis, fallback)
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    return _axis_angle(axis, np.arctan2(sin, cos))


def _euler(pitch: np.ndarray, yaw: np.ndarray, roll: np.ndarray) -> np.ndarray:
    """Body-frame rotations from degrees (pitch about +X bends forward, yaw about +Z turns left)."""
    n = len(pitch)
    ex, ez, ey = (np.tile(v, (n, 1)) for v in ([1.0, 0, 0], [0, 0, 1.0], [0, 1.0, 0]))
    return (_axis_angle(ez, np.radians(yaw)) @ _axis_angle(ex, np.radians(pitch))
            @ _axis_angle(ey, np.radians(-roll)))


def _to_quat(m: np.ndarray) -> np.ndarray:
    """(n, 4) w-first unit quaternions of rotation matrices (n, 3, 3)."""
    w = np.sqrt(np.maximum(0.0, 1.0 + m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2])) / 2.0
    x = np.sqrt(np.maximum(0.0, 1.0 + m[:, 0, 0] - m[:, 1, 1] - m[:, 2, 2])) / 2.0
    y = np.sqrt(np.maximum(0.0, 1.0 - m[:, 0, 0] + m[:, 1, 1] - m[:, 2, 2])) / 2.0
    z = np.sqrt(np.maximum(0.0, 1.0 - m[:, 0, 0] - m[:, 1, 1] + m[:, 2, 2])) / 2.0
    x = np.copysign(x, m[:, 2, 1] - m[:, 1, 2])
    y = np.copysign(y, m[:, 0, 2] - m[:, 2, 0])
    z = np.copysign(z, m[:, 1, 0] - m[:, 0, 1])
    q = np.stack([w, x, y, z], axis=1)
    return q / np.linalg.norm(q, axis=1, keepdims=True)


def _to_matrix(q: np.ndarray) -> np.ndarray:
    w, x, y, z = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    return np.stack([np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
                     np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
                     np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1)],
                    axis=1)


def _nlerp(a: np.ndarray, b: np.ndarray, weight: np.ndarray) -> np.ndarray:
    b = np.where(np.einsum("ni,ni->n", a, b)[:, None] < 0.0, -b, b)
    q = a + (b - a) * weight[:, None]
    return q / np.linalg.norm(q, axis=1, keepdims=True)


# --------------------------------------------------------------------------- the rig in numpy

class _Rig:
    """Pose bases (quaternion + location per bone per frame) and forward kinematics over them.

    A bone's armature-space pose is ``pose(parent) @ rest(parent)^-1 @ rest @ basis``.
    """

    def __init__(self, armature: bpy.types.Object, frames: int) -> None:
        bones = armature.data.bones
        self.frames = frames
        self.rest = {b.name: np.array(b.matrix_local) for b in bones}
        self.parent = {b.name: (b.parent.name if b.parent else None) for b in bones}
        self.keyed = KEYED + tuple(b for b in (JAW, *EYES) if b in self.rest)
        self.quat = {name: np.tile([1.0, 0, 0, 0], (frames, 1)) for name in self.keyed}
        self.loc = {name: np.zeros((frames, 3)) for name in self.keyed}
        self._cache: dict[str, np.ndarray] = {}

    def basis(self, name: str) -> np.ndarray:
        out = np.tile(np.eye(4), (self.frames, 1, 1))
        if name in self.quat:
            out[:, :3, :3] = _to_matrix(self.quat[name])
            out[:, :3, 3] = self.loc[name]
        return out

    def matrix(self, name: str) -> np.ndarray:
        """(F, 4, 4) armature-space pose matrices of bone ``name``."""
        if name not in self._cache:
            self._cache[name] = self.unposed(name) @ self.basis(name)
        return self._cache[name]

    def unposed(self, name: str) -> np.ndarray:
        """The bone's matrix with an identity basis: where its parent carries it."""
        parent = self.parent[name]
        if parent is None:
            return np.tile(self.rest[name], (self.frames, 1, 1))
        return self.matrix(parent) @ (np.linalg.inv(self.rest[parent]) @ self.rest[name])

    def head(self, name: str) -> np.ndarray:
        return self.matrix(name)[:, :3, 3]

    def set_world(self, name: str, target: np.ndarray, frames: np.ndarray, weight: np.ndarray | None = None) -> None:
        """Blend bone ``name`` towards the armature-space matrices ``target`` (n, 4, 4) on ``frames``."""
        basis = np.linalg.inv(self.unposed(name)[frames]) @ target
        quat = _to_quat(basis[:, :3, :3])
        w = np.ones(len(frames)) if weight is None else weight
        self.quat[name][frames] = _nlerp(self.quat[name][frames], quat, w)
        self.loc[name][frames] += (basis[:, :3, 3] - self.loc[name][frames]) * w[:, None]
        self._cache.clear()

    def rotate(self, name: str, rotation: np.ndarray, frames: np.ndarray) -> None:
        """Turn bone ``name`` about its head by ``rotation`` (n, 3, 3), given in its parent's body
        frame, on top of its current pose (a swing or a nod adds to the posture, never replaces it)."""
        parent = self.parent[name]
        carried = self.matrix(parent)[frames, :3, :3] @ self.rest[parent][:3, :3].T
        target = self.matrix(name)[frames].copy()
        target[:, :3, :3] = carried @ rotation @ carried.transpose(0, 2, 1) @ target[:, :3, :3]
        self.set_world(name, target, frames)

    def aim(self, name: str, direction: np.ndarray, frames: np.ndarray, weight: np.ndarray | None = None) -> None:
        """Swing a limb segment (bone ``name`` to the next joint) to point along ``direction`` (n, 3)."""
        base, side = name.rsplit(".", 1)
        end = f"{SEGMENT_END[base]}.{side}"
        offset = np.linalg.inv(self.rest[name]) @ np.append(self.rest[end][:3, 3], 1.0)
        start = self.unposed(name)[frames]
        current = start[:, :3, :3] @ offset[:3]
        target = start.copy()
        target[:, :3, :3] = _between(current, direction) @ start[:, :3, :3]
        self.set_world(name, target, frames, weight)

    def body_frame(self, bone: str, frames: np.ndarray) -> np.ndarray:
        """(n, 3, 3) how far bone ``bone`` has turned from its rest (the frame arm aims are in)."""
        return self.matrix(bone)[frames, :3, :3] @ self.rest[bone][:3, :3].T


# --------------------------------------------------------------------------- baking

@dataclass
class MotionInput:
    """Everything one character's bake needs, per frame (F frames, index 0 = film frame 1)."""

    position: np.ndarray   # (F, 2) world
    facing: np.ndarray     # (F,) degrees, unwrapped
    sit: np.ndarray        # (F,) 0..1
    seat_height: np.ndarray  # (F,)
    gait: Gait
    events: list[PoseEvent]
    look: np.ndarray | None  # (F, 3) world points, NaN where none
    fps: int


def bake_motion(armature: bpy.types.Object, *, motion: MotionInput, postures: dict,
                library: PoseLibrary | None = None) -> dict[str, np.ndarray]:
    """Solve and key the armature's pose bones on every film frame of ``motion``.

    Args:
        armature: a character from ``build_character``, its object keyed separately.
        motion: the per-frame inputs.
        postures: ``{"stand": (quats, locs), ("sit", seat_height): (quats, locs)}`` bases from
            ``characters.posture_bases`` (the postures' own solver, so sitting lands on the seat).
        library: the pose library (default: the bundled one).

    Returns:
        The solved ankle positions in armature space per foot, ``{"foot.L": (F, 3), ...}``.
    """
    library = library or load_library()
    count = len(motion.position)
    rig = _Rig(armature, count)
    _posture_layer(rig, motion=motion, postures=postures)
    everything = np.arange(count)
    world_to_local = _world_to_local(motion)
    weights = [(event, _event_weight(event, library.pose(event.pose), count, motion.fps))
               for event in motion.events]
    _pelvis_layer(rig, motion=motion, weights=weights, library=library, armature=armature)
    _spine_layer(rig, motion=motion, weights=weights, library=library, world_to_local=world_to_local)
    _jaw_layer(rig, motion=motion, weights=weights)
    _leg_layer(rig, motion=motion, world_to_local=world_to_local)
    _rising_leg_layer(rig, motion=motion, world_to_local=world_to_local)
    _arm_layer(rig, motion=motion, weights=weights, library=library, world_to_local=world_to_local)
    _write_keys(armature, rig)
    return {foot: rig.head(foot)[everything] for foot in ("foot.L", "foot.R")}


def _posture_layer(rig: _Rig, *, motion: MotionInput, postures: dict) -> None:
    stand_q, stand_l = postures["stand"]
    sit = np.clip(motion.sit, 0.0, 1.0)
    blend = sit * sit * (3.0 - 2.0 * sit)
    for name in KEYED:
        rig.quat[name][:] = stand_q.get(name, [1.0, 0, 0, 0])
        rig.loc[name][:] = stand_l.get(name, [0.0, 0, 0])
    seated = np.nonzero(blend > 0.0)[0]
    for height in np.unique(np.round(motion.seat_height[seated], 3)):
        frames = seated[np.round(motion.seat_height[seated], 3) == height]
        sit_q, sit_l = postures[("sit", float(height))]
        for name in KEYED:
            q = np.tile(sit_q.get(name, [1.0, 0, 0, 0]), (len(frames), 1))
            rig.quat[name][frames] = _nlerp(rig.quat[name][frames], q, blend[frames])
            target = np.asarray(sit_l.get(name, [0.0, 0, 0]))
            rig.loc[name][frames] += (target - rig.loc[name][frames]) * blend[frames, None]
    rig._cache.clear()


def _jaw_layer(rig: _Rig, *, motion: MotionInput, weights) -> None:
    """The jaw opens and closes with the syllables of each line the character speaks."""
    if JAW not in rig.quat:
        return
    count = len(motion.position)
    opening = np.zeros(count)
    t = np.arange(count) / motion.fps
    for event, weight in weights:
        if event.pose != "talk":
            continue
        phase = (event.start * 0.618) % 1.0 * 2.0 * math.pi  # lines do not all start on the same beat
        syllables = 0.5 * (1.0 - np.cos(2.0 * math.pi * SYLLABLES * t + phase))
        stress = 0.65 + 0.35 * np.sin(2.0 * math.pi * 0.8 * t + 2.0 * phase)
        opening = np.maximum(opening, weight * event.intensity * syllables * stress)
    frames = np.nonzero(opening > 1e-3)[0]
    if len(frames):
        pitch = JAW_OPEN * opening[frames]
        rig.rotate(JAW, _euler(pitch, 0 * pitch, 0 * pitch), frames)


def _world_to_local(motion: MotionInput):
    angle = np.radians(motion.facing + 90.0)
    cos, sin = np.cos(angle), np.sin(angle)

    def convert(points: np.ndarray, frames: np.ndarray) -> np.ndarray:
        d = points[:, :2] - motion.position[frames]
        c, s = cos[frames], sin[frames]
        return np.stack([c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1], points[:, 2]], axis=1)

    return convert


def _event_weight(event: PoseEvent, pose: Pose, count: int, fps: int) -> np.ndarray:
    """Blend weight per frame: eased in and out over the pose's blend time, times intensity."""
    weight = np.zeros(count)
    start, end = max(0, event.start), min(count, event.end)
    if end <= start:
        return weight
    frames = np.arange(start, end)
    ramp = max(1.0, pose.blend_seconds * fps)
    u = np.clip(np.minimum(frames - start + 1, end - frames) / ramp, 0.0, 1.0)
    weight[start:end] = u * u * (3.0 - 2.0 * u) * min(max(event.intensity, 0.0), 1.0)
    return weight


def _oscillation(pose: Pose, part: str, axis: str, event: PoseEvent, fps: int, count: int) -> np.ndarray:
    angle = np.zeros(count)
    t = (np.arange(count) - event.start) / fps
    for wave in pose.oscillate:
        if wave.part == part and wave.axis == axis:
            angle += wave.degrees * np.sin(2.0 * math.pi * wave.hz * t)
    return angle


def _pelvis_layer(rig: _Rig, *, motion: MotionInput, weights, library: PoseLibrary,
                  armature: bpy.types.Object) -> None:
    hip_height = float(armature.data.bones["upperleg01.L"].head_local[2])
    drop = np.where(motion.gait.active, motion.gait.pelvis, 0.0)
    for event, weight in weights:
        drop -= library.pose(event.pose).pelvis_drop * hip_height * weight
    frames = np.nonzero(np.abs(drop) > 1e-6)[0]
    if len(frames):
        target = rig.matrix("root")[frames].copy()
        target[:, 2, 3] += drop[frames]
        rig.set_world("root", target, frames)


def _spine_layer(rig: _Rig, *, motion: MotionInput, weights, library: PoseLibrary, world_to_local) -> None:
    count = len(motion.position)
    angles = {part: np.zeros((count, 3)) for part in ("spine", "neck", "head")}
    for event, weight in weights:
        pose = library.pose(event.pose)
        for part in angles:
            static = getattr(pose, part)
            for k, axis in enumerate(("pitch", "yaw", "roll")):
                base = getattr(static, axis) if static else 0.0
                wave = _oscillation(pose, part, axis, event, motion.fps, count)
                angles[part][:, k] += weight * (base + wave)
    gaze, wanted = _gaze(rig, motion=motion, world_to_local=world_to_local, spine_yaw=angles["spine"][:, 1])
    _eyes(rig, turn=wanted - gaze)
    angles["neck"][:, :2] += gaze * NECK_SHARE
    angles["head"][:, :2] += gaze * (1.0 - NECK_SHARE)
    for part, bones in (("spine", SPINE), ("neck", NECK), ("head", ("head",))):
        frames = np.nonzero(np.abs(angles[part]).max(axis=1) > 1e-4)[0]
        if not len(frames):
            continue
        share = angles[part][frames] / len(bones)
        rotation = _euler(share[:, 0], share[:, 1], share[:, 2])
        for bone in bones:
            rig.rotate(bone, rotation, frames)


def _gaze(rig: _Rig, *, motion: MotionInput, world_to_local, spine_yaw: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """(F, 2) pitch and yaw (degrees) that turn the head to the look-at point, within limits and
    smoothed; and (F, 2) the whole turn the look asks for (the eyes make up the difference)."""
    count = len(motion.position)
    out = np.zeros((count, 2))
    if motion.look is None:
        return out, out.copy()
    frames = np.nonzero(np.isfinite(motion.look).all(axis=1))[0]
    if not len(frames):
        return out, out.copy()
    target = world_to_local(motion.look[frames], frames)
    eye = rig.head("head")[frames] + [0.0, -0.08, 0.06]
    d = target - eye
    yaw = np.degrees(np.arctan2(d[:, 0], -d[:, 1])) - spine_yaw[frames]  # +: to the left (+X)
    pitch = -np.degrees(np.arctan2(d[:, 2], np.hypot(d[:, 0], d[:, 1])))  # +: down
    wanted = np.zeros((count, 2))
    wanted[frames, 1] = (yaw + 180.0) % 360.0 - 180.0
    wanted[frames, 0] = pitch
    out[frames, 1] = np.clip(wanted[frames, 1], -NECK_LIMIT, NECK_LIMIT)
    out[frames, 0] = np.clip(pitch, -PITCH_LIMIT, PITCH_LIMIT)
    return _smooth_rows(out, radius=max(1, motion.fps // 8)), wanted


def _eyes(rig: _Rig, *, turn: np.ndarray) -> None:
    """The eyes take the rest of a look: beyond the neck's reach, and ahead of the head while it
    is still turning (the head follows the eyes)."""
    frames = np.nonzero(np.abs(turn).max(axis=1) > 0.5)[0]
    if not len(frames):
        return
    pitch = np.clip(turn[frames, 0], -EYE_PITCH, EYE_PITCH)
    yaw = np.clip(turn[frames, 1], -EYE_YAW, EYE_YAW)
    for eye in EYES:
        if eye in rig.quat:
            rig.rotate(eye, _euler(pitch, yaw, 0 * yaw), frames)


def _smooth_rows(values: np.ndarray, radius: int) -> np.ndarray:
    kernel = np.ones(2 * radius + 1) / (2 * radius + 1)
    padded = np.pad(values, ((radius, radius), (0, 0)), mode="edge")
    return np.stack([np.convolve(padded[:, k], kernel, mode="valid") for k in range(values.shape[1])], 1)


def _leg_layer(rig: _Rig, *, motion: MotionInput, world_to_local) -> None:
    gait = motion.gait
    frames = np.nonzero(gait.active & (motion.sit <= 1e-3))[0]
    if not len(frames):
        return
    for foot, side in enumerate("LR"):
        target = world_to_local(gait.ankles[frames, foot], frames)
        relative = np.radians(gait.foot_yaw[frames, foot] - motion.facing[frames])
        pitch = None if gait.foot_pitch is None else np.radians(gait.foot_pitch[frames, foot])
        _two_bone_ik(rig, side=side, target=target, relative_yaw=relative, frames=frames, pitch=pitch)


def _rising_leg_layer(rig: _Rig, *, motion: MotionInput, world_to_local) -> None:
    """Sitting down and standing up keep the feet where they rest when seated: the hips travel
    between the seat and the spot in front of it over planted feet. Where one stood beside or
    behind the seat, the feet first step over to that place, one after the other."""
    sit = motion.sit
    seated = sit >= 1.0 - 1e-3
    moving = np.nonzero((sit > 1e-3) & ~seated)[0]
    if not len(moving):
        return
    for run in np.split(moving, np.nonzero(np.diff(moving) > 1)[0] + 1):
        after, before = run[-1] + 1, run[0] - 1
        anchor = after if after < len(sit) and seated[after] else before
        if anchor < 0 or anchor >= len(sit) or not seated[anchor]:
            continue
        standing = before if anchor == after else after
        # 0 at the standing end of the run, 1 at the seated end
        u = (run - run[0] + 1) / (len(run) + 1)
        u = u if anchor == after else 1.0 - u
        for k, side in enumerate("LR"):
            seat_feet = _to_world(motion, anchor, rig.head(f"foot.{side}")[anchor])
            target = np.tile(seat_feet, (len(run), 1))
            if 0 <= standing < len(sit):
                stood = _to_world(motion, standing, rig.head(f"foot.{side}")[standing])
                if np.linalg.norm((stood - seat_feet)[:2]) > 0.08:
                    target = _step_over(stood, seat_feet, u, delay=0.2 * k)
            _two_bone_ik(rig, side=side, target=world_to_local(target, run),
                         relative_yaw=np.zeros(len(run)), frames=run)


def _to_world(motion: MotionInput, frame: int, local: np.ndarray) -> np.ndarray:
    """An armature-space point of ``frame`` in world space (the object turns by facing + 90)."""
    angle = np.radians(motion.facing[frame] + 90.0)
    c, s = np.cos(angle), np.sin(angle)
    x, y, z = local
    return np.array([motion.position[frame, 0] + c * x - s * y, motion.position[frame, 1] + s * x + c * y, z])


def _step_over(start: np.ndarray, end: np.ndarray, u: np.ndarray, *, delay: float) -> np.ndarray:
    """A foot stepping from ``start`` to ``end`` early in a transition (``u`` 0..1), lifted on the way."""
    w = np.clip((u - delay) / 0.35, 0.0, 1.0)
    eased = w * w * (3.0 - 2.0 * w)
    points = start + np.outer(eased, end - start)
    points[:, 2] += 0.06 * np.sin(np.pi * w)
    return points


def _two_bone_ik(rig: _Rig, *, side: str, target: np.ndarray, relative_yaw: np.ndarray,
                 frames: np.ndarray, pitch: np.ndarray | None = None) -> None:
    """Hip, knee, ankle: the ankle on ``target`` with the knee bending towards the toes, the foot
    turned to its yaw and pitched onto its toes by ``pitch`` (radians, heel up)."""
    thigh, shin, foot = (f"{bone}.{side}" for bone in ("upperleg01", "lowerleg01", "foot"))
    rest = {name: rig.rest[name][:3, 3] for name in (thigh, shin, foot)}
    upper = float(np.linalg.norm(rest[shin] - rest[thigh]))
    lower = float(np.linalg.norm(rest[foot] - rest[shin]))
    hip = rig.head(thigh)[frames]
    reach = target - hip
    length = np.linalg.norm(reach, axis=1)
    u = reach / np.maximum(length, 1e-9)[:, None]
    d = np.clip(length, abs(upper - lower) + 1e-4, (upper + lower) * (1.0 - 1e-5))
    half = relative_yaw / 2.0  # the knee points between the body's forward and the foot's
    pole = np.stack([np.sin(half), -np.cos(half), np.zeros_like(half)], axis=1)
    v = pole - np.einsum("ni,ni->n", pole, u)[:, None] * u
    v /= np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-9)
    cos_a = np.clip((upper ** 2 + d ** 2 - lower ** 2) / (2.0 * upper * d), -1.0, 1.0)
    knee = hip + upper * (cos_a[:, None] * u + np.sqrt(1.0 - cos_a ** 2)[:, None] * v)
    rig.aim(thigh, knee - hip, frames)
    rig.aim(shin, hip + d[:, None] * u - rig.head(shin)[frames], frames)
    flat = rig.matrix(foot)[frames].copy()  # the foot flat on the floor, turned to its yaw
    turn = _axis_angle(np.tile([0.0, 0.0, 1.0], (len(frames), 1)), relative_yaw)
    if pitch is not None and np.any(pitch):
        # Heel up: the foot's forward (-Y turned by its yaw) tips down about the axis up x forward.
        ahead = np.stack([np.sin(relative_yaw), -np.cos(relative_yaw), np.zeros_like(relative_yaw)], axis=1)
        axis = np.cross(np.tile([0.0, 0.0, 1.0], (len(frames), 1)), ahead)
        turn = _axis_angle(axis, pitch) @ turn
    flat[:, :3, :3] = turn @ rig.rest[foot][:3, :3]
    rig.set_world(foot, flat, frames)


def _arm_layer(rig: _Rig, *, motion: MotionInput, weights, library: PoseLibrary, world_to_local) -> None:
    swing = motion.gait.swing * (motion.sit <= 1e-3)
    frames = np.nonzero(np.abs(swing) > 1e-4)[0]
    for side, sign in (("L", -1.0), ("R", 1.0)):  # the right arm goes forward with the left foot
        if len(frames):
            angle = -sign * ARM_SWING * swing[frames]
            rig.rotate(f"upperarm01.{side}", _euler(angle, 0 * angle, 0 * angle), frames)
    for event, weight in weights:
        pose = library.pose(event.pose)
        active = np.nonzero(weight > 1e-4)[0]
        if pose.arms and len(active):
            _gesture_arms(rig, pose=pose, event=event, weight=weight[active], frames=active,
                          fps=motion.fps, world_to_local=world_to_local)


def _gesture_arms(rig: _Rig, *, pose: Pose, event: PoseEvent, weight: np.ndarray, frames: np.ndarray,
                  fps: int, world_to_local) -> None:
    chest = rig.body_frame("spine01", frames)
    for side_name, aim in pose.arms.items():
        side, sign = SIDES[side_name]
        pointing = None
        if aim.aim_at_target and event.target is not None:
            goal = world_to_local(np.tile(event.target, (len(frames), 1)), frames)
            pointing = goal - rig.head(f"upperarm01.{side}")[frames]
        for segment, direction in (("upper", aim.upper), ("lower", aim.lower)):
            if pointing is not None:
                local = pointing
            elif direction is None:
                continue
            else:
                out, forward, up = direction
                local = np.einsum("nij,j->ni", chest, [sign * out, -forward, up])
            part = f"{side_name}.{segment}"
            waves = [_oscillation(pose, part, axis, event, fps, frames.max() + 1)[frames]
                     for axis in ("pitch", "yaw", "roll")]
            if any(np.any(w) for w in waves):
                local = np.einsum("nij,nj->ni", _euler(*waves), local)
            bone = f"{'upperarm01' if segment == 'upper' else 'lowerarm01'}.{side}"
            rig.aim(bone, local, frames, weight)


# --------------------------------------------------------------------------- keys

def keep_frames(values: np.ndarray, tolerance: float = 1e-6) -> np.ndarray:
    """Frames to key: every frame that differs from a neighbour, plus both ends."""
    count = len(values)
    if count <= 2:
        return np.arange(count)
    moving = np.abs(np.diff(values, axis=0)).max(axis=1) > tolerance
    keep = np.zeros(count, dtype=bool)
    keep[[0, -1]] = True
    keep[1:] |= moving
    keep[:-1] |= moving
    return np.nonzero(keep)[0]


def write_curve(action: bpy.types.Action, owner: bpy.types.ID, *, path: str, index: int, group: str,
                frames: np.ndarray, values: np.ndarray, interpolation: int = 1) -> None:
    """Replace one F-curve's keys in bulk (``interpolation``: 0 constant, 1 linear)."""
    curve = action.fcurve_ensure_for_datablock(owner, path, index=index, group_name=group)
    curve.keyframe_points.clear()
    curve.keyframe_points.add(len(frames))
    co = np.empty(2 * len(frames), dtype=np.float32)
    co[0::2], co[1::2] = np.asarray(frames) + 1, values
    curve.keyframe_points.foreach_set("co", co)
    curve.keyframe_points.foreach_set("interpolation", np.full(len(frames), interpolation, np.int32))
    curve.update()


def ensure_action(obj: bpy.types.Object) -> bpy.types.Action:
    if obj.animation_data is None:
        obj.animation_data_create()
    if obj.animation_data.action is None:
        obj.animation_data.action = bpy.data.actions.new(f"{obj.name}_motion")
    return obj.animation_data.action


def _write_keys(armature: bpy.types.Object, rig: _Rig) -> None:
    action = ensure_action(armature)
    for name in rig.keyed:
        bone = armature.pose.bones[name]
        bone.rotation_mode = "QUATERNION"
        quat = rig.quat[name].copy()
        flips = np.einsum("ni,ni->n", quat[1:], quat[:-1]) < 0.0  # no long way round between keys
        sign = np.concatenate([[1.0], np.where(np.cumsum(flips) % 2 == 1, -1.0, 1.0)])
        quat *= sign[:, None]
        frames = keep_frames(quat)
        path = f'pose.bones["{name}"]'
        for k in range(4):
            write_curve(action, armature, path=f"{path}.rotation_quaternion", index=k, group=name,
                        frames=frames, values=quat[frames, k])
        if name == "root":
            frames = keep_frames(rig.loc[name])
            for k in range(3):
                write_curve(action, armature, path=f"{path}.location", index=k, group=name,
                            frames=frames, values=rig.loc[name][frames, k])


# --------------------------------------------------------------------------- sampling

def sample_feet(*, scene: bpy.types.Scene, armatures: dict[str, bpy.types.Object], frames,
                toes: bool = False) -> dict[str, np.ndarray]:
    """World positions of the ankles (F, 2, 3: left, right) evaluated from the posed armatures.

    Body meshes' Armature modifiers are off while sampling (only bones are evaluated), and
    restored after, as is the scene's current frame.

    Args:
        scene: the scene to step through.
        armatures: character id -> armature object.
        frames: film frames (1-based) to sample.
        toes: also return the balls of the feet: (F, 4, 3) left ankle, right ankle, left toe, right toe.
    """
    frames = [int(f) for f in frames]
    modifiers = [m for arm in armatures.values() for child in arm.children
                 for m in child.modifiers if m.type == "ARMATURE" and m.show_viewport]
    points = ["foot.L", "foot.R"] + (["toe2-1.L", "toe2-1.R"] if toes else [])
    out = {cid: np.empty((len(frames), len(points), 3)) for cid in armatures}
    current = scene.frame_current
    for modifier in modifiers:
        modifier.show_viewport = False
    try:
        for i, frame in enumerate(frames):
            scene.frame_set(frame)
            for cid, arm in armatures.items():
                world = np.array(arm.matrix_world)
                heads = np.array([list(arm.pose.bones[p].head) + [1.0] for p in points])
                out[cid][i] = (heads @ world.T)[:, :3]
    finally:
        for modifier in modifiers:
            modifier.show_viewport = True
        scene.frame_set(current)
    return out
