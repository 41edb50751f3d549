"""Conditioning passes: hand-computed cases for the pure writers, a golden render, and a tiny
production checked pass by pass (pose on the bodies, stable segmentation, shot-wide depth)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from filmcrew.errors import FilmCrewError
from filmcrew.render import passes as w
from filmcrew.render.pose import BODY_COLOURS, BODY_LIMBS, Camera, draw_pose, visibility

GOLDEN = Path(__file__).resolve().parent / "golden" / "passes"
SCREENPLAY = """Title: The Window

INT. CORNER CAFE - DAY

A quiet cafe in the afternoon.

MAYA (30s, tired) stands by the door. She walks to the counter.

MAYA
Nobody ever answers the bell in here.

She turns to the window.

MAYA
Fine. I will wait.
"""


def png(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


# --------------------------------------------------------------------------- pure writers

def test_pass_list_is_parsed_in_canonical_order_with_rgb():
    assert w.parse_passes("pose, depth") == ("rgb", "depth", "pose")
    assert w.parse_passes(None) == w.PASSES == w.parse_passes("all")
    with pytest.raises(FilmCrewError, match="unknown pass 'mist'"):
        w.parse_passes("depth,mist")


def test_depth_png_is_disparity_normalised_over_the_whole_shot():
    first = np.array([[2.0, 4.0], [np.inf, 2.0]], dtype=np.float32)
    second = np.array([[1.0, 2.0], [4.0, 8.0]], dtype=np.float32)
    near, far = w.shot_depth_range([first, second])
    assert (near, far) == (1.0, 8.0)
    # disparity 1/z scaled so 1/near -> 255 and 1/far -> 0: (1/z - 1/8) / (1 - 1/8) * 255
    expected = lambda z: round((1 / z - 0.125) / 0.875 * 255)  # noqa: E731
    assert w.depth_to_png(first, near, far).tolist() == [[expected(2), expected(4)], [0, expected(2)]]
    assert w.depth_to_png(second, near, far).tolist() == [[255, expected(2)], [expected(4), 0]]
    # the same depth is the same grey in every frame of the shot: no flicker
    assert w.depth_to_png(first, near, far)[0, 0] == w.depth_to_png(second, near, far)[0, 1] == 109


def test_segment_colours_come_from_the_id_alone():
    maya = w.segment_colour("character", "MAYA")
    assert maya == w.segment_colour("character", "MAYA")
    assert all(48 <= c <= 255 for c in maya)
    labels = [("character", "MAYA"), ("character", "DANIEL"), ("prop", "chair"), ("prop", "table")]
    assert len({w.segment_colour(*label) for label in labels}) == len(labels)
    index = np.array([[0, 3], [7, 3]])
    image = w.segment_to_png(index, {3: maya})
    assert image[0, 1].tolist() == list(maya) and image[0, 0].tolist() == [0, 0, 0]
    assert image[1, 0].tolist() == [0, 0, 0]  # an index with no label is background


def test_pose_drawing_follows_openpose_colours_and_hides_occluded_joints():
    points = np.zeros((18, 2))
    visible = np.zeros(18, dtype=np.int8)
    points[1], points[2], points[3] = (30.5, 20.5), (60.5, 20.5), (60.5, 40.5)  # neck, r_shoulder, r_elbow
    visible[1], visible[2], visible[3] = 2, 2, 1  # the elbow is hidden
    image = draw_pose(96, 64, [{"body": (points, visible)}])
    limb = BODY_LIMBS.index((1, 2))
    assert image[20, 45].tolist() == [int(c * 0.6) for c in BODY_COLOURS[limb]]  # limb at 60 %
    assert image[20, 30].tolist() == list(BODY_COLOURS[1])  # neck disc
    assert image[20, 60].tolist() == list(BODY_COLOURS[2])  # right shoulder disc
    assert image[40, 60].tolist() == [0, 0, 0]  # hidden elbow: no disc
    assert image[32, 60].tolist() == [0, 0, 0]  # and no limb to it
    assert image[20, 35 + 4].tolist() != [0, 0, 0] and image[26, 45].tolist() == [0, 0, 0]  # 4 px half-width


def test_projection_and_occlusion_by_hand():
    camera = Camera(world_from_camera=np.eye(4), focal_mm=36.0, sensor_mm=36.0, width=100, height=50)
    projected = camera.project(np.array([[0.0, 0.0, -2.0], [1.0, 0.5, -2.0], [0.0, 0.0, 1.0]]))
    assert projected[0].tolist() == [50.0, 25.0, 2.0]          # straight ahead: the centre
    assert projected[1].tolist() == [100.0, 0.0, 2.0]          # fx = 100 px: 0.5 * 100 right, 0.25 * 100 up
    assert projected[2][2] < 0                                  # behind the camera
    depth = np.full((50, 100), 3.0, dtype=np.float32)
    depth[20:30, 45:55] = 1.0                                   # something 1 m away in the middle
    tolerance = np.array([0.1, 0.1, 0.1])
    points = camera.project(np.array([[0.0, 0.0, -2.0], [-0.5, 0.0, -2.0], [0.0, 0.0, 1.0]]))
    assert visibility(points, depth, tolerance).tolist() == [1, 2, 0]  # hidden, visible, not in frame


def test_geometric_edges_mark_breaks_not_slopes():
    rows, cols = np.mgrid[0:20, 0:30]
    plane = 1.0 / (0.2 + 0.01 * rows + 0.004 * cols)           # a tilted plane: disparity is linear
    assert w.geometric_edges(depth=plane.astype(np.float32), normal=None, index=None).max() == 0
    step = plane.copy()
    step[:, 15:] *= 0.5                                         # a box nearer the camera from column 15
    edges = w.geometric_edges(depth=step.astype(np.float32), normal=None, index=None)
    assert set(np.nonzero(edges)[1]) == {15}                   # one line, on the nearer side
    index = np.zeros((20, 30), dtype=np.int32)
    index[5:10, 5:10] = 2
    edges = w.geometric_edges(depth=plane.astype(np.float32), normal=None, index=index)
    assert edges[5:10, 5:10].any() and not edges[12:, :].any()


def test_flow_colour_code_is_white_when_still_and_saturated_at_scale():
    flow = np.zeros((2, 2, 2), dtype=np.float32)
    flow[0, 1] = (10.0, 0.0)
    image = w.flow_to_png(flow, scale=10.0)
    assert image[0, 0].tolist() == [255, 255, 255]
    assert min(image[0, 1]) < 30                               # fully saturated hue


# --------------------------------------------------------------------------- golden render

def _golden_scene():
    import bpy
    from mathutils import Matrix

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    bpy.ops.mesh.primitive_plane_add(size=8.0)
    bpy.context.object["kind"] = "floor"
    bpy.ops.mesh.primitive_cube_add(size=1.0, location=(0.0, 0.0, 0.5))
    bpy.context.object["kind"] = "table"
    bpy.ops.mesh.primitive_uv_sphere_add(radius=0.4, location=(1.2, 0.6, 0.4))
    bpy.context.object["kind"] = "plant"
    light = bpy.data.objects.new("Sun", bpy.data.lights.new("Sun", "SUN"))
    light.rotation_euler = (0.6, 0.2, 0.4)
    scene.collection.objects.link(light)
    camera = bpy.data.objects.new("CAM_G01", bpy.data.cameras.new("CAM_G01"))
    camera.data.lens, camera.data.sensor_width, camera.data.sensor_fit = 30.0, 36.0, "HORIZONTAL"
    scene.collection.objects.link(camera)
    position = np.array([4.0, -4.0, 3.0])
    forward = -position / np.linalg.norm(position)
    right = np.cross(forward, [0, 0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    matrix = np.eye(4)
    matrix[:3, :3] = np.stack([right, up, -forward], axis=1)
    matrix[:3, 3] = position
    camera.matrix_world = Matrix(matrix.tolist())
    scene.frame_start, scene.frame_end = 1, 2
    return scene


@pytest.mark.slow
def test_golden_render_of_every_pass(tmp_path):
    from filmcrew.render.frames import FrameRenderer, ShotJob, configure_render, render_shot
    from filmcrew.render.shots import RenderSettings

    scene = _golden_scene()
    settings = RenderSettings(engine="CYCLES", samples=2, resolution=(96, 54), seed=0)
    configure_render(scene, settings=settings, threads=1)
    renderer = FrameRenderer(scene=scene, settings=settings, passes=w.PASSES, characters=[])
    job = ShotJob(shot="G01", start_frame=1, end_frame=2, keys=["a", "a"], shot_dir=tmp_path)
    render_shot(renderer=renderer, job=job)
    names = ["rgb", "depth", "normal", "segment", "edges"]
    if os.environ.get("FILMCREW_UPDATE_GOLDEN"):
        GOLDEN.mkdir(parents=True, exist_ok=True)
        for name in names:
            shutil.copyfile(tmp_path / name / "0001.png", GOLDEN / f"{name}.png")
    for name in names:
        got, want = png(tmp_path / name / "0001.png").astype(int), png(GOLDEN / f"{name}.png").astype(int)
        assert got.shape == want.shape, name
        differing = np.mean(np.any(np.abs(got - want).reshape(*got.shape[:2], -1) > 12, axis=-1))
        assert differing < 0.02, f"{name}: {differing:.1%} of pixels differ from the golden image"
        assert np.abs(got - want).mean() < 4.0, name
    # the second frame has the same key: a copy, with zero motion
    assert (tmp_path / "rgb" / "0002.png").read_bytes() == (tmp_path / "rgb" / "0001.png").read_bytes()
    assert np.all(w.read_exr(tmp_path / "flow" / "0002.exr")["X"] == 0)
    legend = json.loads((tmp_path / "segment" / "legend.json").read_text())
    assert {e["id"] for e in legend} >= {"floor", "table", "plant"}
    table = next(e for e in legend if e["id"] == "table")
    assert table["rgb"] == list(w.segment_colour("prop", "table"))
    segment = png(tmp_path / "segment" / "0001.png")
    assert (segment == table["rgb"]).all(axis=-1).sum() > 150  # the table is on screen in its colour


# --------------------------------------------------------------------------- a tiny production

@pytest.fixture(scope="module")
def window(tmp_path_factory) -> Path:
    from filmcrew.pipeline import make_production

    root = tmp_path_factory.mktemp("window")
    script = root / "window.fountain"
    script.write_text(SCREENPLAY)
    out = root / "out"
    make_production(screenplay=script, out=out, fps=6, resolution=(96, 54), samples=2)
    return out


def _manifest(out: Path):
    from filmcrew.render.manifest import load_manifest

    return load_manifest(out / "manifest.json")


@pytest.mark.slow
def test_every_pass_of_every_frame_is_written_and_hashed(window):
    from filmcrew.fsutil import sha256_file

    manifest = _manifest(window)
    assert manifest.passes == list(w.PASSES)
    assert len(manifest.shots) >= 2
    for shot in manifest.shots:
        assert len(shot.frames) == shot.frame_count == len(shot.camera.world_from_camera)
        for frame in shot.frames:
            assert set(frame.files) == {"rgb", "depth", "depth_exr", "normal", "segment", "pose", "edges",
                                        "flow", "flow_png"}
            for rel in frame.files.values():
                assert shot.content_hashes[rel] == sha256_file(window / rel)
            assert np.array(frame.camera.K).shape == (3, 3)
            assert np.array(frame.camera.world_from_camera).shape == (4, 4)
        assert shot.depth_range and shot.depth_range["near_m"] < shot.depth_range["far_m"]


@pytest.mark.slow
def test_depth_png_uses_one_range_per_shot(window):
    manifest = _manifest(window)
    for shot in manifest.shots:
        near, far = shot.depth_range["near_m"], shot.depth_range["far_m"]
        for frame in shot.frames[:: max(1, shot.frame_count // 4)]:
            depth = w.read_exr(window / frame.files["depth_exr"])["Z"]
            assert png(window / frame.files["depth"]).tolist() == w.depth_to_png(depth, near, far).tolist()


@pytest.mark.slow
def test_a_character_has_one_segmentation_colour_in_every_shot(window):
    manifest = _manifest(window)
    maya = next(label for label in manifest.segmentation if label.kind == "character" and label.id == "MAYA")
    assert maya.rgb == list(w.segment_colour("character", "MAYA"))
    seen_in = set()
    for shot in manifest.shots:
        for frame in shot.frames:
            person = frame.characters.get("MAYA")
            if person is None or sum(v == 2 for v in person.v) < 4:
                continue
            segment = png(window / frame.files["segment"])
            if (segment == maya.rgb).all(axis=-1).sum() > 20:
                seen_in.add(shot.id)
    assert seen_in == {s.id for s in manifest.shots if any(
        f.characters.get("MAYA") and sum(v == 2 for v in f.characters["MAYA"].v) >= 4 for f in s.frames)}
    assert len(seen_in) >= 2


@pytest.mark.slow
def test_pose_keypoints_land_on_the_body(window):
    manifest = _manifest(window)
    colour = np.array(w.segment_colour("character", "MAYA"))
    on_body = total = 0
    for shot in manifest.shots:
        for frame in shot.frames:
            person = frame.characters.get("MAYA")
            if person is None:
                continue
            mask = (png(window / frame.files["segment"]) == colour).all(axis=-1)
            pose = png(window / frame.files["pose"])
            for (x, y), v in zip(person.xy, person.v):
                if v != 2:
                    continue
                col, row = int(x), int(y)
                total += 1
                patch = mask[max(0, row - 2):row + 3, max(0, col - 2):col + 3]
                on_body += bool(patch.any())
                assert pose[max(0, row - 1):row + 2, max(0, col - 1):col + 2].any()  # drawn there
    assert total > 50
    assert on_body / total > 0.9, f"only {on_body}/{total} visible keypoints on the body"


@pytest.mark.slow
def test_flow_matches_the_motion_of_the_keypoints(window):
    manifest = _manifest(window)
    errors, moving = [], 0
    for shot in manifest.shots:
        for before, frame in zip(shot.frames, shot.frames[1:]):
            a, b = before.characters.get("MAYA"), frame.characters.get("MAYA")
            if a is None or b is None:
                continue
            flow = w.read_exr(window / frame.files["flow"])
            for k in (1, 8, 11):  # neck and hips: big, steady targets
                if a.v[k] == 2 and b.v[k] == 2:
                    motion = np.subtract(b.xy[k], a.xy[k])
                    if np.hypot(*motion) < 0.3:
                        continue
                    moving += 1
                    col, row = int(b.xy[k][0]), int(b.xy[k][1])
                    errors.append(np.hypot(*(motion - [flow["X"][row, col], flow["Y"][row, col]])))
    assert moving >= 3
    assert np.median(errors) < 0.5


@pytest.mark.slow
def test_the_pass_list_is_part_of_the_shot_hash(window, tmp_path):
    from filmcrew.pipeline import render_production

    out = tmp_path / "out"
    shutil.copytree(window, out)
    result = render_production(out=out, samples=2, passes="rgb,depth", workers=1)
    assert result.figures["shots_rendered"] == len(_manifest(out).shots)
    shot = out / "shots" / _manifest(out).shots[0].id
    assert sorted(p.name for p in shot.iterdir() if p.is_dir()) == ["depth", "keypoints", "rgb"]
    again = render_production(out=out, samples=2, passes="depth,rgb", workers=1)
    assert again.figures["frames_drawn"] == 0
