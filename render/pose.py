"""OpenPose-style 2D pose: keypoint sets, projection, occlusion and drawing (numpy + Pillow, no bpy).

Keypoints per character, in OpenPose's order:
- ``body``: COCO-18 (nose, neck, right shoulder/elbow/wrist, left shoulder/elbow/wrist,
  right hip/knee/ankle, left hip/knee/ankle, right eye, left eye, right ear, left ear);
- ``hand_right``, ``hand_left``: 21 each (wrist; thumb CMC, MCP, IP, tip; then index, middle,
  ring and little finger MCP, PIP, DIP, tip);
- ``face``: 70 (the 68 iBUG landmarks and the two pupils).
"Right" is the character's own right.

Pixel coordinates have their origin at the top-left corner of the image, x right, y down;
pixel (i, j) covers [i, i+1) x [j, j+1). Visibility follows COCO: 0 outside the frame (or
behind the camera), 1 in frame but hidden behind a nearer surface, 2 visible.

Drawing follows ``controlnet_aux``'s OpenPose renderer: limbs as filled ellipses 4 pixels
thick at 60 % of the limb colour, joints as discs of radius 4, hand bones 2 pixels wide in
HSV-rainbow colours with blue joints, face points as white discs of radius 3, all on black.
A limb is drawn only when both its joints are visible.
"""

from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

BODY = ("nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
        "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear")
HAND = ("wrist", "thumb_cmc", "thumb_mcp", "thumb_ip", "thumb_tip",
        *(f"{finger}_{joint}" for finger in ("index", "middle", "ring", "little")
          for joint in ("mcp", "pip", "dip", "tip")))
FACE_COUNT = 70
GROUPS = ("body", "hand_right", "hand_left", "face")
GROUP_SIZES = {"body": len(BODY), "hand_right": len(HAND), "hand_left": len(HAND), "face": FACE_COUNT}

BODY_LIMBS = ((1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10), (1, 11),
              (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17))
"""OpenPose's limb sequence (0-based); limb i is drawn in ``BODY_COLOURS[i]``."""
BODY_COLOURS = ((255, 0, 0), (255, 85, 0), (255, 170, 0), (255, 255, 0), (170, 255, 0), (85, 255, 0),
                (0, 255, 0), (0, 255, 85), (0, 255, 170), (0, 255, 255), (0, 170, 255), (0, 85, 255),
                (0, 0, 255), (85, 0, 255), (170, 0, 255), (255, 0, 255), (255, 0, 170), (255, 0, 85))
HAND_EDGES = ((0, 1), (1, 2), (2, 3), (3, 4), (0, 5), (5, 6), (6, 7), (7, 8), (0, 9), (9, 10), (10, 11),
              (11, 12), (0, 13), (13, 14), (14, 15), (15, 16), (0, 17), (17, 18), (18, 19), (19, 20))
HAND_COLOURS = tuple(tuple(int(round(c * 255)) for c in colorsys.hsv_to_rgb(i / len(HAND_EDGES), 1.0, 1.0))
                     for i in range(len(HAND_EDGES)))
STICK_WIDTH = 4
JOINT_RADIUS = 4
HAND_WIDTH = 2
FACE_RADIUS = 3

# How far behind the visible surface a keypoint may lie and still count as visible (metres):
# body joints sit inside the body, face and finger points on its surface.
BODY_TOLERANCE = (0.04, 0.12, 0.12, 0.09, 0.06, 0.12, 0.09, 0.06, 0.15, 0.10, 0.08, 0.15, 0.10, 0.08,
                  0.04, 0.04, 0.05, 0.05)
HAND_TOLERANCE = 0.035
FACE_TOLERANCE = 0.03


def tolerances() -> dict[str, np.ndarray]:
    return {"body": np.array(BODY_TOLERANCE), "hand_right": np.full(len(HAND), HAND_TOLERANCE),
            "hand_left": np.full(len(HAND), HAND_TOLERANCE), "face": np.full(FACE_COUNT, FACE_TOLERANCE)}


# --------------------------------------------------------------------------- the face

