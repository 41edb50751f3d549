"""Rendering shot frames from scene.blend (bpy): engine set-up and the resumable frame loop."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable

import bpy
import numpy as np

from ..console import quiet_output
from ..errors import FilmCrewError
from ..fsutil import atomic_copy, atomic_write_json
from ..staging.timeline import ShotRange
from .shots import RenderSettings

ENGINES = {"cycles": "CYCLES", "workbench": "BLENDER_WORKBENCH", "eevee": "BLENDER_EEVEE"}


def engine_id(name: str) -> str:
    key = name.lower()
    if key not in ENGINES:
        raise FilmCrewError(f"unknown engine '{name}' (choose from {', '.join(ENGINES)})")
    return ENGINES[key]


def _enable_gpu_if_present(scene: bpy.types.Scene) -> None:
    """Cycles on the GPU when one is present; the CPU otherwise."""
    scene.cycles.device = "CPU"
    prefs = bpy.context.preferences.addons.get("cycles")
    if prefs is None:
        return
    cycles_prefs = prefs.preferences
    for backend in ("OPTIX", "CUDA", "HIP", "METAL", "ONEAPI"):
        try:
            cycles_prefs.compute_device_type = backend
        except TypeError:
            continue
        cycles_prefs.get_devices()
        gpus = [d for d in cycles_prefs.devices if d.type != "CPU"]
        if gpus:
            for device in cycles_prefs.devices:
                device.use = device.type != "CPU"
            scene.cycles.device = "GPU"
            return
    cycles_prefs.compute_device_type = "NONE"


def configure_render(scene: bpy.types.Scene, *, settings: RenderSettings) -> None:
    """Engine, samples, size and output format for preview frames."""
    render = scene.render
    render.engine = settings.engine
    render.resolution_x, render.resolution_y = settings.resolution
    render.resolution_percentage = 100
    render.image_settings.file_format = "PNG"
    render.image_settings.color_mode = "RGB"
    render.image_settings.color_depth = "8"
    render.use_file_extension = False
    render.use_persistent_data = True
    if settings.engine == "CYCLES":
        _enable_gpu_if_present(scene)
        scene.cycles.samples = settings.samples
        scene.cycles.seed = settings.seed
        scene.cycles.use_adaptive_sampling = True
        scene.cycles.use_denoising = True
        scene.cycles.denoiser = "OPENIMAGEDENOISE"
        # Balanced quality with a fast prefilter: as clean as the default at 4 samples, and
        # 0.6 s a frame cheaper at 480x270 on 2 cores.
        scene.cycles.denoising_prefilter = "FAST"
        scene.cycles.denoising_quality = "BALANCED"
        # Preview light paths: one diffuse bounce plus the AO approximation of the rest
        # (fast GI) halves the cost of a frame with no visible loss at preview size.
        scene.cycles.use_fast_gi = True
        scene.cycles.fast_gi_method = "REPLACE"
        scene.cycles.max_bounces = 4
        scene.cycles.diffuse_bounces = 1
        scene.cycles.glossy_bounces = 1
        scene.cycles.transmission_bounces = 2
        scene.cycles.transparent_max_bounces = 4
    elif settings.engine == "BLENDER_WORKBENCH":
        shading = scene.display.shading
        shading.light = "STUDIO"
        shading.color_type = "MATERIAL"
        shading.show_shadows = True
        shading.show_cavity = True


def _render_to(scene: bpy.types.Scene, target: Path) -> None:
    tmp = target.with_name(f".{target.stem}.tmp.png")
    scene.render.filepath = str(tmp)
    with quiet_output():
        bpy.ops.render.render(write_still=True)
    if not tmp.exists():
        raise FilmCrewError("Blender rendered no image", path=target)
    os.replace(tmp, target)


def _camera_for(scene: bpy.types.Scene, shot_id: str) -> bpy.types.Object:
    camera = bpy.data.objects.get(f"CAM_{shot_id}")
    if camera is None:
        raise FilmCrewError(f"scene.blend has no camera for shot {shot_id}; run `filmcrew stage` again")
    return camera


def joint_positions(scene: bpy.types.Scene, names: list[str]) -> dict[str, np.ndarray]:
    """World positions of every bone head of each visible character at the current frame."""
    result = {}
    for name in names:
        armature = bpy.data.objects.get(name)
        if armature is None or armature.hide_render:
            continue
        world = np.array(armature.matrix_world)
        heads = np.array([list(b.head) + [1.0] for b in armature.pose.bones])
        result[name] = (heads @ world.T)[:, :3].astype(np.float32)
    return result


def render_shot(*, scene: bpy.types.Scene, shot_range: ShotRange, rgb_dir: Path, keys: list[str],
                on_frame: Callable[[int, bool], None] | None = None) -> None:
    """Render the missing frames of one shot into ``rgb_dir`` as NNNN.png.

    Frames already on disk are kept (an interrupted run resumes); a frame whose key equals
    the previous frame's is a copy of it.
    """
    rgb_dir.mkdir(parents=True, exist_ok=True)
    for leftover in rgb_dir.glob(".*.tmp.png"):  # from a run killed mid-frame
        leftover.unlink()
    scene.camera = _camera_for(scene, shot_range.shot)
    previous: Path | None = None
    for local, frame in enumerate(range(shot_range.start_frame, shot_range.end_frame + 1)):
        target = rgb_dir / f"{local + 1:04d}.png"
        rendered = False
        if not target.exists():
            if previous is not None and keys[local] == keys[local - 1]:
                atomic_copy(previous, target)
            else:
                scene.frame_set(frame)
                scene.camera = _camera_for(scene, shot_range.shot)
                _render_to(scene, target)
                rendered = True
        previous = target
        if on_frame:
            on_frame(local, rendered)


def record_joints(*, scene: bpy.types.Scene, shot_range: ShotRange, names: list[str],
                  path: Path) -> list[str]:
    """Save every character's bone heads per frame of the shot to ``path`` (.npz)."""
    arrays: dict[str, list[np.ndarray]] = {}
    bone_names: list[str] = []
    count = shot_range.frame_count
    for local, frame in enumerate(range(shot_range.start_frame, shot_range.end_frame + 1)):
        scene.frame_set(frame)
        for name, heads in joint_positions(scene, names).items():
            if not bone_names:
                bone_names = [b.name for b in bpy.data.objects[name].pose.bones]
            arrays.setdefault(name, [np.full_like(heads, np.nan)] * count)[local] = heads
    tmp = path.with_name(f".{path.stem}.tmp.npz")
    np.savez_compressed(tmp, bones=np.array(bone_names), **{k: np.stack(v) for k, v in arrays.items()})
    os.replace(tmp, path)
    return sorted(arrays)


def clear_frames(rgb_dir: Path) -> None:
    """Remove a shot's stale frames before rendering it anew."""
    if rgb_dir.exists():
        shutil.rmtree(rgb_dir)


def write_shot_state(path: Path, *, inputs_hash: str, frames: int, complete: bool) -> None:
    atomic_write_json(path, {"inputs_hash": inputs_hash, "frames": frames, "complete": complete})
