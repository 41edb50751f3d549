"""Refinement through real diffusers pipelines built from tiny configs with random weights, on
the CPU: the backends, determinism, mask polarity, references, the worker, resume after a
failure, cancellation and the film. Nothing is downloaded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("diffusers")
torch = pytest.importorskip("torch")

from filmcrew.errors import FilmCrewError
from filmcrew.refine.backends import (
    MemoryOptions,
    WanVACEBackend,
    WindowInput,
    find_model,
)
from filmcrew.refine.control import GENERATE, KEEP
from filmcrew.refine.run import RefineSettings, run_refine
from filmcrew.refine.video import probe, read_video

FPS = 6
RENDER = (96, 54)
SHOTS = (("A_001", 10), ("A_002", 7))


@pytest.fixture(scope="module")
def tiny_wan(tmp_path_factory) -> Path:
    from filmcrew.refine.tiny import make_tiny_wan_vace

    return make_tiny_wan_vace(tmp_path_factory.mktemp("models") / "wan", fps=8, window=17)


@pytest.fixture(scope="module")
def wan(tiny_wan) -> WanVACEBackend:
    model = find_model(str(tiny_wan))
    return WanVACEBackend.load(model.path, device="cpu", memory=MemoryOptions(dtype="fp32"), settings=model.settings)


# --------------------------------------------------------------------------- a production

def _frame(t: int, width: int, height: int) -> np.ndarray:
    """A grey room with a bright block sliding right by 2 px per frame."""
    rgb = np.full((height, width, 3), 70, np.uint8)
    rgb[height // 3:, :] = 120
    rgb[10:40, 20 + 2 * t:44 + 2 * t] = (200, 160, 120)
    return rgb


def make_production(root: Path) -> Path:
    """plan.json, a character kit, two shots with rgb/depth/pose/edges/flow, the manifest, an
    animatic with a sine-tone audio track and subtitles: what `filmcrew render` leaves."""
    from filmcrew.characters.kit import kit_path
    from filmcrew.plan.io import save_plan
    from filmcrew.plan.model import (
        Character,
        DialogueBeat,
        Heading,
        Mark,
        PauseBeat,
        Placement,
        Plan,
        Scene,
        SetSpec,
        Shot,
    )
    from filmcrew.render.passes import write_exr
    from test_refine import make_animatic, write_box_kit

    ana = Character(id="ANA", name="Ana")
    plan = Plan(title="Tiny", fps=FPS, resolution=RENDER, characters=[ana],
                sets=[SetSpec(id="room", kind="living_room", marks=[Mark(id="sofa", position=(0.0, 0.0))])],
                scenes=[Scene(id="S1", heading=Heading(location="ROOM", time="NIGHT"), set="room", cast=["ANA"],
                              start=[Placement(character="ANA", mark="sofa")],
                              beats=[DialogueBeat(character="ANA", text="Hello there.", duration=10 / FPS),
                                     PauseBeat(text="The lamp flickers.", duration=7 / FPS)])],
                shots=[Shot(id="A_001", scene="S1", first_beat=0, last_beat=0, subjects=["ANA"]),
                       Shot(id="A_002", scene="S1", first_beat=1, last_beat=1, framing="insert", size="CU")])
    root.mkdir(parents=True)
    save_plan(plan, root / "plan.json")
    write_box_kit(kit_path(appearance=ana.appearance, cache_dir=root / "characters"))
    width, height = RENDER
    entries, start, film = [], 1, []
    for shot, count in SHOTS:
        folder = root / "shots" / shot
        for t in range(count):
            name = f"{t + 1:04d}.png"
            rgb = _frame(t, width, height)
            film.append(rgb)
            for pass_name, array in (
                    ("rgb", rgb),
                    ("depth", np.tile(np.linspace(40, 255, width).astype(np.uint8), (height, 1))),
                    ("pose", _pose(t, width, height)),
                    ("edges", _edges(rgb))):
                (folder / pass_name).mkdir(parents=True, exist_ok=True)
                Image.fromarray(array).save(folder / pass_name / name)
            motion = np.zeros((height, width), np.float32)
            if t:
                motion[10:40, 20 + 2 * t:44 + 2 * t] = 2.0
            write_exr(folder / "flow" / f"{t + 1:04d}.exr", {"X": motion, "Y": np.zeros_like(motion)})
        entries.append({"id": shot, "scene": "S1", "frame_count": count, "film_frames": [start, start + count - 1]})
        start += count
    (root / "manifest.json").write_text(json.dumps({"schema_version": 1, "fps": FPS, "resolution": list(RENDER),
                                                    "frame_count": start - 1, "shots": entries}))
    make_animatic(root / "animatic.mp4", np.stack(film), FPS)
    (root / "subtitles.srt").write_text("1\n00:00:00,200 --> 00:00:01,600\nANA: Hello there.\n")
    (root / "report.json").write_text(json.dumps({"continuity": {"jump_cuts": 0}}))
    return root


def _pose(t: int, width: int, height: int) -> np.ndarray:
    pose = np.zeros((height, width, 3), np.uint8)
    pose[12:38, 31 + 2 * t] = (255, 0, 85)
    pose[20, 26 + 2 * t:37 + 2 * t] = (0, 255, 0)
    return pose


def _edges(rgb: np.ndarray) -> np.ndarray:
    from filmcrew.refine.control import canny_edges

    return canny_edges(rgb)


def settings(root: Path, model: Path, **changes) -> RefineSettings:
    values = {"out": str(root), "model": str(model), "device": "cpu", "size": (64, 32), "steps": 2,
              "memory": MemoryOptions(dtype="fp32")}
    values.update(changes)
    return RefineSettings(**values)


# --------------------------------------------------------------------------- backends

def _window(frames=9, seed=0, references=()) -> WindowInput:
    control = np.zeros((frames, 32, 64, 3), np.uint8)
    control[:, :, :32] = 200
    return WindowInput(control=control, mask=np.full((frames, 32, 64), GENERATE, np.uint8),
                       references=references, prompt="a woman in a blue top walks", negative_prompt="blurry",
                       seed=seed, steps=2)


def test_a_window_is_deterministic_for_a_seed(wan):
    steps = []
    first = wan.generate(_window(), on_step=lambda done, total: steps.append((done, total)))
    assert steps == [(1, 2), (2, 2)]
    assert first.shape == (9, 32, 64, 3) and first.dtype == np.uint8
    assert np.array_equal(first, wan.generate(_window()))
    assert not np.array_equal(first, wan.generate(_window(seed=1)))


def test_window_shapes_are_checked():
    control = np.zeros((8, 32, 64, 3), np.uint8)
    with pytest.raises(FilmCrewError, match="4k\\+1"):
        WindowInput(control=control, mask=np.zeros((8, 32, 64), np.uint8))
    with pytest.raises(FilmCrewError, match="multiples of 16"):
        WindowInput(control=np.zeros((9, 30, 64, 3), np.uint8), mask=np.zeros((9, 30, 64), np.uint8))


def test_mask_polarity_white_generates_every_pixel_as_vace_expects(wan):
    """Our all-white mask is VACE's "generate everything" (its default): the control goes to the
    reactive half of the conditioning latents; a black mask would keep the input instead."""
    pipe = wan.pipe
    control = [Image.fromarray(f) for f in _window().control]

    def latents(mask):
        video, mask_t, refs = pipe.preprocess_conditions(control, mask, None, 1, 32, 64, 9, torch.float32, "cpu")
        return mask_t, pipe.prepare_video_latents(video, mask_t, refs, torch.Generator().manual_seed(0), "cpu")

    white = [Image.fromarray(np.full((32, 64), GENERATE, np.uint8), mode="L")] * 9
    black = [Image.fromarray(np.full((32, 64), KEEP, np.uint8), mode="L")] * 9
    mask_white, ours = latents(white)
    mask_default, default = latents(None)
    _, kept = latents(black)
    assert torch.all(mask_white == 1) and torch.all(mask_default == 1)
    assert torch.allclose(ours, default)
    assert not torch.allclose(ours, kept)
    channels = ours.shape[1] // 2  # [inactive | reactive]: white puts the control in the reactive half
    assert torch.allclose(ours[:, :channels], default[:, :channels])
    assert not torch.allclose(ours[:, channels:], kept[:, channels:])


def test_reference_images_condition_the_window(wan):
    red = Image.new("RGB", (20, 40), (220, 30, 30))
    plain = wan.generate(_window())
    with_ref = wan.generate(_window(references=(red,)))
    assert with_ref.shape == plain.shape  # the reference's latent frame is dropped from the output
    assert not np.array_equal(plain, with_ref)


class RecordingWan(WanVACEBackend):
    """The real backend, recording what each window was given."""

    windows: ClassVar[list[WindowInput]] = []

    def generate(self, window, *, on_step=None):
        RecordingWan.windows.append(window)
        return super().generate(window, on_step=on_step)


def test_long_shot_windows_share_seed_and_references_and_blend(tmp_path, tiny_wan, monkeypatch):
    from filmcrew.refine import backends

    root = make_production(tmp_path / "prod")
    monkeypatch.setitem(backends.BACKENDS, "wan-vace", RecordingWan)
    RecordingWan.windows = []
    events = []
    style = tmp_path / "style.png"
    Image.new("RGB", (40, 30), (20, 90, 160)).save(style)
    run_refine(settings(root, tiny_wan, backend="wan-vace", window=9, overlap=4, shots=["A_001"], seed=7,
                        style_frame=str(style)), emit=events.append)
    plan = next(e for e in events if e["event"] == "plan")
    assert plan["size"] == [64, 32] and plan["model_fps"] == 8
    assert plan["shots"] == [{"shot": "A_001", "windows": 2, "frames": 13, "done": False}]  # 10 frames at 6 -> 8 fps
    windows = RecordingWan.windows
    assert len(windows) == 2
    assert all(w.control.shape == (9, 32, 64, 3) and w.seed == 7 for w in windows)
    assert len(windows[0].references) == 2 and windows[0].references is windows[1].references
    reference = np.asarray(windows[0].references[0])
    assert (reference[0, 0] == 255).all()  # Ana's front view from her kit, on white
    assert tuple(np.asarray(windows[0].references[1])[0, 0]) == (20, 90, 160)  # then the style frame
    assert windows[0].prompt == windows[1].prompt and "Ana" in windows[0].prompt
    # Control frames shared by both windows (model frames 4..8) are the same pictures.
    assert np.array_equal(windows[0].control[4:], windows[1].control[:5])
    frames = read_video(root / "refined" / "A_001.mp4")
    assert frames.shape == (10, 32, 64, 3)


# --------------------------------------------------------------------------- the whole run

@pytest.mark.slow
def test_cli_refines_every_shot_and_cuts_the_film_with_audio(tmp_path, tiny_wan, capsys):
    from filmcrew.cli import main

    root = make_production(tmp_path / "prod")
    args = ["-q", "refine", str(root), "--model", str(tiny_wan), "--device", "cpu", "--size", "64x32",
            "--steps", "2"]
    assert main(args) == 0
    out = capsys.readouterr()
    assert "2 shot(s) refined" in out.out
    for shot, count in SHOTS:
        clip = root / "refined" / f"{shot}.mp4"
        info = probe(clip)
        assert (info.width, info.height, info.fps) == (64, 32, FPS)
        frames = read_video(clip)
        assert len(frames) == count and frames.std() > 0
        state = json.loads((root / "refined" / f"{shot}.json").read_text())
        assert state["complete"] and state["size"] == "64x32" and state["model_fps"] == 8
    assert probe(root / "film.mp4").streams == ("video", "audio", "subtitle")
    assert len(read_video(root / "film.mp4")) == sum(count for _, count in SHOTS)
    report = json.loads((root / "report.json").read_text())
    assert report["continuity"] == {"jump_cuts": 0}
    figures = report["refine"]["A_001"]
    assert set(figures) >= {"edge_f1", "edge_precision", "edge_recall", "warp_error", "flicker", "flicker_render",
                            "seconds_per_frame", "size"}
    assert 0.0 <= figures["edge_f1"] <= 1.0 and figures["warp_error"] >= 0
    from filmcrew.refine import refine_metrics

    again = refine_metrics(root)
    assert {k: again["A_001"][k] for k in ("edge_f1", "warp_error", "flicker")} == \
        {k: figures[k] for k in ("edge_f1", "warp_error", "flicker")}
    # A second run does no work.
    before = {p.name: p.stat().st_mtime_ns for p in (root / "refined").glob("*.mp4")}
    assert main(args) == 0
    assert "0 shot(s) refined, 2 unchanged" in capsys.readouterr().out
    assert before == {p.name: p.stat().st_mtime_ns for p in (root / "refined").glob("*.mp4")}
    assert main([*args, "--shots", "A_001,Z_999"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "filmcrew: error: unknown shot(s) Z_999; the shots are A_001, A_002"


@pytest.mark.slow
def test_a_failed_shot_keeps_the_finished_ones_and_a_rerun_skips_them(tmp_path, tiny_wan):
    root = make_production(tmp_path / "prod")
    broken = root / "shots" / "A_002" / "depth" / "0003.png"
    good = broken.read_bytes()
    broken.write_bytes(b"\x89PNG broken")
    with pytest.raises(FilmCrewError) as error:
        run_refine(settings(root, tiny_wan), emit=lambda event: None)
    message = str(error.value)
    assert "A_002" in message and str(broken) in message and "\n" not in message
    first = root / "refined" / "A_001.mp4"
    assert first.exists() and not (root / "refined" / "A_002.mp4").exists()
    assert "A_001" in json.loads((root / "report.json").read_text())["refine"]
    kept = first.stat().st_mtime_ns
    broken.write_bytes(good)
    events = []
    figures = run_refine(settings(root, tiny_wan), emit=events.append)
    states = {e["shot"]: e["state"] for e in events if e["event"] == "shot" and e["state"] != "start"}
    assert states == {"A_001": "skipped", "A_002": "done"}
    assert figures["shots_refined"] == 1 and figures["shots_skipped"] == 1
    assert first.stat().st_mtime_ns == kept and (root / "film.mp4").exists()


@pytest.mark.slow
def test_cancel_stops_the_worker_and_keeps_finished_shots(tmp_path, tiny_wan):
    from filmcrew.refine.worker import RefineWorker

    root = make_production(tmp_path / "prod")
    worker = RefineWorker(settings(root, tiny_wan, steps=8)).start()
    seen = []
    for event in worker.events():
        seen.append(event)
        if event["event"] == "step" and event["shot"] == "A_002":
            worker.cancel()
    assert worker.wait(timeout=60) == 130
    assert seen[-1]["event"] == "error" and seen[-1]["kind"] == "cancelled"
    assert "finished shots are kept" in seen[-1]["message"]
    steps = [e for e in seen if e["event"] == "step" and e["shot"] == "A_002"]
    assert 1 <= len(steps) < 8
    assert (root / "refined" / "A_001.mp4").exists() and not (root / "refined" / "A_002.mp4").exists()
    assert not list((root / "refined").glob(".A_002*"))  # no half-written clip left behind


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_without_cuda_refine_stops_at_once_saying_so(tmp_path, tiny_wan):
    root = make_production(tmp_path / "prod")
    with pytest.raises(FilmCrewError) as error:
        run_refine(settings(root, tiny_wan, device="cuda"), emit=lambda event: None)
    assert "needs a CUDA GPU" in str(error.value) and "--device cpu is for tiny test models" in str(error.value)
    assert not (root / "refined").exists()


def test_cogvideox_fun_backend_runs_behind_the_same_interface(tmp_path):
    from filmcrew.refine.tiny import make_tiny_cogvideox_fun

    model = make_tiny_cogvideox_fun(tmp_path / "cog", fps=8, window=9)
    root = make_production(tmp_path / "prod")
    events = []
    run_refine(settings(root, model, shots=["A_002"]), emit=events.append)
    notes = [e["text"] for e in events if e["event"] == "note"]
    assert any("cogvideox-fun takes no reference images" in n for n in notes)
    assert next(e for e in events if e["event"] == "plan")["shots"][0]["frames"] == 9  # 7 frames at 6 -> 8 fps
    frames = read_video(root / "refined" / "A_002.mp4")
    assert frames.shape == (7, 32, 64, 3)
    with pytest.raises(FilmCrewError, match="needs a WanVACEPipeline folder"):
        find_model(str(model), "wan-vace")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_tiny_model_on_cuda_with_group_offload_matches_the_cpu(tiny_wan, wan):
    model = find_model(str(tiny_wan))
    gpu = WanVACEBackend.load(model.path, device="cuda", settings=model.settings,
                              memory=MemoryOptions(dtype="fp32", offload="group"))
    on_gpu = gpu.generate(_window()).astype(int)
    assert np.abs(on_gpu - wan.generate(_window()).astype(int)).mean() < 3


def test_make_tiny_model_script_writes_a_folder_refine_accepts(tmp_path, capsys):
    import importlib.util

    script = Path(__file__).resolve().parents[1] / "scripts" / "make_tiny_model.py"
    spec = importlib.util.spec_from_file_location("make_tiny_model", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main([str(tmp_path / "m"), "--backend", "cogvideox-fun"]) == 0
    model = find_model(str(tmp_path / "m"))
    assert model.backend.name == "cogvideox-fun" and model.settings.window == 9
    assert module.main([str(tmp_path / "m")]) == 2
    assert "not empty" in capsys.readouterr().err
