"""Refinement without a model: sizes, windows, frame rates, control videos, references,
prompts, quality figures, the film's cut and the one-line errors. No torch needed."""

from __future__ import annotations

import itertools
import json
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest
from filmcrew.errors import FilmCrewError
from filmcrew.refine.control import GENERATE, build_control, shot_sources, to_rgb8
from filmcrew.refine.geometry import (
    blend_weights,
    blend_windows,
    plan_windows,
    resample_indices,
    snap_frames_up,
    snap_size,
)
from filmcrew.refine.metrics import (
    edge_f1,
    flicker,
    merge_report,
    read_flow,
    warp_error,
)
from filmcrew.refine.video import FilmPiece, cut_film, probe, read_video, write_video
from PIL import Image

FFMPEG = shutil.which("ffmpeg")


# --------------------------------------------------------------------------- geometry

@pytest.mark.parametrize("source, requested, expected", [
    ((96, 54), (832, 480), (832, 464)),
    ((480, 270), (832, 480), (832, 464)),
    ((1920, 1080), (1280, 720), (1280, 720)),
    ((270, 480), (832, 480), (272, 480)),
    ((96, 54), (64, 32), (64, 32)),
    ((100, 100), (832, 480), (480, 480)),
])
def test_snap_size_fits_the_box_keeps_the_aspect_and_is_a_multiple_of_16(source, requested, expected):
    width, height = snap_size(source=source, requested=requested)
    assert (width, height) == expected
    assert width % 16 == 0 and height % 16 == 0
    assert width <= requested[0] and height <= requested[1]
    if width > 64 and height > 64:  # rounding to 16 moves the aspect by at most half a step per side
        assert abs(width / height - source[0] / source[1]) / (source[0] / source[1]) < 0.05


def test_snap_frames_up_gives_4k_plus_1():
    assert [snap_frames_up(n) for n in (1, 2, 5, 6, 81, 82)] == [1, 5, 5, 9, 81, 85]
    with pytest.raises(FilmCrewError):
        snap_frames_up(0)