def face_template() -> np.ndarray:
    """The 70 face keypoints on a frontal face, (70, 2), in units of the distance between the
    eye centres, origin midway between the eyes, x towards the character's left, y down."""
    points = []
    for i in range(17):  # jaw: right ear level, round the chin, to the left ear level
        theta = math.pi * i / 16
        points.append((-1.08 * math.cos(theta), 0.25 + 1.45 * math.sin(theta) ** 0.9))
    for side in (-1, 1):  # eyebrows, each from the outside in on the right, inside out on the left
        xs = np.linspace(-0.95, -0.15, 5) if side < 0 else np.linspace(0.15, 0.95, 5)
        for x in xs:
            points.append((float(x), -0.32 - 0.1 * math.sin(math.pi * (abs(x) - 0.15) / 0.8)))
    points += [(0.0, 0.05), (0.0, 0.22), (0.0, 0.4), (0.0, 0.58)]  # nose bridge to tip
    points += [(-0.24, 0.7), (-0.12, 0.74), (0.0, 0.76), (0.12, 0.74), (0.24, 0.7)]  # nostrils
    for centre in (-0.5, 0.5):  # eyes: outer corner (right eye) / inner corner (left eye) first
        ring = [(-0.25, 0.0), (-0.09, -0.07), (0.09, -0.07), (0.25, 0.0), (0.09, 0.06), (-0.09, 0.06)]
        points += [(centre + x, y) for x, y in ring]
    points += [(-0.4, 1.05), (-0.25, 0.97), (-0.1, 0.93), (0.0, 0.95), (0.1, 0.93), (0.25, 0.97),
               (0.4, 1.05), (0.25, 1.15), (0.1, 1.19), (0.0, 1.2), (-0.1, 1.19), (-0.25, 1.15)]  # outer lip
    points += [(-0.32, 1.05), (-0.1, 1.02), (0.0, 1.02), (0.1, 1.02), (0.32, 1.05), (0.1, 1.08),
               (0.0, 1.08), (-0.1, 1.08)]  # inner lip
    points += [(-0.5, 0.0), (0.5, 0.0)]  # pupils
    return np.array(points, dtype=float)


# --------------------------------------------------------------------------- projection

@dataclass(frozen=True)
class Camera:
    """A pinhole camera as Blender renders it (horizontal sensor fit, no lens shift)."""

    world_from_camera: np.ndarray  # (4,4); the camera looks down its -Z, +Y up
    focal_mm: float
    sensor_mm: float
    width: int
    height: int

    @property
    def fx(self) -> float:
        return self.focal_mm / self.sensor_mm * self.width

    def intrinsics(self) -> list[list[float]]:
        """K for pixel coordinates with the origin at the image's top-left corner, y down."""
        return [[self.fx, 0.0, self.width / 2.0], [0.0, self.fx, self.height / 2.0], [0.0, 0.0, 1.0]]

    def project(self, points: np.ndarray) -> np.ndarray:
        """World points (N,3) to (N,3): pixel x, pixel y, planar depth in metres (<= 0: behind)."""
        matrix = np.asarray(self.world_from_camera, dtype=float)
        local = (np.asarray(points, dtype=float) - matrix[:3, 3]) @ matrix[:3, :3]
        depth = -local[:, 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            x = self.width / 2.0 + self.fx * local[:, 0] / depth
            y = self.height / 2.0 - self.fx * local[:, 1] / depth
        return np.stack([x, y, depth], axis=1)


def visibility(projected: np.ndarray, depth_pass: np.ndarray, tolerance: np.ndarray,
               window: int = 1) -> np.ndarray:
    """COCO visibility (0, 1, 2) of projected keypoints against a depth pass.

    A keypoint in frame is visible when, somewhere in the (2*window+1)^2 pixels around it, the
    rendered surface is no nearer than ``tolerance`` in front of it.
    """
    x, y, z = projected[:, 0], projected[:, 1], projected[:, 2]
    finite = np.isfinite(x) & np.isfinite(y)
    height, width = depth_pass.shape
    result = np.zeros(len(projected), dtype=np.int8)
    for k in range(len(projected)):
        if not finite[k] or z[k] <= 0:
            continue
        col, row = int(math.floor(x[k])), int(math.floor(y[k]))
        if not (0 <= col < width and 0 <= row < height):
            continue
        patch = depth_pass[max(0, row - window):row + window + 1, max(0, col - window):col + window + 1]
        result[k] = 2 if float(np.max(patch)) >= z[k] - tolerance[k] else 1
    return result


def in_frame(projected: np.ndarray, width: int, height: int) -> np.ndarray:
    x, y, z = projected[:, 0], projected[:, 1], projected[:, 2]
    with np.errstate(invalid="ignore"):
        return np.isfinite(x) & np.isfinite(y) & (z > 0) & (x >= 0) & (x < width) & (y >= 0) & (y < height)


def keypoint_visibility(projected: np.ndarray, depth_pass: np.ndarray | None, tolerance: np.ndarray,
                        width: int, height: int) -> np.ndarray:
    """``visibility`` with a depth pass; in-frame keypoints are 2 without one."""
    if depth_pass is None:
        return np.where(in_frame(projected, width, height), 2, 0).astype(np.int8)
    return visibility(projected, depth_pass, tolerance)


# --------------------------------------------------------------------------- drawing

def _ellipse(cx: float, cy: float, half_length: float, half_width: float, angle: float) -> list[tuple]:
    t = np.radians(np.arange(0, 361, 10))
    ca, sa = math.cos(angle), math.sin(angle)
    ex, ey = half_length * np.cos(t), half_width * np.sin(t)
    return list(zip(cx + ex * ca - ey * sa, cy + ex * sa + ey * ca))


def _pixel(point) -> tuple[float, float]:
    """Top-left-origin continuous coordinates to Pillow's pixel-centre coordinates."""
    return float(point[0]) - 0.5, float(point[1]) - 0.5


def _disc(draw: ImageDraw.ImageDraw, point, radius: float, colour) -> None:
    x, y = _pixel(point)
    draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=tuple(colour))


