"""Footsteps from a trajectory: where each ankle is on every frame, with planted feet (pure numpy).

The input is whatever per-frame root path blocking produced (straight, curved, starts, stops,
turns in place). A foot in stance keeps its ankle target exactly fixed in world space; steps
alternate left and right, each landing where that foot's neutral spot beside the body will be in
the middle of its coming stance (so the body passes over it), at a cadence set by the speed and
the body (shorter, quicker steps for short legs, a slower walk for elders, a quicker cadence
when the stride would be too long: a hurry). Turning without moving makes small steps too.

World axes are the plan's: X, Y on the floor, Z up; facing in degrees, 0 = +X, 90 = +Y; a
character's left is 90 degrees counter-clockwise from its facing. Frame index 0 = film frame 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

GRAVITY = 9.81
MOVING_SPEED = 0.05          # m/s: below this the root is standing (turning in place at most)
STEP_POSITION_ERROR = 0.03   # m a foot may lie off its neutral spot before it steps
STEP_YAW_ERROR = 12.0        # degrees a foot may lie off the body's facing before it steps
SWING_SHARE = 0.88           # share of a step's time the foot is in the air (the rest: double support)
ADJUST_STEP_SECONDS = 0.5    # step time for turning in place and small adjustments
REACH = 0.985                # share of the leg length a stance leg may stretch to
TELEPORT = 0.5               # m in one frame: a cut in the path (entering, another set)
HEEL_OFF_SHARE = 0.4         # share of a stance, at its end, in which the heel rises (the toe stays)
HEEL_OFF_DEGREES = 28.0      # how far the foot pitches onto its toes at toe-off, at a brisk walk


@dataclass(frozen=True)
class GaitBody:
    """The dimensions of one body that walking needs (metres, rest pose, standing).

    Attributes:
        hip_height: hip joints above the floor.
        hip_half_width: each hip joint's distance from the body's midline.
        stance_half_width: each ankle's distance from the midline, standing at rest.
        ankle_height: ankle joints above the floor with the foot flat.
        ankle_forward: how far the ankles sit in front of the hip joints.
        leg_length: hip to knee plus knee to ankle.
        age_years: the character's age (elders walk slower, with lower, shorter steps).
        toe_forward: how far the ball of the foot lies in front of the ankle.
        toe_height: the ball of the foot's joint above the floor.
    """

    hip_height: float
    hip_half_width: float
    stance_half_width: float
    ankle_height: float
    leg_length: float
    ankle_forward: float = 0.0
    age_years: float = 35.0
    toe_forward: float = 0.13
    toe_height: float = 0.0


@dataclass
class Gait:
    """Per-frame leg targets (F frames).

    Attributes:
        ankles: (F, 2, 3) world ankle targets, left then right.
        foot_yaw: (F, 2) degrees each foot points (same convention as facing).
        planted: (F, 2) True while a foot is on the floor: its contact point does not move at all
            (the ankle while the foot is flat; the ball of the foot once the heel rises).
        contact: (F, 2, 3) the ball of each foot on the floor (world): fixed while planted.
        foot_pitch: (F, 2) degrees each foot is pitched onto its toes (0: flat).
        pelvis: (F,) metres added to the hip height (<= 0: the bob, and room for long strides).
        swing: (F,) -1..1, how far the left foot is ahead of the right (arms swing opposite).
        active: (F,) True where the legs walk or stand (present and not seated).
    """

    ankles: np.ndarray
    foot_yaw: np.ndarray
    planted: np.ndarray
    pelvis: np.ndarray
    swing: np.ndarray
    active: np.ndarray
    foot_pitch: np.ndarray | None = None
    contact: np.ndarray | None = None


def cadence(*, speed: float, body: GaitBody) -> float:
    """Steps per second for a walk at ``speed`` m/s.

    Froude scaling: ``c = 0.9 * sqrt(g / L) * sqrt(v / sqrt(g L))`` gives about 2 steps/s and
    0.67 m steps for an adult at 1.35 m/s, and quicker, shorter steps for a child's legs.
    Elders step 8 % slower; a step longer than the body allows (0.8 leg lengths, 0.65 for
    elders) raises the cadence instead: a hurry.
    """
    legs = max(body.leg_length, 0.3)
    froude = max(speed, 1e-3) / math.sqrt(GRAVITY * legs)
    steps = 0.9 * math.sqrt(GRAVITY / legs) * math.sqrt(froude)
    if body.age_years >= 65.0:
        steps *= 0.92
    longest = legs * (0.65 if body.age_years >= 65.0 else 0.8)
    steps = max(steps, speed / longest)
    return float(min(max(steps, 1.3), 3.6))


def preferred_speed(*, body: GaitBody) -> float:
    """A comfortable walking speed (m/s) for the body: about 1.3 for adults, slower for elders."""
    speed = 0.55 * math.sqrt(GRAVITY * max(body.leg_length, 0.3)) * 0.9
    if body.age_years >= 65.0:
        speed *= 0.75
    return float(speed)


def plan_gait(*, position: np.ndarray, facing: np.ndarray, present: np.ndarray, sit: np.ndarray,
              body: GaitBody, fps: int) -> Gait:
    """Plan the footsteps of one character over a whole track.

    Args:
        position: (F, 2) root on the floor, world metres, per frame.
        facing: (F,) degrees, unwrapped (no 360-degree jumps).
        present: (F,) bool, on stage.
        sit: (F,) 0 standing .. 1 seated; the legs walk only where it is 0.
        body: the body's dimensions.
        fps: frames per second of the track.

    Returns:
        The gait; outside active frames the ankles rest at their neutral spots, not planted.
    """
    position = np.asarray(position, dtype=float)
    facing = np.asarray(facing, dtype=float)
    count = len(position)
    active = np.asarray(present, dtype=bool) & (np.asarray(sit, dtype=float) < 1e-3)
    speed = _speed(position, fps)
    # Steps are timed by the speed just ahead, so an accelerating body does not outrun its feet.
    window = max(1, int(round(0.5 * fps)))
    ahead = np.array([speed[i:i + window].max() for i in range(count)]) if count else speed
    neutral, neutral_yaw = _neutral(position=position, facing=facing, speed=speed, body=body)
    gait = Gait(ankles=neutral.copy(), foot_yaw=neutral_yaw.copy(), planted=np.zeros((count, 2), bool),
                pelvis=np.zeros(count), swing=np.zeros(count), active=active, foot_pitch=np.zeros((count, 2)))
    for first, last in _segments(active, position):
        _walk_segment(gait=gait, neutral=neutral, neutral_yaw=neutral_yaw, speed=ahead, body=body,
                      fps=fps, first=first, last=last)
    gait.contact = _balls(gait=gait, body=body)
    _toe_roll(gait=gait, speed=speed, body=body)
    gait.pelvis = _pelvis(gait=gait, position=position, facing=facing, speed=speed, body=body)
    gait.swing = _swing(gait=gait, facing=facing, speed=speed, body=body)
    return gait


# --------------------------------------------------------------------------- the path

def _speed(position: np.ndarray, fps: int) -> np.ndarray:
    """Root speed (m/s) per frame, smoothed over about a quarter second."""
    if len(position) < 2:
        return np.zeros(len(position))
    step = np.linalg.norm(np.diff(position, axis=0), axis=1)
    step[step > TELEPORT] = 0.0
    raw = np.concatenate([[step[0]], (step[:-1] + step[1:]) / 2.0, [step[-1]]]) * fps
    return _box(raw, max(1, int(round(0.12 * fps))))


def _box(values: np.ndarray, radius: int) -> np.ndarray:
    kernel = np.ones(2 * radius + 1) / (2 * radius + 1)
    padded = np.pad(values, radius, mode="edge")
    return np.convolve(padded, kernel, mode="valid")


def _neutral(*, position: np.ndarray, facing: np.ndarray, speed: np.ndarray,
             body: GaitBody) -> tuple[np.ndarray, np.ndarray]:
    """Each foot's neutral ankle spot beside the root (F, 2, 3), and its yaw (F, 2)."""
    angle = np.radians(facing)
    forward = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    left = np.stack([-np.sin(angle), np.cos(angle)], axis=1)
    # Walking feet track closer to the midline than a relaxed stance.
    width = np.interp(speed, [0.0, 0.6], [body.stance_half_width, max(body.hip_half_width, 0.05)])
    ankles = np.empty((len(position), 2, 3))
    for foot, side in enumerate((1.0, -1.0)):
        ankles[:, foot, :2] = position + forward * body.ankle_forward + left * (side * width)[:, None]
        ankles[:, foot, 2] = body.ankle_height
    return ankles, np.repeat(facing[:, None], 2, axis=1)


