"""Walking routes on a set's floor, their timing, and the blocking metrics (pure numpy)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from filmcrew.plan import plan_from_data
from filmcrew.review.blocking_metrics import blocking_metrics, foot_skate
from filmcrew.staging.blocking import block_plan
from filmcrew.staging.paths import BODY_RADIUS, Floor, PathError, Walker, resample, walk_profile
from filmcrew.staging.sets import footprint
from filmcrew.staging.timeline import build_timeline

TABLE = {"id": "table", "kind": "table", "position": [0.0, 0.0, 0.0], "size": [1.2, 1.2, 0.75]}


def room(marks: list[dict], props: list[dict] | None = None) -> dict:
    return {"id": "room", "kind": "room", "size": [8, 6, 3], "walkable": [[-3.8, -2.8], [3.8, 2.8]],
            "doors": [{"id": "front", "wall": "south", "offset": -2.0, "width": 1.0}],
            "props": props if props is not None else [TABLE],
            "marks": [{"id": "door", "position": [-2.0, -2.4], "facing": 90}, *marks]}


def plan_data(set_data: dict, beats: list[dict], start: list[dict], cast=("ANA", "BEN")) -> dict:
    return {"fps": 24, "characters": [{"id": c, "name": c.title()} for c in cast], "sets": [set_data],
            "scenes": [{"id": "S01", "heading": {"location": "ROOM"}, "set": "room", "cast": list(cast),
                        "start": start, "beats": beats}],
            "shots": [{"id": "S01_001", "scene": "S01", "first_beat": 0, "last_beat": len(beats) - 1,
                       "framing": "establishing", "size": "LS"}]}


def staged(data: dict):
    plan = plan_from_data(data)
    timeline = build_timeline(plan)
    return plan, timeline, block_plan(plan=plan, timeline=timeline)


def walker(set_data: dict) -> Walker:
    plan = plan_from_data(plan_data(set_data, [{"type": "pause", "duration": 1.0}], []))
    return Walker(Floor(plan.sets[0]))


def test_route_goes_around_a_table_with_a_body_radius_to_spare():
    w = walker(room([]))
    route = w.route(start=(-2.0, 0.0), goal=(2.0, 0.0), where="test", goal_name="b")
    assert route.length > 4.0 + 0.1                    # the straight line crosses the table
    corners = footprint(w.floor.set_spec.props[0])
    samples = resample(route.points, 0.02)
    clearance = w.floor.obstacles.clearance(samples)[0]
    assert clearance.min() >= BODY_RADIUS - 0.02
    assert route.clearance >= BODY_RADIUS - 1e-6
    inside = np.all((samples > corners.min(axis=0)) & (samples < corners.max(axis=0)), axis=1)
    assert not inside.any()


def test_route_from_outside_passes_through_the_doorway():
    w = walker(room([]))
    route = w.route(start=(-2.0, -4.0), goal=(2.0, 2.0), where="test", goal_name="b")
    samples = resample(route.points, 0.02)
    crossing = samples[np.argmin(np.abs(samples[:, 1] + 3.0))]   # where it crosses the south wall
    assert -2.5 + 0.15 < crossing[0] < -1.5 - 0.15


def test_walk_arrives_on_the_mark_facing_its_way_at_the_beat_end():
    data = plan_data(room([{"id": "a", "position": [-2.0, 0.0], "facing": 0},
                           {"id": "b", "position": [2.0, 0.5], "facing": 135}]),
                     [{"type": "move", "character": "ANA", "to_mark": "b", "duration": 4.0},
                      {"type": "pause", "duration": 1.0}],
                     [{"character": "ANA", "mark": "a"}, {"character": "BEN", "mark": "door"}])
    plan, timeline, blocking = staged(data)
    ana = blocking.tracks["ANA"]
    end = timeline.frame_of(4.0) - 1
    assert np.allclose(ana.position[end], [2.0, 0.5], atol=1e-6)
    assert (ana.facing[end] - 135.0 + 180.0) % 360.0 - 180.0 == pytest.approx(0.0, abs=1e-6)
    speed = np.linalg.norm(np.diff(ana.position[: end + 1], axis=0), axis=1) * plan.fps
    assert speed[:2].max() < 0.5 and speed[-11:].max() < 0.5    # eases in and out (and turns at the end)
    assert speed.max() < 3.0
    assert blocking.arrivals[0].mark == "b" and blocking.arrivals[0].frame == end + 1
    metrics = blocking_metrics(plan=plan, blocking=blocking, timeline=timeline)
    assert metrics["interpenetrations"] == 0
    assert metrics["arrival_error_cm_max"] == 0.0
    assert metrics["min_clearance_cm"] >= 100 * BODY_RADIUS - 2.5


def test_people_walking_at_once_keep_apart():
    marks = [{"id": "w", "position": [-3.0, 0.0], "facing": 0}, {"id": "e", "position": [3.0, 0.0], "facing": 180},
             {"id": "n", "position": [0.0, 2.2], "facing": 270}, {"id": "s", "position": [0.0, -2.2], "facing": 90}]
    data = plan_data(room(marks, props=[]),
                     [{"type": "move", "character": "ANA", "to_mark": "e", "duration": 4.0},
                      {"type": "move", "character": "BEN", "to_mark": "w", "duration": 4.0, "parallel": True}],
                     [{"character": "ANA", "mark": "w"}, {"character": "BEN", "mark": "e"}])
    plan, timeline, blocking = staged(data)
    gap = np.linalg.norm(blocking.tracks["ANA"].position - blocking.tracks["BEN"].position, axis=1)
    assert gap.min() >= 2 * 0.15
    assert blocking_metrics(plan=plan, blocking=blocking, timeline=timeline)["interpenetrations"] == 0


def test_mark_inside_a_wall_names_the_beat():
    data = plan_data(room([{"id": "a", "position": [-2.0, 0.0]}, {"id": "wall", "position": [5.0, 0.0]}]),
                     [{"type": "pause", "duration": 1.0},
                      {"type": "move", "character": "ANA", "to_mark": "wall", "duration": 3.0}],
                     [{"character": "ANA", "mark": "a"}])
    with pytest.raises(PathError, match=r"scenes\[0\]\.beats\[1\].*mark 'wall'.*inside a wall"):
        staged(data)


def test_unreachable_mark_names_the_beat():
    ring = [{"id": f"c{i}", "kind": "cabinet", "position": [2.0 + dx, dy, 0.0], "size": [0.8, 0.8, 0.9]}
            for i, (dx, dy) in enumerate([(-0.8, -0.8), (0, -0.8), (0.8, -0.8), (-0.8, 0), (0.8, 0),
                                          (-0.8, 0.8), (0, 0.8), (0.8, 0.8)])]
    data = plan_data(room([{"id": "a", "position": [-2.0, 0.0]}, {"id": "boxed", "position": [2.0, 0.0]}], ring),
                     [{"type": "move", "character": "ANA", "to_mark": "boxed", "duration": 3.0}],
                     [{"character": "ANA", "mark": "a"}])
    with pytest.raises(PathError, match=r"scenes\[0\]\.beats\[0\].*'boxed'"):
        staged(data)


def test_seat_is_approached_from_beside_when_a_table_is_in_front():
    chair = {"id": "chair", "kind": "chair", "position": [0.0, -1.0, 0.0], "size": [0.45, 0.45, 0.85]}
    seat = {"id": "seat", "position": [0.0, -1.0], "facing": 90, "kind": "sit", "seat_height": 0.46, "prop": "chair"}
    data = plan_data(room([{"id": "a", "position": [-3.0, -2.0]}, seat], [TABLE, chair]),
                     [{"type": "move", "character": "ANA", "to_mark": "seat", "duration": 3.0},
                      {"type": "action", "character": "ANA", "action": "sit", "target": "seat", "duration": 1.5},
                      {"type": "action", "character": "ANA", "action": "stand_up", "duration": 1.5}],
                     [{"character": "ANA", "mark": "a"}])
    plan, timeline, blocking = staged(data)
    ana = blocking.tracks["ANA"]
    walked = timeline.frame_of(3.0) - 1
    assert abs(ana.position[walked][0]) > 0.4 and ana.sit[walked] == 0.0   # beside the chair, standing
    seated = timeline.frame_of(4.5) - 1
    assert np.allclose(ana.position[seated], [0.0, -1.0]) and ana.sit[seated] == 1.0
    assert np.allclose(ana.position[-1], ana.position[walked], atol=0.02)                # up again, beside it
    assert blocking_metrics(plan=plan, blocking=blocking, timeline=timeline)["interpenetrations"] == 0


def test_walk_profile_eases_in_and_out():
    times = np.linspace(0.0, 3.0, 301)
    s = walk_profile(length=4.0, duration=3.0, times=times)
    assert s[0] == 0.0 and s[-1] == pytest.approx(4.0)
    assert np.all(np.diff(s) >= -1e-12)
    speed = np.diff(s) / np.diff(times)
    assert speed[0] < 0.1 and speed[-1] < 0.1
    assert speed.max() == pytest.approx(4.0 / 2.5, rel=1e-3)


def test_interpenetration_is_found_when_a_track_crosses_a_table():
    data = plan_data(room([{"id": "a", "position": [-2.0, 0.0]}, {"id": "b", "position": [2.0, 0.0]}]),
                     [{"type": "pause", "duration": 2.0}], [{"character": "ANA", "mark": "a"}])
    plan, timeline, blocking = staged(data)
    ana = blocking.tracks["ANA"]
    ana.position[:] = np.stack([np.linspace(-2, 2, len(ana.position)), np.zeros(len(ana.position))], axis=1)
    metrics = blocking_metrics(plan=plan, blocking=blocking, timeline=timeline)
    assert metrics["interpenetrations_furniture"] == 1
    assert metrics["min_clearance_cm"] < 0


def test_foot_skate_measures_planted_slide_only():
    frames = 48
    position = np.stack([np.linspace(0, 2, frames), np.zeros(frames)], axis=1)   # walking 1 m/s at 24 fps
    present = np.ones(frames, dtype=bool)
    feet = np.zeros((frames, 2, 3))
    feet[:, :, 2] = 0.08
    feet[::2, 1, 2] = 0.2                          # the right foot swings on even frames
    feet[:, 0, 0] = np.where(np.arange(frames) < 24, 0.0, 1.0)  # left foot planted, then one step
    assert foot_skate(feet=feet, position=position, present=present, fps=24) == pytest.approx(0.0)
    feet[:, 0, 0] += np.arange(frames) * 0.005     # now it slides 5 mm per frame while planted
    skate = foot_skate(feet=feet, position=position, present=present, fps=24)
    assert skate == pytest.approx(0.5, abs=1e-6)
    assert math.isfinite(skate)


def test_a_quicker_walker_overtakes_round_a_slower_one():
    marks = [{"id": "a1", "position": [-2.8, 0.0], "facing": 0}, {"id": "a2", "position": [3.0, 0.0], "facing": 0},
             {"id": "b1", "position": [-3.5, 0.0], "facing": 0}, {"id": "b2", "position": [3.6, 0.3], "facing": 0}]
    data = plan_data(room(marks, props=[]),
                     [{"type": "move", "character": "BEN", "to_mark": "b2", "duration": 5.0},   # quick, listed first
                      {"type": "move", "character": "ANA", "to_mark": "a2", "duration": 8.0, "parallel": True}],
                     [{"character": "ANA", "mark": "a1"}, {"character": "BEN", "mark": "b1"}])
    plan, timeline, blocking = staged(data)
    ana, ben = blocking.tracks["ANA"], blocking.tracks["BEN"]
    gap = np.linalg.norm(ana.position - ben.position, axis=1)
    assert gap.min() >= 2 * 0.15
    assert ben.position[timeline.frame_of(5.0) - 1][0] > ana.position[timeline.frame_of(5.0) - 1][0]  # he got past
    assert blocking_metrics(plan=plan, blocking=blocking, timeline=timeline)["interpenetrations"] == 0