def draw_body(draw: ImageDraw.ImageDraw, points: np.ndarray, visible: np.ndarray) -> None:
    for (a, b), colour in zip(BODY_LIMBS, BODY_COLOURS):
        if visible[a] == 2 and visible[b] == 2:
            (xa, ya), (xb, yb) = _pixel(points[a]), _pixel(points[b])
            length = math.hypot(xb - xa, yb - ya)
            polygon = _ellipse((xa + xb) / 2, (ya + yb) / 2, length / 2, STICK_WIDTH,
                               math.atan2(yb - ya, xb - xa))
            draw.polygon(polygon, fill=tuple(int(c * 0.6) for c in colour))
    for k, colour in enumerate(BODY_COLOURS):
        if visible[k] == 2:
            _disc(draw, points[k], JOINT_RADIUS, colour)


def draw_hand(draw: ImageDraw.ImageDraw, points: np.ndarray, visible: np.ndarray) -> None:
    for (a, b), colour in zip(HAND_EDGES, HAND_COLOURS):
        if visible[a] == 2 and visible[b] == 2:
            draw.line([_pixel(points[a]), _pixel(points[b])], fill=colour, width=HAND_WIDTH)
    for k in range(len(points)):
        if visible[k] == 2:
            _disc(draw, points[k], JOINT_RADIUS, (0, 0, 255))


def draw_face(draw: ImageDraw.ImageDraw, points: np.ndarray, visible: np.ndarray) -> None:
    for k in range(len(points)):
        if visible[k] == 2:
            _disc(draw, points[k], FACE_RADIUS, (255, 255, 255))


def draw_pose(width: int, height: int, people: list[dict[str, tuple[np.ndarray, np.ndarray]]]) -> np.ndarray:
    """Draw every person's keypoints on black.

    Args:
        width, height: the image size.
        people: per person, for each group of ``GROUPS`` present, ``(points (N,2), visibility (N,))``.

    Returns:
        (H,W,3) uint8.
    """
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for person in people:
        if "body" in person:
            draw_body(draw, *person["body"])
    for person in people:
        for group in ("hand_right", "hand_left"):
            if group in person:
                draw_hand(draw, *person[group])
        if "face" in person:
            draw_face(draw, *person["face"])
    return np.asarray(image)
