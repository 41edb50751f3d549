"""Baked motion on a real anny rig in real Blender: planted IK feet, gestures, gaze, the library."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest

from filmcrew.characters import ensure_kits, load_kit
from filmcrew.plan.model import Appearance
from filmcrew.staging.blocking import Track
from filmcrew.staging.performance import Performance, PoseEvent
from filmcrew.staging.poses import load_library

FPS = 24
MAN = Appearance(age_years=40, gender=1.0)


@pytest.fixture(scope="module")
def kit_path(tmp_path_factory) -> Path:
    return ensure_kits(appearances={"MAN": MAN}, cache_dir=tmp_path_factory.mktemp("kits"))["MAN"]


def _walk_track() -> Track:
    """Stand, walk 3 m along +X on a curve that bends towards +Y, stop, turn in place to face +Y."""
    rest, walk, turn, hold = 12, 60, 12, 24
    t = np.linspace(0.0, 1.0, walk)
    s = t * t * (3 - 2 * t)
    path = np.stack([3.0 * s, 0.8 * s * s], axis=1)
    heading = np.degrees(np.unwrap(np.arctan2(np.gradient(path[:, 1]), np.gradient(path[:, 0]))))
    heading[0] = 0.0
    position = np.concatenate([np.zeros((rest, 2)), path, np.repeat(path[-1:], turn + hold, 0)])
    facing = np.concatenate([np.zeros(rest), heading, np.linspace(heading[-1], 90.0, turn),
                             np.full(hold, 90.0)])
    count = len(position)
    return Track(position=position, facing=facing, sit=np.zeros(count), present=np.ones(count, bool),
                 seat_height=np.full(count, 0.45))


def _build(kit_path, track, performance=None):
    import bpy

    from filmcrew.scene.build import _keyframe_track
    from filmcrew.scene.characters import build_character

    armature = build_character(kit=load_kit(kit_path), name="MAN", appearance=MAN)
    _keyframe_track(armature, track=track, frame_count=len(track.position), fps=FPS,
                    performance=performance)
    return bpy, armature


@pytest.mark.slow
def test_baked_ankles_follow_the_planted_gait(kit_path):
    from filmcrew.scene.motion import gait_body, sample_feet
    from filmcrew.staging.gait import plan_gait

    track = _walk_track()
    bpy, armature = _build(kit_path, track)
    gait = plan_gait(position=track.position, facing=track.facing, present=track.present, sit=track.sit,
                     body=gait_body(armature), fps=FPS)
    frames = np.arange(1, len(track.position) + 1)
    started = time.perf_counter()
    feet = sample_feet(scene=bpy.context.scene, armatures={"MAN": armature}, frames=frames, toes=True)["MAN"]
    seconds = time.perf_counter() - started
    assert feet.shape == (len(frames), 4, 3) and seconds < 5.0
    error = np.linalg.norm(feet[:, :2] - gait.ankles, axis=2)
    assert error.max() < 0.01, f"ankles miss their targets by {error.max():.4f} m"
    both = gait.planted[1:] & gait.planted[:-1]
    slide = np.linalg.norm(np.diff(feet[:, 2:], axis=0), axis=2)[both]
    assert slide.max() < 0.001  # the balls of planted feet stay put on the real rig: no skating
    assert gait.foot_pitch.max() > 10.0  # ... while the heels come off them at toe-off
    toes = feet[:, 2:]
    assert np.all(toes[:, :, 2] > -0.02)  # toes above the floor
    # Knees bend forward, never backwards: the knee lies in front of the hip-ankle line.
    scene = bpy.context.scene
    for frame in (20, 40, 60):
        scene.frame_set(frame)
        bones = armature.pose.bones
        for side in "LR":
            hip, knee, ankle = (np.array(bones[f"{b}.{side}"].head)
                                for b in ("upperleg01", "lowerleg01", "foot"))
            mid = (hip + ankle) / 2.0
            assert knee[1] <= mid[1] + 0.01  # the body faces -Y in armature space
    hide = [fc for fc in armature.animation_data.action.layers[0].strips[0].channelbags[0].fcurves
            if fc.data_path == "location"]
    assert len(hide[0].keyframe_points) < len(frames)  # still spans are keyed sparsely


def _right_wrist(armature):
    return np.array(armature.matrix_world @ armature.pose.bones["wrist.R"].head)


def _standing(count: int) -> Track:
    return Track(position=np.zeros((count, 2)), facing=np.full(count, 90.0), sit=np.zeros(count),
                 present=np.ones(count, bool), seat_height=np.full(count, 0.45))


@pytest.mark.slow
def test_point_and_wave_move_the_right_arm(kit_path):
    track = _standing(80)
    target = (-1.5, 2.0, 1.6)  # ahead and to the left, up high
    events = [PoseEvent(10, 40, "point", 1.0, target), PoseEvent(50, 78, "wave", 1.0)]
    bpy, armature = _build(kit_path, track, Performance(events=events))
    scene = bpy.context.scene
    scene.frame_set(5)
    rest_wrist = _right_wrist(armature)
    scene.frame_set(25)
    shoulder = np.array(armature.matrix_world @ armature.pose.bones["upperarm01.R"].head)
    wrist = _right_wrist(armature)
    to_target = np.array(target) - shoulder
    arm = wrist - shoulder
    cosine = arm @ to_target / np.linalg.norm(arm) / np.linalg.norm(to_target)
    assert cosine > 0.97, f"the arm points {math.degrees(math.acos(cosine)):.1f} degrees off"
    scene.frame_set(64)
    waving = _right_wrist(armature)
    head = np.array(armature.matrix_world @ armature.pose.bones["head"].head)
    assert waving[2] > head[2] - 0.15 > rest_wrist[2]  # hand up by the head
    sideways = []
    for frame in range(56, 72):
        scene.frame_set(frame)
        sideways.append(_right_wrist(armature)[0])
    assert np.ptp(sideways) > 0.05  # and waving


@pytest.mark.slow
def test_head_turns_to_the_look_target_within_limits(kit_path):
    track = _standing(40)  # facing +Y
    look = np.full((40, 3), np.nan)
    look[10:25] = (-3.0, 1.0, 1.6)   # to the character's left (-X when facing +Y), a little ahead
    look[25:] = (0.0, -3.0, 1.6)     # straight behind: beyond the neck's reach
    bpy, armature = _build(kit_path, track, Performance(look=look))
    scene = bpy.context.scene

    from mathutils import Vector

    def yaw(frame: int, bone: str) -> float:
        """Where ``bone`` (head or eye) has turned the face's forward (-Y at rest), degrees."""
        scene.frame_set(frame)
        pose_bone = armature.pose.bones[bone]
        turn = pose_bone.matrix @ armature.data.bones[bone].matrix_local.inverted()
        forward = armature.matrix_world.to_3x3() @ (turn.to_3x3() @ Vector((0.0, -1.0, 0.0)))
        return math.degrees(math.atan2(forward[1], forward[0]))

    def off(a: float, b: float) -> float:
        return abs((a - b + 180.0) % 360.0 - 180.0)

    assert yaw(5, "head") == pytest.approx(90.0, abs=8.0)
    expected = math.degrees(math.atan2(1.0 - 0.0, -3.0))
    assert off(yaw(22, "head"), expected) <= 10.0
    assert off(yaw(22, "eye.L"), expected) <= 6.0      # the eyes land on it
    behind = yaw(39, "head")
    assert off(behind, 90.0) <= 80.0 + 8.0             # the head: clamped to the neck's reach
    assert off(yaw(39, "eye.L"), behind) > 15.0         # the eyes look further round ...
    assert off(yaw(39, "eye.L"), behind) <= 30.0 + 2.0  # ... within their own reach
    from filmcrew.render.rig import RigKeypoints

    keypoints = RigKeypoints(armature)

    def pupil_in_socket(frame: int) -> np.ndarray:
        scene.frame_set(frame)
        face = keypoints.world()["face"]
        return face[69] - face[42:48].mean(axis=0)  # the left pupil against its eye's outline

    assert np.linalg.norm(pupil_in_socket(39) - pupil_in_socket(5)) > 0.002  # the pose pass sees the look