def _segments(active: np.ndarray, position: np.ndarray) -> list[tuple[int, int]]:
    """Runs of active frames (first, last inclusive), cut where the root jumps."""
    jumps = np.zeros(len(active), dtype=bool)
    if len(active) > 1:
        jumps[1:] = np.linalg.norm(np.diff(position, axis=0), axis=1) > TELEPORT
    runs, start = [], None
    for index, on in enumerate(active):
        if start is not None and (not on or jumps[index]):
            runs.append((start, index - 1))
            start = None
        if on and start is None:
            start = index
    if start is not None:
        runs.append((start, len(active) - 1))
    return runs


# --------------------------------------------------------------------------- the steps

@dataclass
class _Swing:
    foot: int
    start: int
    land: int
    source: np.ndarray
    target: np.ndarray
    source_yaw: float
    target_yaw: float


def _walk_segment(*, gait: Gait, neutral: np.ndarray, neutral_yaw: np.ndarray, speed: np.ndarray,
                  body: GaitBody, fps: int, first: int, last: int) -> None:
    """Simulate stance and swing frame by frame over one active run."""
    planted = [neutral[first, 0].copy(), neutral[first, 1].copy()]
    yaw = [float(neutral_yaw[first, 0]), float(neutral_yaw[first, 1])]
    swing: _Swing | None = None
    last_lift, last_foot = -10 ** 9, 1
    for frame in range(first, last + 1):
        if swing is not None and frame >= swing.land:
            planted[swing.foot], yaw[swing.foot] = swing.target, swing.target_yaw
            swing = None
        step_frames = _step_frames(speed=float(speed[frame]), body=body, fps=fps)
        if swing is None and frame - last_lift >= step_frames:
            swing = _next_step(planted=planted, yaw=yaw, neutral=neutral, neutral_yaw=neutral_yaw,
                               frame=frame, last=last, step_frames=step_frames, order=(1 - last_foot, last_foot))
            if swing is not None:
                last_lift, last_foot = frame, swing.foot
        for foot in range(2):
            gait.ankles[frame, foot] = planted[foot]
            gait.foot_yaw[frame, foot] = yaw[foot]
            gait.planted[frame, foot] = True
        if swing is not None:
            _swing_pose(gait=gait, swing=swing, frame=frame)


