"""Keypoints in 3D from a character's rig (bpy): OpenPose body, hands and face.

Body and hand keypoints are bone joints of the anny rig. The rig has no face bones, so the
face keypoints (and the nose and ears of the body set) are found once on the rest-pose body
mesh: ``pose.face_template`` is scaled to the distance between the eye bones, laid over the
face and dropped onto the frontmost skin under each point; the points then ride on the head
bone, so they follow every head turn exactly (the chin and lower lip on the jaw, the pupils on
the eyes).
"""

from __future__ import annotations

import bpy
import numpy as np

from ..characters.jaw import JAW, JAW_KEYPOINTS
from .pose import face_template

_FINGERS = ("finger2", "finger3", "finger4", "finger5")  # index, middle, ring, little
EAR_BAND = (-0.7, 0.2)  # ear height around the eyes, in eye distances


def _homogeneous(points: np.ndarray) -> np.ndarray:
    return np.concatenate([points, np.ones((len(points), 1))], axis=1)


def _face_rest_points(armature: bpy.types.Object) -> np.ndarray:
    """The 70 face keypoints and the two ears (right, left) on the rest mesh, armature space (72,3)."""
    bones = armature.data.bones
    eye_r, eye_l = np.array(bones["eye.R"].head_local), np.array(bones["eye.L"].head_local)
    middle = (eye_r + eye_l) / 2.0
    spacing = float(np.linalg.norm(eye_l - eye_r))
    body = next((c for c in armature.children if c.type == "MESH"), None)
    if body is None:
        raise ValueError(f"character {armature.name} has no body mesh")
    count = len(body.data.vertices)
    vertices = np.empty(count * 3, dtype=np.float64)
    body.data.vertices.foreach_get("co", vertices)
    vertices = _homogeneous(vertices.reshape(count, 3)) @ np.array(body.matrix_local).T
    vertices = vertices[:, :3]
    offset = (vertices - middle) / spacing
    near_head = ((np.abs(offset[:, 0]) < 2.2) & (offset[:, 2] > -2.3) & (offset[:, 2] < 1.5)
                 & (offset[:, 1] < 1.5))
    head = vertices[near_head]
    local = offset[near_head]
    points = []
    for tx, ty in face_template():
        # x towards the character's left is +X; image y down is -Z; the face looks down -Y.
        target = np.array([tx, -ty])
        distance = np.hypot(local[:, 0] - target[0], local[:, 2] - target[1])
        for radius in (0.12, 0.25, 0.5, 1.0):
            close = distance < radius
            if close.any():
                break
        front = head[close][np.argmin(head[close][:, 1])] if close.any() else middle
        points.append([middle[0] + tx * spacing, front[1], middle[2] - ty * spacing])
    band = (local[:, 2] > EAR_BAND[0]) & (local[:, 2] < EAR_BAND[1]) & (local[:, 1] > 0.5)
    for side in (-1.0, 1.0):
        lateral = head[band & (local[:, 0] * side > 0)]
        if len(lateral):
            points.append(lateral[np.argmax(lateral[:, 0] * side)])
        else:
            points.append(middle + np.array([side * 1.2 * spacing, 1.2 * spacing, -0.3 * spacing]))
    return np.array(points, dtype=float)


class RigKeypoints:
    """The OpenPose keypoints of one character, in world space at the current frame."""

    def __init__(self, armature: bpy.types.Object) -> None:
        self.armature = armature
        head_rest = np.array(armature.data.bones["head"].matrix_local)
        rest = _face_rest_points(armature)
        self.head_local = (_homogeneous(rest) @ np.linalg.inv(head_rest).T)[:, :3]
        # The chin and lower lip ride on the jaw and the pupils on the eyes, where the rig has them.
        self.riders = []
        for bone, points in ((JAW, JAW_KEYPOINTS), ("eye.R", (68,)), ("eye.L", (69,))):
            if bone in armature.data.bones:
                bone_rest = np.array(armature.data.bones[bone].matrix_local)
                local = (_homogeneous(rest[list(points)]) @ np.linalg.inv(bone_rest).T)[:, :3]
                self.riders.append((bone, list(points), local))

    def world(self) -> dict[str, np.ndarray]:
        """``body`` (18,3), ``hand_right`` and ``hand_left`` (21,3), ``face`` (70,3), metres."""
        world = np.array(self.armature.matrix_world)
        bones = self.armature.pose.bones
        face_arm = (_homogeneous(self.head_local) @ np.array(bones["head"].matrix).T)[:, :3]
        for bone, points, local in self.riders:
            face_arm[points] = (_homogeneous(local) @ np.array(bones[bone].matrix).T)[:, :3]

        def head(name: str) -> np.ndarray:
            return np.array(bones[name].head)

        def side(s: str) -> list[np.ndarray]:
            return [head(f"upperarm01.{s}"), head(f"lowerarm01.{s}"), head(f"wrist.{s}")]

        def leg(s: str) -> list[np.ndarray]:
            return [head(f"upperleg01.{s}"), head(f"lowerleg01.{s}"), head(f"foot.{s}")]

        def hand(s: str) -> list[np.ndarray]:
            points = [head(f"wrist.{s}")]
            points += [head(f"finger1-{i}.{s}") for i in (1, 2, 3)] + [np.array(bones[f"finger1-3.{s}"].tail)]
            for finger in _FINGERS:
                points += [head(f"{finger}-{i}.{s}") for i in (1, 2, 3)]
                points.append(np.array(bones[f"{finger}-3.{s}"].tail))
            return points

        neck = (head("upperarm01.R") + head("upperarm01.L")) / 2.0
        body = [face_arm[30], neck, *side("R"), *side("L"), *leg("R"), *leg("L"),
                face_arm[68], face_arm[69], face_arm[70], face_arm[71]]
        groups = {"body": np.array(body), "hand_right": np.array(hand("R")),
                  "hand_left": np.array(hand("L")), "face": face_arm[:70]}
        return {name: (_homogeneous(points) @ world.T)[:, :3] for name, points in groups.items()}
