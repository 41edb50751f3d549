"""The cinematographer's checks with hand-computed cases, camera moves, angles, pinning, storyboard."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from filmcrew.plan import plan_from_data
from filmcrew.plan.overrides import keep_pinned
from filmcrew.review.continuity import check_production
from filmcrew.review.storyboard import storyboard_image
from filmcrew.staging.blocking import block_plan
from filmcrew.staging.cameras import (CameraPose, LineRule, _room_for, _Subject, aim_at, apply_angle,
                                      look_rotation, pose_at, project, solve_cameras)
from filmcrew.staging.moves import camera_track, smooth_path
from filmcrew.staging.timeline import build_timeline

ASPECT = 16 / 9
HEIGHTS = {"ANA": 1.65, "BEN": 1.8}


def dialogue_plan(sizes=("MS", "MS", "MS")) -> dict:
    """Ana and Ben face each other 2 m apart; Ana speaks, Ben answers, Ana again."""
    return {
        "fps": 10, "resolution": [480, 270],
        "characters": [{"id": "ANA", "name": "Ana"}, {"id": "BEN", "name": "Ben"}],
        "sets": [{"id": "room", "kind": "room", "size": [10, 8, 3],
                  "marks": [{"id": "a", "position": [-1, 0], "facing": 0},
                            {"id": "b", "position": [1, 0], "facing": 180}]}],
        "scenes": [{"id": "S01", "heading": {"location": "ROOM"}, "set": "room", "cast": ["ANA", "BEN"],
                    "start": [{"character": "ANA", "mark": "a"}, {"character": "BEN", "mark": "b"}],
                    "beats": [{"type": "dialogue", "character": c, "text": "Words.", "duration": 2.0,
                               "addressee": o} for c, o in (("ANA", "BEN"), ("BEN", "ANA"), ("ANA", "BEN"))]}],
        "shots": [{"id": f"S01_00{i + 1}", "scene": "S01", "first_beat": i, "last_beat": i,
                   "framing": "single", "size": size, "subjects": [who]}
                  for i, (who, size) in enumerate(zip(("ANA", "BEN", "ANA"), sizes))],
    }


def staged(data: dict):
    plan = plan_from_data(data)
    timeline = build_timeline(plan)
    blocking = block_plan(plan=plan, timeline=timeline)
    return plan, timeline, blocking


def level_camera(position, target, focal=40.0) -> CameraPose:
    return aim_at(np.array(position, float), np.array(target, float), (0.0, 0.0), focal, ASPECT)


def test_solved_shot_reverse_shot_passes_every_check():
    plan, timeline, blocking = staged(dialogue_plan())
    cameras = solve_cameras(plan=plan, timeline=timeline, blocking=blocking, heights=HEIGHTS)
    report = check_production(plan=plan, timeline=timeline, blocking=blocking, cameras=cameras, heights=HEIGHTS)
    assert report.findings == []
    figures = report.as_json()
    assert figures["continuity"] == {"line_violations": 0, "jump_cuts": 0, "direction_flips": 0}
    assert figures["framing"]["speaker_visibility"] == 1.0
    assert figures["framing"]["head_error_mean"] < 0.02
    sides = {LineRule(np.array([-1.0, 0, 0]), np.array([1.0, 0, 0]), 1.0).side_of(np.array(c.position))
             for c in cameras.values()}
    assert len(sides) == 1 and 0.0 not in sides


def test_a_cut_that_crosses_the_line_is_found():
    plan, timeline, blocking = staged(dialogue_plan())
    ana, ben = np.array([-1.0, 0.0, 1.53]), np.array([1.0, 0.0, 1.67])
    cameras = {"S01_001": level_camera([1.6, -1.2, 1.5], ana),   # south of the line, on Ana
               "S01_002": level_camera([-1.6, 1.2, 1.5], ben),   # north of it: crossed
               "S01_003": level_camera([1.6, -1.2, 1.5], ana)}
    report = check_production(plan=plan, timeline=timeline, blocking=blocking, cameras=cameras, heights=HEIGHTS)
    assert report.count("line") == 2
    assert {f.shots for f in report.findings if f.kind == "line"} == {("S01_001", "S01_002"), ("S01_002", "S01_003")}


def test_a_jump_cut_is_found_and_two_size_steps_are_not_one():
    plan, timeline, blocking = staged(dialogue_plan())
    ana = np.array([-1.0, 0.0, 1.53])
    same = level_camera([1.6, -1.2, 1.5], ana)
    data = dialogue_plan()
    data["shots"][1]["subjects"] = ["ANA"]
    for sizes, expected in ((("MS", "MCU", "MS"), 2), (("MS", "CU", "MS"), 0)):
        data_sizes = dict(data)
        data_sizes["shots"] = [dict(s, size=z) for s, z in zip(data["shots"], sizes)]
        plan, timeline, blocking = staged(data_sizes)
        cameras = {s.id: same for s in plan.shots}
        report = check_production(plan=plan, timeline=timeline, blocking=blocking, cameras=cameras,
                                  heights=HEIGHTS)
        assert report.count("jump") == expected, sizes


def test_an_occluder_between_camera_and_speaker_hides_them():
    set_spec = plan_from_data(dialogue_plan()).sets[0]
    head = np.array([-1.0, 0.0, 1.53])
    blocker = {"BEN": _Subject(np.array([0.0, -1.0, 1.67]), np.zeros(3), 0.0, np.zeros((1, 3)), np.zeros(2))}
    room = _room_for(set_spec, (0.0, 0.0), blocker)
    assert room.blocked(np.array([1.0, -2.0, 1.55]), head, ignore={"ANA"})      # Ben stands on the ray
    assert not room.blocked(np.array([-1.0, -3.0, 1.55]), head, ignore={"ANA"})  # a clear view


def test_speaker_hidden_by_the_other_character_lowers_visibility():
    plan, timeline, blocking = staged(dialogue_plan())
    ana, ben = np.array([-1.0, 0.0, 1.53]), np.array([1.0, 0.0, 1.67])
    behind_ben = level_camera([3.0, 0.05, 1.6], ana)  # Ana's line shot from straight behind Ben
    cameras = {"S01_001": behind_ben, "S01_002": level_camera([-1.8, -1.5, 1.6], ben),
               "S01_003": behind_ben}
    report = check_production(plan=plan, timeline=timeline, blocking=blocking, cameras=cameras, heights=HEIGHTS)
    assert report.as_json()["framing"]["speaker_visibility"] == pytest.approx(1 / 3, abs=0.02)


def test_smoothing_keeps_ends_and_removes_jitter():
    rng = np.random.default_rng(0)
    straight = np.stack([np.linspace(0, 3, 60), np.zeros(60), np.full(60, 1.6)], axis=1)
    noisy = straight + rng.normal(0, 0.02, straight.shape)
    smooth = smooth_path(noisy, fps=24)
    assert np.abs(np.diff(smooth, 2, axis=0)).max() < np.abs(np.diff(noisy, 2, axis=0)).max() / 4
    assert np.linalg.norm(smooth[30] - straight[30]) < 0.05


@pytest.mark.parametrize("movement", ["pan", "follow", "dolly_in", "truck", "orbit", "crane", "handheld", "tilt"])
def test_moving_cameras_keep_the_subject_in_frame(movement):
    heads = np.stack([np.linspace(-1, 1, 40), np.linspace(0, 0.5, 40), np.full(40, 1.6)], axis=1)
    if movement == "tilt":  # a tilt follows up and down only: someone standing up
        heads = np.stack([np.zeros(40), np.zeros(40), np.linspace(1.2, 1.7, 40)], axis=1)
    base = aim_at(np.array([0.0, -4.0, 1.5]), heads[0], (0.0, 1 / 3), 35.0, ASPECT)
    pose = camera_track(base=base, movement=movement, heads=heads, aspect=ASPECT, fps=24, seed=3)
    assert pose.track is not None and len(pose.track) == 40
    positions = np.array([pose_at(pose, i).position for i in range(40)])
    assert np.abs(np.diff(positions, 2, axis=0)).max() < 0.02   # no jitter
    for i in (0, 20, 39):
        x, y, depth = project(pose_at(pose, i), heads[i][None], ASPECT)[0]
        assert depth > 0 and abs(x) < 0.9 and abs(y) < 0.9, (movement, i, x, y)


def test_angles_raise_lower_and_roll_the_camera():
    target = np.array([0.0, 0.0, 1.6])
    base = aim_at(np.array([0.0, -3.0, 1.5]), target, (0.0, 1 / 3), 40.0, ASPECT)
    high = apply_angle(base, angle="high", target=target, aspect=ASPECT, ceiling=3.0)
    low = apply_angle(base, angle="low", target=target, aspect=ASPECT, ceiling=3.0)
    dutch = apply_angle(base, angle="dutch", target=target, aspect=ASPECT, ceiling=3.0)
    assert high.position[2] > base.position[2] + 0.5 and low.position[2] < base.position[2] - 0.5
    for pose in (high, low):
        x, y, _ = project(pose, target[None], ASPECT)[0]
        assert (x, y) == pytest.approx((0.0, 1 / 3), abs=1e-3)
    right = np.array(dutch.rotation)[:, 0]
    assert math.degrees(math.asin(abs(right[2]))) == pytest.approx(12.0, abs=0.5)


def test_pinned_shots_survive_replanning():
    old = plan_from_data(dialogue_plan())
    pinned_data = dialogue_plan()
    pinned_data["shots"][1].update(size="CU", angle="low", pinned=True)
    old = plan_from_data(pinned_data)
    new = plan_from_data(dialogue_plan())
    kept, dropped = keep_pinned(old=old, new=new)
    assert dropped == []
    assert (kept.shots[1].size, kept.shots[1].angle, kept.shots[1].pinned) == ("CU", "low", True)
    assert kept.shots[0] == new.shots[0]


def test_storyboard_has_a_row_per_shot_with_missing_frames_marked(tmp_path: Path):
    plan, timeline, _ = staged(dialogue_plan())
    image = storyboard_image(plan=plan, timeline=timeline, root=tmp_path)
    assert image.width == 3 * 240 + 4 * 6
    assert image.height > 3 * 135
    # no frames rendered: each thumbnail is the red "not rendered" card, not black
    pixel = image.getpixel((6 + 120, 6 + 100))
    assert pixel[0] > pixel[2] + 20


def test_look_rotation_is_a_proper_rotation():
    rot = look_rotation(0.7, -0.2)
    assert np.allclose(rot.T @ rot, np.eye(3), atol=1e-9)
    assert np.linalg.det(rot) == pytest.approx(1.0)


def test_two_shot_puts_both_heads_on_the_thirds():
    data = dialogue_plan()
    data["shots"] = [{"id": "S01_001", "scene": "S01", "first_beat": 0, "last_beat": 2, "framing": "two_shot",
                      "size": "MS", "subjects": ["ANA", "BEN"]}]
    plan, timeline, blocking = staged(data)
    pose = solve_cameras(plan=plan, timeline=timeline, blocking=blocking, heights=HEIGHTS)["S01_001"]
    heads = np.array([[-1.0, 0.0, 0.93 * 1.65], [1.0, 0.0, 0.93 * 1.8]])
    xs = sorted(project(pose, heads, 480 / 270)[:, 0])
    assert xs == pytest.approx([-1 / 3, 1 / 3], abs=0.01)   # the toric construction: both on the thirds
    ys = project(pose, heads, 480 / 270)[:, 1]
    assert np.all(np.abs(ys - 1 / 3) < 0.1)


def test_dialogue_idiom_cuts_to_the_listener_and_follows_a_walk_and_talk():
    from filmcrew.agents.coverage import cover_scene

    data = dialogue_plan()
    beats = data["scenes"][0]["beats"]
    beats.insert(1, {"type": "pause", "duration": 1.5})                      # after Ana's line: Ben reacts
    beats.insert(0, {"type": "pause", "duration": 3.0})                      # the establishing beat
    data["sets"][0]["marks"].append({"id": "c", "position": [3, 0], "facing": 0})
    beats.append({"type": "move", "character": "ANA", "to_mark": "c", "duration": 2.0, "parallel": True})
    data["shots"] = []
    scene = plan_from_data({**data, "shots": []}).scenes[0]
    shots = cover_scene(scene=scene, scene_number=1, exterior=False)
    by_beat = {b: s for s in shots for b in range(s.first_beat, s.last_beat + 1)}
    assert by_beat[0].framing == "establishing" and by_beat[1].subjects == ["ANA"]
    assert by_beat[2].subjects == ["BEN"] and "reaction" in by_beat[2].rationale
    walk = by_beat[len(beats) - 1]
    assert walk.movement == "follow" and "walk-and-talk" in walk.rationale
    assert [b for s in shots for b in range(s.first_beat, s.last_beat + 1)] == list(range(len(beats)))


def test_screen_direction_is_neutral_towards_the_lens():
    from filmcrew.review.continuity import _screen_x
    from filmcrew.staging.cameras import aim_at

    head = np.array([0.0, 0.0, 1.6])
    walking = np.array([0.5, 0.0, 0.0])  # along +X

    def camera(x: float, y: float):
        return aim_at(np.array([x, y, 1.6]), head, (0.0, 0.0), 40.0, 16 / 9)

    front, behind, ahead = camera(0.0, -4.0), camera(0.0, 4.0), camera(4.0, 0.3)
    assert _screen_x(front, head, walking, 16 / 9) > 0.05       # left to right
    assert _screen_x(behind, head, walking, 16 / 9) < -0.05     # from the other side: right to left
    assert _screen_x(ahead, head, walking, 16 / 9) == 0.0       # head-on: no direction to flip