@pytest.mark.slow
def test_every_library_pose_keys_and_sitting_still_lands_on_the_seat(kit_path):
    from filmcrew.scene.characters import character_joints

    library = load_library()
    names = [name for name, pose in library.poses.items() if pose.kind != "posture"]
    length = 20
    count = length * len(names) + 40
    track = _standing(count)
    track.sit[-30:] = np.clip(np.linspace(0.0, 3.0, 30), 0.0, 1.0)
    events = [PoseEvent(i * length, (i + 1) * length, name, 1.0, (0.0, 2.0, 1.2))
              for i, name in enumerate(names)]
    bpy, armature = _build(kit_path, track, Performance(events=events))
    scene = bpy.context.scene
    scene.frame_set(1)
    still = {b.name: b.matrix.copy() for b in armature.pose.bones}
    for i, name in enumerate(names):
        scene.frame_set(i * length + length // 2 + 1)
        moved = max((b.matrix.translation - still[b.name].translation).length for b in armature.pose.bones)
        assert moved > 0.01, f"pose {name} does not move the body"
    scene.frame_set(count)
    joints = character_joints(armature)
    assert 0.45 + 0.04 < joints["pelvis"][2] < 0.45 + 0.13
    assert joints["foot_l"][2] < 0.12 and joints["foot_r"][2] < 0.12


@pytest.mark.slow
def test_the_jaw_opens_with_the_syllables_of_a_line(kit_path):
    from filmcrew.render.rig import RigKeypoints

    track = _standing(72)
    bpy, armature = _build(kit_path, track, Performance(events=[PoseEvent(24, 60, "talk", 1.0)]))
    assert "jaw" in armature.data.bones and armature.data.bones["jaw"].parent.name == "head"
    body = armature.children[0]
    jaw_group = body.vertex_groups["jaw"].index
    carried = [v.index for v in body.data.vertices if any(g.group == jaw_group and g.weight > 0.9 for g in v.groups)]
    assert len(carried) > 30  # the chin and the lower lip
    scene = bpy.context.scene
    keypoints = RigKeypoints(armature)

    def mouth_gap(frame: int) -> float:
        scene.frame_set(frame)
        face = keypoints.world()["face"]
        return float(np.linalg.norm(face[57] - face[51]))  # lower lip to upper lip

    def chin_drop(frame: int) -> float:
        scene.frame_set(frame)
        depsgraph = bpy.context.evaluated_depsgraph_get()
        mesh = body.evaluated_get(depsgraph).to_mesh()
        heights = [mesh.vertices[i].co.z for i in carried]
        body.evaluated_get(depsgraph).to_mesh_clear()
        return float(np.mean(heights))

    closed_gap, closed_chin = mouth_gap(10), chin_drop(10)
    talking = [mouth_gap(f) for f in range(30, 56)]
    assert max(talking) > closed_gap + 0.004        # the lips part by several millimetres ...
    assert min(talking) < max(talking) - 0.003      # ... and close again, syllable by syllable
    assert min(chin_drop(f) for f in range(30, 56)) < closed_chin - 0.003  # the skin goes with the jaw
    assert mouth_gap(70) == pytest.approx(closed_gap, abs=1e-4)            # shut after the line


@pytest.mark.slow
def test_sitting_down_from_beside_the_seat_steps_the_feet_over_without_a_jump(kit_path):
    from filmcrew.scene.motion import sample_feet

    stand, lower, hold = 12, 30, 18
    count = stand + lower + hold
    u = np.concatenate([np.zeros(stand), np.linspace(0.0, 1.0, lower), np.ones(hold)])
    eased = u * u * (3 - 2 * u)
    position = np.stack([0.55 * (1.0 - eased), np.zeros(count)], axis=1)  # from beside the seat onto it
    track = Track(position=position, facing=np.full(count, 90.0), sit=eased, present=np.ones(count, bool),
                  seat_height=np.full(count, 0.45))
    bpy, armature = _build(kit_path, track)
    feet = sample_feet(scene=bpy.context.scene, armatures={"MAN": armature}, frames=range(1, count + 1))["MAN"]
    jumps = np.linalg.norm(np.diff(feet, axis=0), axis=2)
    assert jumps.max() < 0.12, f"a foot jumps {jumps.max():.3f} m in one frame"  # a step's swing, not a pop
    assert ((jumps > 1e-3).sum(axis=0) >= 8).all()  # each foot travels over several frames
    assert not (jumps[:, 0] > 1e-3).tolist() == (jumps[:, 1] > 1e-3).tolist()  # one after the other
    seated = feet[-1, :, :2].mean(axis=0)
    assert seated[1] > 0.25 and abs(seated[0]) < 0.1   # feet in front of the seat (facing +Y)
    assert feet[-1, :, 2].max() < 0.12                 # and on the floor
