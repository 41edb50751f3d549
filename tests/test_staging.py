"""Timeline, per-frame blocking and first cameras on a small hand-made plan (no bpy)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from filmcrew.plan import plan_from_data
from filmcrew.staging.blocking import block_plan
from filmcrew.staging.cameras import CameraPose, aim_at, look_rotation, project, solve_cameras
from filmcrew.staging.timeline import build_timeline


def small_plan(fps: int = 10) -> dict:
    return {
        "fps": fps,
        "resolution": [480, 270],
        "characters": [{"id": "ANA", "name": "Ana"}, {"id": "BEN", "name": "Ben"}],
        "sets": [{"id": "room", "kind": "room", "size": [8, 6, 3],
                  "marks": [{"id": "door", "position": [-3, -2.5], "facing": 90},
                            {"id": "a", "position": [-1, 0], "facing": 0},
                            {"id": "b", "position": [1, 0], "facing": 180},
                            {"id": "seat", "position": [1, 1.5], "facing": 270, "kind": "sit",
                             "seat_height": 0.45}]}],
        "scenes": [{"id": "S01", "heading": {"location": "ROOM"}, "set": "room", "cast": ["ANA", "BEN"],
                    "start": [{"character": "ANA", "mark": "a"},
                              {"character": "BEN", "mark": "door", "present": False}],
                    "beats": [
                        {"type": "pause", "duration": 1.0},
                        {"type": "action", "character": "BEN", "action": "enter", "target": "door", "duration": 1.0},
                        {"type": "move", "character": "BEN", "to_mark": "b", "duration": 2.0},
                        {"type": "dialogue", "character": "ANA", "text": "Hello there.", "duration": 1.5,
                         "addressee": "BEN"},
                        {"type": "move", "character": "BEN", "to_mark": "seat", "duration": 1.5},
                        {"type": "action", "character": "BEN", "action": "sit", "target": "seat", "duration": 1.0},
                        {"type": "dialogue", "character": "BEN", "text": "Hi.", "duration": 1.0,
                         "addressee": "ANA"},
                        {"type": "action", "character": "ANA", "action": "nod", "duration": 1.0, "parallel": True},
                    ]}],
        "shots": [
            {"id": "S01_001", "scene": "S01", "first_beat": 0, "last_beat": 2, "framing": "establishing",
             "size": "LS", "subjects": ["ANA", "BEN"]},
            {"id": "S01_002", "scene": "S01", "first_beat": 3, "last_beat": 3, "framing": "single",
             "size": "MS", "subjects": ["ANA"]},
            {"id": "S01_003", "scene": "S01", "first_beat": 4, "last_beat": 5, "framing": "single",
             "size": "FS", "subjects": ["BEN"]},
            {"id": "S01_004", "scene": "S01", "first_beat": 6, "last_beat": 7, "framing": "single",
             "size": "MCU", "subjects": ["BEN"]},
        ],
    }


@pytest.fixture
def staged():
    plan = plan_from_data(small_plan())
    timeline = build_timeline(plan)
    blocking = block_plan(plan=plan, timeline=timeline)
    return plan, timeline, blocking


def test_timeline_tiles_shots_and_runs_parallel_beats_together(staged):
    plan, timeline, _ = staged
    # 1 + 1 + 2 + 1.5 + 1.5 + 1 + 1 seconds; the nod runs with the last line
    assert timeline.frame_count == 90
    assert timeline.beats[("S01", 7)].start == timeline.beats[("S01", 6)].start
    ranges = timeline.shots
    assert ranges[0].start_frame == 1
    for before, after in zip(ranges, ranges[1:]):
        assert after.start_frame == before.end_frame + 1
    assert ranges[-1].end_frame == timeline.frame_count
    assert [r.frame_count for r in ranges] == [40, 15, 25, 10]


def test_blocking_enters_walks_and_sits(staged):
    _, _, blocking = staged
    ben = blocking.tracks["BEN"]
    assert not ben.present[:10].any()          # off stage until he enters at t = 1 s
    assert ben.present[10:].all()
    assert np.allclose(ben.position[40], [1, 0], atol=1e-6)  # on mark b when the move ends
    assert ben.sit[82] == pytest.approx(1.0)   # seated after the sit action
    assert ben.facing[85] % 360 == pytest.approx(270.0, abs=1e-6)  # the seat's facing
    ana = blocking.tracks["ANA"]
    # Ana, speaking to Ben at mark b, faces +X (0 degrees)
    assert math.cos(math.radians(ana.facing[45])) > 0.99


def test_aim_puts_target_on_requested_screen_point():
    position = np.array([0.0, -4.0, 1.5])
    target = np.array([0.3, 0.0, 1.6])
    pose = aim_at(position, target, (-1 / 3, 1 / 3), 40.0, 16 / 9)
    x, y, depth = project(pose, target[None], 16 / 9)[0]
    assert x == pytest.approx(-1 / 3, abs=1e-4)
    assert y == pytest.approx(1 / 3, abs=1e-4)
    assert depth > 0
    # the camera stays level: its right axis has no Z component
    assert abs(np.array(pose.rotation)[2, 0]) < 1e-9


def test_projection_matches_hand_computed_pinhole():
    # Camera at the origin looking along +Y; a point 10 m ahead, 1 m right, lens 36 mm on a 36 mm sensor
    pose = CameraPose((0.0, 0.0, 0.0), tuple(map(tuple, look_rotation(math.pi / 2, 0.0))), 36.0)
    x, y, depth = project(pose, np.array([[1.0, 10.0, 0.0]]), 2.0)[0]
    assert depth == pytest.approx(10.0)
    assert x == pytest.approx(0.2)   # tan(half fov) = 0.5, so 0.1 / 0.5
    assert y == pytest.approx(0.0)


def test_cameras_frame_their_subjects_on_one_side_of_the_line(staged):
    plan, timeline, blocking = staged
    heights = {"ANA": 1.65, "BEN": 1.8}
    cameras = solve_cameras(plan=plan, timeline=timeline, blocking=blocking, heights=heights)
    aspect = 480 / 270
    line_a, line_b = np.array([-1.0, 0.0]), np.array([1.0, 0.0])
    sides = set()
    for shot_range in timeline.shots:
        pose = cameras[shot_range.shot]
        shot = next(s for s in plan.shots if s.id == shot_range.shot)
        mid = (shot_range.start_frame + shot_range.end_frame) // 2 - 1
        for cid in shot.subjects:
            track = blocking.tracks[cid]
            if not track.present[mid]:
                continue
            head_z = 0.45 + 0.45 * heights[cid] if track.sit[mid] > 0.5 else 0.93 * heights[cid]
            x, y, depth = project(pose, np.array([[*track.position[mid], head_z]]), aspect)[0]
            assert depth > 0 and abs(x) < 1 and abs(y) < 1, (shot.id, cid, x, y)
        cam = np.array(pose.position[:2])
        cross = (line_b - line_a)[0] * (cam - line_a)[1] - (line_b - line_a)[1] * (cam - line_a)[0]
        sides.add(np.sign(cross))
        # inside the room's walls
        assert abs(pose.position[0]) < 4 and abs(pose.position[1]) < 3
    assert len(sides) == 1
    single = cameras["S01_002"]
    x, y, _ = project(single, np.array([[-1.0, 0.0, 0.93 * 1.65]]), aspect)[0]
    assert y == pytest.approx(1 / 3, abs=0.02)   # head on the upper third
    assert abs(abs(x) - 1 / 3) < 0.02            # and on a vertical third