def _step_frames(*, speed: float, body: GaitBody, fps: int) -> int:
    seconds = ADJUST_STEP_SECONDS if speed < MOVING_SPEED else 1.0 / cadence(speed=speed, body=body)
    return max(4, int(round(seconds * fps)))


def _next_step(*, planted: list[np.ndarray], yaw: list[float], neutral: np.ndarray,
               neutral_yaw: np.ndarray, frame: int, last: int, step_frames: int,
               order: tuple[int, int]) -> _Swing | None:
    """The step to start at ``frame``: the other foot first, if either is off its spot."""
    air = max(3, int(round(SWING_SHARE * step_frames)))
    land = min(frame + air, last)
    if land <= frame:
        return None
    # Land where the neutral spot will be mid-stance, so the body passes over the foot.
    aim = min(land + int(round(0.5 * step_frames)), last)
    for foot in order:
        target = neutral[aim, foot]
        yaw_error = abs((neutral_yaw[aim, foot] - yaw[foot] + 180.0) % 360.0 - 180.0)
        if np.linalg.norm(target - planted[foot]) > STEP_POSITION_ERROR or yaw_error > STEP_YAW_ERROR:
            return _Swing(foot=foot, start=frame, land=land, source=planted[foot].copy(),
                          target=target.copy(), source_yaw=yaw[foot],
                          target_yaw=float(neutral_yaw[aim, foot]))
    return None


def _swing_pose(*, gait: Gait, swing: _Swing, frame: int) -> None:
    """The swinging foot: eased along the floor, lifted on a sine arch."""
    u = (frame - swing.start) / (swing.land - swing.start)
    eased = u * u * (3.0 - 2.0 * u)
    distance = float(np.linalg.norm(swing.target[:2] - swing.source[:2]))
    lift = min(max(0.25 * distance, 0.015), 0.07) * math.sin(math.pi * u)
    point = swing.source + (swing.target - swing.source) * eased
    point[2] += lift
    gait.ankles[frame, swing.foot] = point
    gait.foot_yaw[frame, swing.foot] = swing.source_yaw + (swing.target_yaw - swing.source_yaw) * eased
    gait.planted[frame, swing.foot] = u <= 0.0


# --------------------------------------------------------------------------- heel-off

def _balls(*, gait: Gait, body: GaitBody) -> np.ndarray:
    """The ball of each foot on the floor, from the flat-footed ankles and their yaw."""
    yaw = np.radians(gait.foot_yaw)
    balls = gait.ankles.copy()
    balls[..., 0] += np.cos(yaw) * body.toe_forward
    balls[..., 1] += np.sin(yaw) * body.toe_forward
    balls[..., 2] = body.toe_height
    return balls


