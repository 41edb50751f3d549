"""A jaw for rigs that have none (anny's): where it hinges and which skin it carries (numpy only).

anny's rig has eye bones but no jaw, so speech could only move the head. The jaw is placed from
the eyes, in units of the distance between them (as the face keypoints are): the mouth slit
lies about 1.05 eye distances below the eyes and the chin 1.7 (the OpenPose face template);
the hinge sits in front of the ear, 0.9 eye distances behind and 0.6 below the eyes. The skin
below the mouth and in front of the hinge, that the head bone carries, moves to the jaw with a
soft edge, so the lips part and the chin drops without tearing the cheeks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

JAW = "jaw"
"""The bone's name, in every rig that has one."""
MOUTH = 1.05   # eye distances below the eyes: the mouth slit
CHIN = 1.7     # the bottom of the chin
HINGE_BACK, HINGE_DOWN = 0.9, 0.6


@dataclass(frozen=True)
class Jaw:
    head: np.ndarray     # (3,) the hinge (the bone's head), rest pose, armature space
    tail: np.ndarray     # (3,) the chin
    weights: np.ndarray  # (V,) share of each vertex the jaw carries (taken from the head bone)


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def place_jaw(*, vertices: np.ndarray, head_weight: np.ndarray, eye_left: np.ndarray,
              eye_right: np.ndarray) -> Jaw:
    """The jaw of a body in its rest pose (Z up, facing -Y).

    Args:
        vertices: (V, 3) rest vertices, armature space.
        head_weight: (V,) each vertex's skinning weight on the head bone.
        eye_left, eye_right: the eye bones' heads.
    """
    middle = (eye_left + eye_right) / 2.0
    spacing = float(np.linalg.norm(eye_left - eye_right))
    down = (middle[2] - vertices[:, 2]) / spacing
    back = (vertices[:, 1] - middle[1]) / spacing
    side = np.abs(vertices[:, 0] - middle[0]) / spacing
    below_mouth = _smoothstep((down - (MOUTH - 0.1)) / 0.25)
    in_front = 1.0 - _smoothstep((back - 0.35) / 0.55)
    near = (side < 2.0) & (down < CHIN + 0.6)
    weights = np.where(near, below_mouth * in_front * head_weight, 0.0)
    chin_front = vertices[(weights > 0.5), 1].min() if (weights > 0.5).any() else middle[1] - spacing
    hinge = middle + np.array([0.0, HINGE_BACK * spacing, -HINGE_DOWN * spacing])
    chin = np.array([middle[0], chin_front, middle[2] - CHIN * spacing])
    return Jaw(head=hinge, tail=chin, weights=weights.astype(np.float32))


JAW_KEYPOINTS = (*range(5, 12), *range(55, 60), 65, 66, 67)
"""Face keypoints (iBUG 68) the jaw carries: the chin's contour and the lower lip."""