@pytest.mark.parametrize("count", [1, 7, 17, 81, 82, 147, 200, 500])
def test_windows_cover_the_shot_with_4k_plus_1_frames_and_enough_overlap(count):
    windows = plan_windows(count, window=81, overlap=16)
    assert all((w.length - 1) % 4 == 0 for w in windows)
    assert windows[0].start == 0 and windows[-1].end >= count
    if count > 81:
        assert all(w.length == 81 for w in windows) and windows[-1].end == count
        overlaps = [a.end - b.start for a, b in itertools.pairwise(windows)]
        assert min(overlaps) >= 16
        assert len(windows) == -(-(count - 16) // 65)  # as few as cover it
    else:
        assert len(windows) == 1 and windows[0].length == snap_frames_up(count)


def test_window_settings_are_checked():
    with pytest.raises(FilmCrewError, match="4k\\+1"):
        plan_windows(100, window=80)
    with pytest.raises(FilmCrewError, match="overlap"):
        plan_windows(100, window=17, overlap=16)


@pytest.mark.parametrize("count", [140, 150])  # 150: three windows, some frames in all three
def test_blend_weights_sum_to_one(count):
    windows = plan_windows(count, window=81, overlap=16)
    total = np.zeros(count)
    for win, w in zip(windows, blend_weights(windows, count)):
        assert np.all(w >= 0)
        total[win.start:win.end] += w
    assert np.allclose(total, 1.0)


def test_blend_crossfades_across_the_overlap():
    windows = plan_windows(140, window=81, overlap=16)
    assert len(windows) == 2
    # Window outputs that are constant 0 and 200: the blend ramps monotonically across the overlap.
    outputs = [np.full((w.length, 2, 2, 3), value, np.uint8) for w, value in zip(windows, (0, 200))]
    blended = blend_windows(windows, outputs, 140)[:, 0, 0, 0].astype(int)
    assert blended[0] == 0 and blended[-1] == 200
    assert all(0 < blended[i] < 200 for i in range(windows[1].start, windows[0].end))
    assert np.all(np.diff(blended) >= 0)


def test_short_shot_window_pads_and_drops_the_padding():
    windows = plan_windows(7, window=81)
    assert windows[0].length == 9
    out = blend_windows(windows, [np.arange(9, dtype=np.uint8)[:, None, None, None].repeat(3, 3)], 7)
    assert out.shape == (7, 1, 1, 3) and out[-1, 0, 0, 0] == 6


def test_resampling_to_the_model_rate_and_back_returns_every_frame():
    assert list(resample_indices(5, src_fps=24, dst_fps=24)) == [0, 1, 2, 3, 4]
    to_model = resample_indices(48, src_fps=24, dst_fps=16)
    assert len(to_model) == 32 and np.all(np.diff(to_model) >= 1) and to_model[-1] <= 47
    back = resample_indices(32, src_fps=16, dst_fps=24, n_dst=48)
    assert len(back) == 48 and np.all(np.diff(back) >= 0) and back[-1] == 31
    # Round trip: each plan frame comes back from a model frame showing the same moment (±1 frame).
    assert np.max(np.abs(to_model[back] - np.arange(48))) <= 1
    assert len(resample_indices(12, src_fps=6, dst_fps=8)) == 16


# --------------------------------------------------------------------------- control

def _shot(tmp_path: Path, *, frames: int = 3, depth=True, pose=True, edges=False, size=(40, 30),
          depth16=False) -> Path:
    root = tmp_path / "prod"
    shot = root / "shots" / "S01_001"
    width, height = size
    for i in range(1, frames + 1):
        rgb = np.full((height, width, 3), 90, np.uint8)
        rgb[8:20, 10 + i:22 + i] = 230
        _save(shot / "rgb" / f"{i:04d}.png", rgb)
        if depth:
            ramp = np.tile(np.linspace(255, 0, width), (height, 1))
            if depth16:
                Image.fromarray((ramp * 257).astype(np.uint16)).save(_dir(shot / "depth" / f"{i:04d}.png"))
            else:
                _save(shot / "depth" / f"{i:04d}.png", ramp.astype(np.uint8))
        if pose:
            skeleton = np.zeros((height, width, 3), np.uint8)
            skeleton[5:25, 20] = (255, 0, 85)  # one limb in an OpenPose colour
            _save(shot / "pose" / f"{i:04d}.png", skeleton)
        if edges:
            line = np.zeros((height, width), np.uint8)
            line[:, 5] = 255
            _save(shot / "edges" / f"{i:04d}.png", line)
    (root / "manifest.json").write_text(json.dumps({"fps": 6, "resolution": list(size), "shots": [
        {"id": "S01_001", "frame_count": frames, "film_frames": [1, frames]}]}))
    return root


def _dir(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _save(path: Path, array: np.ndarray) -> None:
    Image.fromarray(array).save(_dir(path))


def _source(root: Path):
    return shot_sources(root, json.loads((root / "manifest.json").read_text()))[0]


def test_control_draws_pose_over_depth_and_the_mask_generates_everything(tmp_path):
    source = _source(_shot(tmp_path))
    control = build_control(source, size=(48, 32), spec="auto", subjects=["ANA"])
    assert control.layers == ["depth", "pose"] and control.notes == []
    assert control.frames.shape == (3, 32, 48, 3) and control.frames.dtype == np.uint8
    frame = control.frames[0]
    # Depth: near = white on the left, grey (R = G = B) where no limb is drawn.
    assert frame[16, 1, 0] > 240 and frame[16, 46, 0] < 15
    assert np.all(frame[:, :20, 0] == frame[:, :20, 2])
    # The limb keeps its exact OpenPose colour on top of the depth.
    limb = np.all(frame == (255, 0, 85), axis=2)
    assert limb.sum() >= 15 and limb[:, 22:28].any()
    mask = control.mask()
    assert mask.shape == (3, 32, 48) and np.all(mask == GENERATE) and GENERATE == 255


def test_control_16_bit_depth_is_scaled_to_8_bit(tmp_path):
    source = _source(_shot(tmp_path, depth16=True, pose=False))
    control = build_control(source, size=(48, 32), spec="depth")
    assert control.frames[0, 16, 1, 0] > 240 and control.frames[0, 16, 46, 0] < 15
    assert to_rgb8(np.array([[65535, 0]], np.uint16)).tolist() == [[[255] * 3, [0] * 3]]


def test_without_a_depth_pass_control_falls_back_to_canny_edges_and_says_so(tmp_path):
    source = _source(_shot(tmp_path, depth=False, pose=False))
    control = build_control(source, size=(48, 32))
    assert control.layers == ["edges(canny)"]
    assert any("no depth pass" in note and "Canny" in note for note in control.notes)
    values = set(np.unique(control.frames))
    assert values == {0, 255}  # binary edges, white on black
    assert control.frames[0].max(axis=2).sum() > 0


def test_auto_control_leaves_pose_out_of_shots_without_people(tmp_path):
    root = _shot(tmp_path)
    for path in (root / "shots" / "S01_001" / "pose").iterdir():
        _save(path, np.zeros((30, 40, 3), np.uint8))
    assert build_control(_source(root), size=(48, 32), subjects=[]).layers == ["depth"]
    assert build_control(_source(root), size=(48, 32), subjects=["ANA"]).layers == ["depth", "pose"]


def test_edges_layer_uses_the_edges_pass_when_there_is_one(tmp_path):
    source = _source(_shot(tmp_path, edges=True, pose=False))
    control = build_control(source, size=(40, 30), spec="depth,edges")
    assert control.layers == ["depth", "edges"] and control.notes == []
    assert np.all(control.frames[:, :, 5] == 255)  # the pass's white line drawn over depth
    assert np.all(control.frames[:, :, 6, 0] == control.frames[:, :, 6, 1])  # depth beside it
    with pytest.raises(FilmCrewError, match="--control"):
        build_control(source, size=(40, 30), spec="depth,sketch")


def test_a_broken_frame_is_a_one_line_error_naming_the_file(tmp_path):
    root = _shot(tmp_path)
    bad = root / "shots" / "S01_001" / "depth" / "0002.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(FilmCrewError) as error:
        build_control(_source(root), size=(48, 32))
    assert str(bad) in str(error.value) and "\n" not in str(error.value)


# --------------------------------------------------------------------------- references

def _quad(x0, x1, z0, z1, y):
    vertices = np.array([(x0, y, z0), (x1, y, z0), (x0, y, z1), (x1, y, z1)], np.float32)
    return vertices, np.array([(0, 1, 2), (1, 3, 2)], np.int32)


def write_box_kit(path: Path, appearance_key: str = "test") -> None:
    """A kit whose mesh is two quads facing the viewer: a tall back one (region BOTTOM) and a
    small front one (region TOP) over its middle."""
    from filmcrew.characters.kit import BOTTOM, TOP, CharacterKit, _kit_bytes

    back_v, back_f = _quad(-0.3, 0.3, 0.0, 1.6, 0.1)
    front_v, front_f = _quad(-0.1, 0.1, 0.6, 1.0, -0.1)
    vertices = np.concatenate([back_v, front_v])
    faces = np.concatenate([back_f, front_f + 4])
    region = np.array([BOTTOM] * 4 + [TOP] * 4, np.uint8)
    kit = CharacterKit(vertices=vertices, faces=faces, bone_names=["root"], bone_parents=np.array([-1]),
                       bone_heads=np.zeros((1, 3)), bone_tails=np.array([[0, 0, 0.1]]),
                       bone_matrices=np.eye(3)[None], weight_indices=np.zeros((8, 1), np.int16),
                       weight_values=np.ones((8, 1), np.float32), region=region, height_m=1.6,
                       appearance_key=appearance_key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_kit_bytes(kit))


def test_front_view_draws_the_nearest_surface_in_the_outfit_colours_on_white(tmp_path):
    from filmcrew.characters.kit import kit_path
    from filmcrew.plan.model import Appearance, Character, Outfit
    from filmcrew.refine.references import character_reference

    ana = Character(id="ANA", name="Ana", appearance=Appearance(outfit=Outfit(top="#ff0000", bottom="#0000ff")))
    write_box_kit(kit_path(appearance=ana.appearance, cache_dir=tmp_path / "characters"))
    path = character_reference(character=ana, characters_dir=tmp_path / "characters", cache_dir=tmp_path / "refs",
                               height=200)
    image = np.asarray(Image.open(path).convert("RGB")).astype(int)
    height, width, _ = image.shape
    assert height == 200 and width < height
    assert (image[2, 2] == 255).all()  # white background
    centre = image[height // 2, width // 2]  # the front quad covers the middle: red, shaded
    assert centre[0] > 100 and centre[1] < 30 and centre[2] < 30
    low = image[int(height * 0.85), width // 2]  # below the front quad: the blue back quad
    assert low[2] > 100 and low[0] < 30
    # Drawn once: a second call reuses the file; a new outfit colour draws a new one.
    assert character_reference(character=ana, characters_dir=tmp_path / "characters",
                               cache_dir=tmp_path / "refs", height=200) == path
    ana.appearance.outfit.top = "#00ff00"
    other = character_reference(character=ana, characters_dir=tmp_path / "characters",
                                cache_dir=tmp_path / "refs", height=200)
    assert other != path and not path.exists()


def test_a_missing_kit_says_to_stage_first(tmp_path):
    from filmcrew.plan.model import Character
    from filmcrew.refine.references import character_reference

    with pytest.raises(FilmCrewError, match="filmcrew stage"):
        character_reference(character=Character(id="ANA", name="Ana"), characters_dir=tmp_path,
                            cache_dir=tmp_path / "refs")


# --------------------------------------------------------------------------- prompts

def test_prompt_names_style_set_people_action_and_camera(samples):
    from filmcrew.agents.offline import direct_screenplay
    from filmcrew.refine.prompts import shot_prompt
    from filmcrew.screenplay import load_screenplay

    plan = direct_screenplay(screenplay=load_screenplay(samples / "coffee_shop.fountain"), fps=6,
                             resolution=(96, 54))
    shot = next(s for s in plan.shots if s.subjects == ["DANIEL"] and s.size == "MS")
    prompt = shot_prompt(plan, shot)
    daniel = plan.character("DANIEL")
    assert "previz" not in prompt.lower() and "soft daylight" in prompt.lower()
    assert "cafe" in prompt.lower() and "morning" in prompt.lower()
    assert f"{daniel.name}, a man in his 30s" in prompt and "red top" in prompt
    assert "medium shot" in prompt.lower() and "static camera" in prompt
    assert prompt == shot_prompt(plan, shot)


# --------------------------------------------------------------------------- metrics

def test_edge_f1_counts_matches_within_2_pixels():
    theirs = np.zeros((1, 40, 40), bool)
    theirs[0, :, 20] = True
    assert edge_f1(theirs, theirs)[2] == 1.0
    near = np.roll(theirs, 2, axis=2)
    assert edge_f1(near, theirs) == (1.0, 1.0, 1.0)
    far = np.roll(theirs, 3, axis=2)
    assert edge_f1(far, theirs)[2] == 0.0
    half = theirs.copy()
    half[0, 20:, 20] = False  # rows 20 and 21 are still within 2 px of row 19
    precision, recall, f1 = edge_f1(half, theirs)
    assert precision == 1.0 and recall == 22 / 40 and abs(f1 - 2 * 0.55 / 1.55) < 1e-9
    assert edge_f1(np.zeros_like(theirs), theirs) == (0.0, 0.0, 0.0)


def _moving_frames(count=4, shift=2, size=(48, 32)):
    width, height = size
    xs = np.arange(width)
    frames = []
    for t in range(count):
        row = (128 + 100 * np.sin((xs - shift * t) / 4.0)).astype(np.uint8)
        frames.append(np.repeat(np.tile(row, (height, 1))[:, :, None], 3, axis=2))
    return np.stack(frames)


def test_warp_error_is_zero_along_the_true_motion_and_large_along_a_wrong_one(tmp_path):
    from filmcrew.render.passes import write_exr

    frames = _moving_frames()
    true = np.zeros((32, 48, 2), np.float32)
    true[..., 0] = 2.0
    write_exr(tmp_path / "0002.exr", {"X": true[..., 0], "Y": true[..., 1]})
    flow = read_flow(tmp_path / "0002.exr")
    assert flow.shape == (32, 48, 2) and np.allclose(flow[..., 0], 2.0)
    flows = [np.zeros_like(true)] + [true] * 3
    assert warp_error(frames, flows, render_size=(48, 32)) < 0.5
    wrong = [np.zeros_like(true)] + [-true] * 3
    assert warp_error(frames, wrong, render_size=(48, 32)) > 10
    # Flow at a render twice the size is scaled to the frames.
    big = np.repeat(np.repeat(true * 2, 2, axis=0), 2, axis=1)
    assert warp_error(frames, [big] * 4, render_size=(96, 64)) < 0.5


def test_flicker_is_zero_for_a_still_shot_and_grows_with_change():
    still = np.full((5, 8, 8, 3), 100, np.uint8)
    assert flicker(still) == 0.0
    noisy = still.copy()
    noisy[1::2] = 110
    assert abs(flicker(noisy) - 10.0) < 1e-4
    assert flicker(still[:1]) is None


def test_merge_report_keeps_other_keys_and_other_shots(tmp_path):
    (tmp_path / "report.json").write_text(json.dumps({"continuity": {"jump_cuts": 0},
                                                      "refine": {"S01_001": {"edge_f1": 0.5}}}))
    merge_report(tmp_path, {"S01_002": {"edge_f1": 0.8}})
    merge_report(tmp_path, {"S01_001": {"edge_f1": 0.7}})
    report = json.loads((tmp_path / "report.json").read_text())
    assert report == {"continuity": {"jump_cuts": 0},
                      "refine": {"S01_001": {"edge_f1": 0.7}, "S01_002": {"edge_f1": 0.8}}}


# --------------------------------------------------------------------------- the film

needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason="needs ffmpeg")


def make_animatic(path: Path, frames: np.ndarray, fps: int, *, audio: bool = True) -> None:
    """An animatic of ``frames`` with (optionally) a sine tone as its audio track."""
    plain = path.with_name("plain.mp4")
    write_video(frames, fps=fps, out=plain)
    if not audio:
        plain.replace(path)
        return
    seconds = len(frames) / fps
    subprocess.run([FFMPEG, "-v", "error", "-y", "-i", str(plain), "-f", "lavfi", "-i",
                    f"sine=frequency=440:duration={seconds}", "-map", "0:v", "-map", "1:a", "-c:v", "copy",
                    "-c:a", "aac", "-shortest", str(path)], check=True)
    plain.unlink()


@needs_ffmpeg
def test_the_film_cuts_refined_shots_and_animatic_pieces_with_audio_and_subtitles(tmp_path):
    animatic_frames = np.zeros((18, 54, 96, 3), np.uint8)
    animatic_frames[:, :, :, 1] = 200  # green animatic
    make_animatic(tmp_path / "animatic.mp4", animatic_frames, 6)
    srt = tmp_path / "subtitles.srt"
    srt.write_text("1\n00:00:00,500 --> 00:00:02,000\nANA: Hello.\n")
    refined = np.zeros((8, 32, 64, 3), np.uint8)
    refined[..., 0] = 220  # red refined shot
    write_video(refined, fps=6, out=tmp_path / "refined" / "A.mp4")
    pieces = [FilmPiece("A", tmp_path / "refined" / "A.mp4", 0, 8), FilmPiece("B", None, 8, 10)]
    streams = cut_film(pieces=pieces, animatic=tmp_path / "animatic.mp4", srt=srt, fps=6, size=(64, 32),
                       out=tmp_path / "film.mp4")
    assert streams == ("video", "audio", "subtitle")
    info = probe(tmp_path / "film.mp4")
    assert (info.width, info.height, info.fps) == (64, 32, 6.0)
    film = read_video(tmp_path / "film.mp4")
    assert len(film) == 18
    assert film[3, 16, 32, 0] > 180 and film[3, 16, 32, 1] < 60  # refined shot first
    assert film[12, 16, 32, 1] > 160 and film[12, 16, 32, 0] < 60  # then the animatic's frames
    audio = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
                            "stream=duration", "-of", "csv=p=0", str(tmp_path / "film.mp4")],
                           capture_output=True, text=True, check=True)
    assert abs(float(audio.stdout) - 3.0) < 0.1


# --------------------------------------------------------------------------- stopping at once

def test_refine_without_weights_stops_at_once_with_one_line(tmp_path, capsys):
    from filmcrew.cli import main

    root = _shot(tmp_path)
    (root / "plan.json").write_text("{}")
    assert main(["-q", "refine", str(root), "--model", str(tmp_path / "no-model")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no-model" in err and "no model here" in err
    empty = tmp_path / "empty-model"
    (empty / "transformer").mkdir(parents=True)
    (empty / "model_index.json").write_text(json.dumps({"_class_name": "WanVACEPipeline",
                                                        "transformer": ["diffusers", "WanVACETransformer3DModel"]}))
    assert main(["-q", "refine", str(root), "--model", str(empty)]) == 2
    assert "weights missing: no .safetensors in transformer/" in capsys.readouterr().err


def test_a_model_id_not_in_the_cache_is_refused_without_downloading(tmp_path, monkeypatch):
    from filmcrew.refine.backends import resolve_model

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    with pytest.raises(FilmCrewError, match="neither a folder here nor in the Hugging Face cache"):
        resolve_model("Wan-AI/Wan2.1-VACE-1.3B-diffusers")
    assert not (tmp_path / "hf").exists() or not any((tmp_path / "hf").rglob("*.safetensors"))


def test_cpu_refuses_a_full_size_model(tmp_path):
    from filmcrew.refine.backends import check_cpu_size

    folder = tmp_path / "big" / "transformer"
    folder.mkdir(parents=True)
    header = json.dumps({"w": {"dtype": "BF16", "shape": [1536, 100_000], "data_offsets": [0, 0]}}).encode()
    (folder / "diffusion_pytorch_model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header)
    with pytest.raises(FilmCrewError, match="--device cpu is for tiny test models; this transformer has 0.15 B"):
        check_cpu_size(tmp_path / "big", "cpu")
    check_cpu_size(tmp_path / "big", "cuda")