def _toe_roll(*, gait: Gait, speed: np.ndarray, body: GaitBody) -> None:
    """Roll each foot onto its toes at the end of a walking stance and through toe-off.

    The ankle turns about the ball of the foot, which stays exactly where it is: the trailing
    leg gets longer, so the hips need not drop to reach a long stride (a straight-legged walk
    instead of a crouch). The rise carries on into the first third of the swing, fading out.
    """
    for foot in range(2):
        lifts = np.nonzero(gait.planted[:-1, foot] & ~gait.planted[1:, foot] & gait.active[1:])[0]
        for lift in lifts:
            start = lift
            while start > 0 and gait.planted[start - 1, foot]:
                start -= 1
            stance = lift - start + 1
            roll = max(2, int(round(HEEL_OFF_SHARE * stance)))
            brisk = float(np.clip(speed[lift] / 1.2, 0.0, 1.0))
            if brisk <= 0.05 or stance < 4:
                continue
            flat = gait.ankles[lift, foot].copy()
            yaw = math.radians(gait.foot_yaw[lift, foot])
            forward = np.array([math.cos(yaw), math.sin(yaw), 0.0])
            toe = flat + forward * body.toe_forward
            toe[2] = body.toe_height
            peak = HEEL_OFF_DEGREES * brisk
            frames = np.arange(lift - roll + 1, lift + 1)
            ramp = (frames - (lift - roll)) / roll
            _pitch_about(gait, foot, frames, toe, forward, peak * ramp * ramp)
            _fade_into_swing(gait, foot, lift, flat, peak)


def _roll(along: np.ndarray, up: np.ndarray, degrees: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A point at (``along`` the foot, ``up``) from the ball of the foot, once the foot pitches
    heel-up by ``degrees`` about it (the ankle, behind the ball, rises and comes forward)."""
    angle = np.radians(degrees)
    return along * np.cos(angle) + up * np.sin(angle), -along * np.sin(angle) + up * np.cos(angle)


def _pitch_about(gait: Gait, foot: int, frames: np.ndarray, pivot: np.ndarray, forward: np.ndarray,
                 degrees: np.ndarray) -> None:
    """Put the ankle where pitching the foot by ``degrees`` about ``pivot`` (its ball) takes it."""
    offset = gait.ankles[frames, foot] - pivot
    along = offset @ forward
    new_along, new_up = _roll(along, offset[:, 2], degrees)
    side = offset - np.outer(along, forward)
    side[:, 2] = 0.0
    gait.ankles[frames, foot] = pivot + side + np.outer(new_along, forward)
    gait.ankles[frames, foot, 2] = pivot[2] + new_up
    gait.foot_pitch[frames, foot] = degrees


def _fade_into_swing(gait: Gait, foot: int, lift: int, flat: np.ndarray, peak: float) -> None:
    """Carry the toe-off pose (ankle lifted by ``gait.ankles[lift] - flat``) into the swing and
    fade it out over its first third."""
    land = lift + 1
    while land < len(gait.planted) and not gait.planted[land, foot] and gait.active[land]:
        land += 1
    swing = np.arange(lift + 1, land)
    if not len(swing):
        return
    fade = max(1, len(swing) // 3)
    weights = np.clip(1.0 - (swing - lift) / fade, 0.0, 1.0)
    gait.ankles[swing, foot] += np.outer(weights, gait.ankles[lift, foot] - flat)
    gait.foot_pitch[swing, foot] = peak * weights


# --------------------------------------------------------------------------- the body over the feet

def _pelvis(*, gait: Gait, position: np.ndarray, facing: np.ndarray, speed: np.ndarray,
            body: GaitBody) -> np.ndarray:
    """Lower the hips where a leg could not reach its ankle target, smoothly, plus a soft bob."""
    angle = np.radians(facing)
    left = np.stack([-np.sin(angle), np.cos(angle)], axis=1)
    rest = math.hypot(body.stance_half_width - body.hip_half_width, body.hip_height - body.ankle_height)
    reach = max(REACH * body.leg_length, rest + 1e-4)  # anny's rest legs are nearly straight
    limit = np.zeros(len(position))
    for foot, side in enumerate((1.0, -1.0)):
        hip = position + left * (side * body.hip_half_width)
        horizontal = np.linalg.norm(gait.ankles[:, foot, :2] - hip, axis=1)
        rise = gait.ankles[:, foot, 2] - body.ankle_height
        height = np.sqrt(np.maximum(reach ** 2 - horizontal ** 2, 0.0)) + body.ankle_height + rise
        limit = np.minimum(limit, height - body.hip_height)
    walking = np.clip(speed / 0.6, 0.0, 1.0) * gait.active
    limit = np.minimum(limit, -0.012 * walking)  # knees stay soft while walking
    limit[~gait.active] = 0.0
    radius = 3
    lowest = np.array([limit[max(0, i - radius):i + radius + 1].min() for i in range(len(limit))])
    return _box(lowest, radius) if len(limit) else limit


def _swing(*, gait: Gait, facing: np.ndarray, speed: np.ndarray, body: GaitBody) -> np.ndarray:
    angle = np.radians(facing)
    forward = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    ahead = np.einsum("fi,fi->f", gait.ankles[:, 0, :2] - gait.ankles[:, 1, :2], forward)
    walking = np.clip(speed / 0.5, 0.0, 1.0) * gait.active
    return np.clip(ahead / (0.5 * body.leg_length), -1.0, 1.0) * walking
