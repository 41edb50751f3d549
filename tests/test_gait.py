"""Footstep planning (pure numpy): planted feet do not slide, steps alternate, bodies differ."""

from __future__ import annotations

import numpy as np
import pytest

from filmcrew.staging.gait import GaitBody, cadence, plan_gait, preferred_speed

FPS = 24
ADULT = GaitBody(hip_height=0.94, hip_half_width=0.12, stance_half_width=0.19, ankle_height=0.077,
                 leg_length=0.87, age_years=35)
CHILD = GaitBody(hip_height=0.62, hip_half_width=0.08, stance_half_width=0.12, ankle_height=0.05,
                 leg_length=0.57, age_years=8)
ELDER = GaitBody(hip_height=0.94, hip_half_width=0.12, stance_half_width=0.19, ankle_height=0.077,
                 leg_length=0.87, age_years=78)


def _track(points: np.ndarray, facing: np.ndarray):
    count = len(points)
    return dict(position=points, facing=facing, present=np.ones(count, bool), sit=np.zeros(count))


def _straight(*, rest: int = 24, seconds: float = 3.0, metres: float = 3.0):
    walk = int(seconds * FPS)
    t = np.linspace(0.0, 1.0, walk)
    s = metres * t * t * (3 - 2 * t)  # eased start and stop
    x = np.concatenate([np.zeros(rest), s, np.full(rest, metres)])
    points = np.stack([x, np.zeros_like(x)], axis=1)
    return _track(points, np.zeros(len(x)))


def _curve():
    t = np.linspace(0.0, 1.0, 4 * FPS)
    angle = np.pi * t * t * (3 - 2 * t)  # a half circle of radius 1.5 m, easing in and out
    points = np.stack([1.5 * np.sin(angle), 1.5 - 1.5 * np.cos(angle)], axis=1)
    facing = np.degrees(angle)
    pad = 12
    points = np.concatenate([np.repeat(points[:1], pad, 0), points, np.repeat(points[-1:], pad, 0)])
    facing = np.concatenate([np.full(pad, facing[0]), facing, np.full(pad, facing[-1])])
    return _track(points, facing)


def _turn_in_place():
    facing = np.concatenate([np.zeros(12), np.linspace(0.0, 120.0, 18), np.full(30, 120.0)])
    return _track(np.zeros((len(facing), 2)), facing)


def _stance_slide(gait) -> float:
    """Largest movement (m/frame) of the ball of a foot between two frames where it is planted
    in both (the ankle itself rises about the ball as the heel comes off)."""
    both = gait.planted[1:] & gait.planted[:-1]
    moves = np.linalg.norm(np.diff(gait.contact, axis=0), axis=2)
    return float(moves[both].max()) if both.any() else 0.0


@pytest.mark.parametrize("make", [_straight, _curve, _turn_in_place])
def test_planted_feet_do_not_move(make):
    track = make()
    gait = plan_gait(**track, body=ADULT, fps=FPS)
    assert _stance_slide(gait) < 1e-3
    assert gait.planted.any(axis=1).all()  # one foot at least is always on the floor
    steps = _landings(gait)
    assert len(steps) >= 2


def _landings(gait) -> list[int]:
    """The foot (0 left, 1 right) of each step, in order of landing."""
    lands = np.nonzero(gait.planted[1:] & ~gait.planted[:-1])
    order = np.argsort(lands[0], kind="stable")
    return [int(f) for f in lands[1][order]]


def test_steps_alternate_and_the_feet_follow_the_body():
    track = _straight()
    gait = plan_gait(**track, body=ADULT, fps=FPS)
    feet = _landings(gait)
    assert len(feet) >= 4
    assert sum(a == b for a, b in zip(feet, feet[1:], strict=False)) <= 1  # only a final squaring-up step may repeat
    end = track["position"][-1]
    for foot, side in ((0, 1.0), (1, -1.0)):  # both feet end beside the root, left on +Y
        assert gait.ankles[-1, foot, 0] == pytest.approx(end[0], abs=0.05)
        assert np.sign(gait.ankles[-1, foot, 1]) == side
    assert np.all(gait.ankles[..., 2] >= ADULT.ankle_height - 1e-9)  # never below the floor
    assert gait.ankles[..., 2].max() > ADULT.ankle_height + 0.01     # but lifted while swinging
    walking = slice(30, 70)
    assert -0.12 < gait.pelvis[walking].min() < -0.01  # a bob, not a crouch
    assert gait.pelvis[:10].max() == pytest.approx(0.0)
    assert gait.swing[walking].max() > 0.3 and gait.swing[walking].min() < -0.3


def test_stance_legs_can_reach_their_ankles():
    gait = plan_gait(**_straight(metres=4.0, seconds=2.5), body=ADULT, fps=FPS)
    track = _straight(metres=4.0, seconds=2.5)
    hips_z = ADULT.hip_height + gait.pelvis
    for foot, side in ((0, 1.0), (1, -1.0)):
        hip = np.stack([track["position"][:, 0], track["position"][:, 1] + side * ADULT.hip_half_width,
                        hips_z], axis=1)
        reach = np.linalg.norm(gait.ankles[:, foot] - hip, axis=1)
        rest = np.hypot(ADULT.stance_half_width - ADULT.hip_half_width, ADULT.hip_height - ADULT.ankle_height)
        assert reach.max() <= max(0.985 * ADULT.leg_length, rest) + 1e-3


def test_turning_in_place_steps_round_to_the_new_facing():
    gait = plan_gait(**_turn_in_place(), body=ADULT, fps=FPS)
    np.testing.assert_allclose(gait.foot_yaw[-1], 120.0, atol=1e-6)
    left = np.array([-np.sin(np.radians(120)), np.cos(np.radians(120))])
    assert gait.ankles[-1, 0, :2] @ left > 0.1 and gait.ankles[-1, 1, :2] @ left < -0.1


def test_cadence_follows_the_body():
    adult = cadence(speed=1.35, body=ADULT)
    assert 1.8 < adult < 2.2 and 0.6 < 1.35 / adult < 0.75
    assert cadence(speed=1.0, body=CHILD) > cadence(speed=1.0, body=ADULT)
    elder_speed, adult_speed = preferred_speed(body=ELDER), preferred_speed(body=ADULT)
    assert elder_speed < adult_speed
    assert cadence(speed=elder_speed, body=ELDER) < cadence(speed=adult_speed, body=ADULT)
    assert 1.2 / cadence(speed=1.2, body=ELDER) < 1.2 / cadence(speed=1.2, body=ADULT)  # shorter steps
    assert cadence(speed=2.5, body=ADULT) > adult  # a hurry quickens the steps
    assert 2.5 / cadence(speed=2.5, body=ADULT) <= ADULT.leg_length * 0.8 + 1e-9


def test_absent_and_seated_frames_are_not_walked():
    track = _straight()
    track["present"][:10] = False
    track["sit"][-5:] = 1.0
    gait = plan_gait(**track, body=ADULT, fps=FPS)
    assert not gait.active[:10].any() and not gait.active[-5:].any()
    assert not gait.planted[:10].any() and not gait.planted[-5:].any()
    assert _stance_slide(gait) < 1e-3
