"""Rendering shot frames from scene.blend (bpy): engine set-up and the resumable frame loop.

One render per frame gives every pass: the engine draws the RGB preview, and with Cycles the
view layer's data passes (depth, normal, object index, vector) come out of the same render as
one multilayer EXR that ``passes`` turns into the pass files. Workbench and EEVEE lack some of
these passes (Workbench has only depth; EEVEE has no object index), so with those engines the
data passes come from a second, data-only Cycles render of the frame (1 sample, no bounces,
no denoising).

A frame is done when all its files exist, so a killed render resumes at the first missing
frame; a frame whose key equals the previous frame's is a copy of it (its motion is zero).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import bpy
import numpy as np

from ..console import quiet_output
from ..errors import FilmCrewError
from ..fsutil import atomic_copy, atomic_write_json, atomic_write_text
from ..staging.timeline import ShotRange
from . import passes as writers
from .pose import GROUPS, Camera, draw_pose, keypoint_visibility, tolerances
from .rig import RigKeypoints
from .shots import ENGINES, RenderSettings, engine_id  # noqa: F401 (re-exported)



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


def configure_render(scene: bpy.types.Scene, *, settings: RenderSettings, threads: int = 0) -> None:
    """Engine, samples, size and output format for preview frames.

    Args:
        threads: CPU threads for this Blender (0: all cores; parallel workers split them).
    """
    render = scene.render
    render.engine = settings.engine
    render.resolution_x, render.resolution_y = settings.resolution
    render.resolution_percentage = 100
    _png_output(scene)
    render.use_file_extension = False
    render.use_persistent_data = True
    render.threads_mode = "FIXED" if threads > 0 else "AUTO"
    if threads > 0:
        render.threads = threads
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
        # A one-pixel pixel filter: the data passes (depth, object index) come from one sample
        # per pixel, which the default 1.5-pixel filter scatters across neighbouring pixels,
        # fraying every object boundary; at 4 denoised samples the picture looks the same.
        scene.cycles.filter_width = 1.0
    elif settings.engine == "BLENDER_WORKBENCH":
        shading = scene.display.shading
        shading.light = "STUDIO"
        shading.color_type = "MATERIAL"
        shading.show_shadows = True
        shading.show_cavity = True


def _png_output(scene: bpy.types.Scene) -> None:
    settings = scene.render.image_settings
    if hasattr(settings, "media_type"):  # Blender 5.0+
        settings.media_type = "IMAGE"
    settings.file_format = "PNG"
    settings.color_mode = "RGB"
    settings.color_depth = "8"
    settings.compression = 15


def _exr_output(scene: bpy.types.Scene) -> None:
    settings = scene.render.image_settings
    if hasattr(settings, "media_type"):
        settings.media_type = "MULTI_LAYER_IMAGE"
    settings.file_format = "OPEN_EXR_MULTILAYER"
    settings.color_depth = "32"
    settings.exr_codec = "NONE"  # a scratch file read back at once: no time spent compressing


def _data_only_cycles(scene: bpy.types.Scene) -> None:
    """Cycles settings for a data-pass render beside another engine's picture."""
    _enable_gpu_if_present(scene)
    cycles = scene.cycles
    cycles.samples = 1
    cycles.use_adaptive_sampling = False
    cycles.use_denoising = False
    cycles.use_fast_gi = False
    cycles.max_bounces = 0
    cycles.transparent_max_bounces = 4


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


# --------------------------------------------------------------------------- segmentation labels

def _prop_class(obj: bpy.types.Object) -> str:
    kind = obj.get("kind")
    if isinstance(kind, str) and kind:
        return kind.lower()
    return obj.name.split("_")[0].split(".")[0].lower() or "set"


def _owner_character(obj: bpy.types.Object, characters: set[str]) -> str | None:
    parent = obj
    while parent is not None:
        if parent.name in characters:
            return parent.name
        parent = parent.parent
    return None


def assign_segments(scene: bpy.types.Scene, characters: list[str]) -> dict[int, tuple[str, str]]:
    """Give every mesh its object pass index: one per character, one per prop class.

    Returns:
        pass index -> (``"character"``, id) or (``"prop"``, class), index 0 being nothing.
    """
    cast = set(characters)
    labels: dict[bpy.types.Object, tuple[str, str]] = {}
    for obj in scene.objects:
        if obj.type not in {"MESH", "CURVE", "SURFACE", "META", "FONT"}:
            continue
        owner = _owner_character(obj, cast)
        labels[obj] = ("character", owner) if owner else ("prop", _prop_class(obj))
    ordered = sorted(set(labels.values()))
    index_of = {label: i + 1 for i, label in enumerate(ordered)}
    for obj, label in labels.items():
        obj.pass_index = index_of[label]
    return {index: label for label, index in index_of.items()}


# --------------------------------------------------------------------------- one frame

@dataclass
class ShotJob:
    """What a worker needs to render one shot."""

    shot: str
    start_frame: int
    end_frame: int
    keys: list[str]
    shot_dir: Path

    @property
    def frame_count(self) -> int:
        return self.end_frame - self.start_frame + 1


@dataclass
class FrameRenderer:
    """Renders frames of a scene with a fixed pass list; built once per Blender session."""

    scene: bpy.types.Scene
    settings: RenderSettings
    passes: tuple[str, ...]
    characters: list[str]
    segments: dict[int, tuple[str, str]] = field(default_factory=dict)
    rigs: dict[str, RigKeypoints] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.data = writers.data_passes(self.passes)
        self.second_render = bool(self.data) and self.settings.engine != "CYCLES"
        layer = self.scene.view_layers[0]
        layer.use_pass_z = "depth" in self.data
        layer.use_pass_normal = "normal" in self.data
        layer.use_pass_object_index = "index" in self.data
        layer.use_pass_vector = "vector" in self.data
        # Data passes from the first surface a ray meets, glass included: a window is a surface
        # in depth and segmentation, not a stochastic mix of pane and what lies behind it.
        layer.pass_alpha_threshold = 0.0
        if "vector" in self.data:
            self.scene.render.use_motion_blur = False  # Cycles has no vector pass with motion blur
        self.segments = assign_segments(self.scene, self.characters)
        self.colours = {index: writers.segment_colour(*label) for index, label in self.segments.items()}
        self.rigs = {cid: RigKeypoints(bpy.data.objects[cid]) for cid in self.characters
                     if cid in bpy.data.objects and bpy.data.objects[cid].type == "ARMATURE"}
        self.tolerance = tolerances()
        self.width, self.height = self.settings.resolution

    # --- files ---------------------------------------------------------------------------
    def frame_paths(self, shot_dir: Path, number: int) -> list[Path]:
        files = [f for group in writers.frame_files(self.passes, number).values() for f in group]
        return [shot_dir / f for f in files] + [keypoints_path(shot_dir, number)]

    def frame_done(self, shot_dir: Path, number: int) -> bool:
        return all(p.exists() for p in self.frame_paths(shot_dir, number))

    # --- rendering -----------------------------------------------------------------------
    def _render(self, engine: str) -> None:
        self.scene.render.engine = engine
        with quiet_output():
            bpy.ops.render.render()

    def _save(self, path: Path, exr: bool) -> None:
        tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
        if exr:
            _exr_output(self.scene)
        try:
            with quiet_output():
                bpy.data.images["Render Result"].save_render(filepath=str(tmp), scene=self.scene)
        finally:
            if exr:
                _png_output(self.scene)
        if not tmp.exists():
            raise FilmCrewError("Blender rendered no image", path=path)
        os.replace(tmp, path)

    def camera(self, shot: str) -> Camera:
        obj = _camera_for(self.scene, shot)
        return Camera(world_from_camera=np.array(obj.matrix_world), focal_mm=float(obj.data.lens),
                      sensor_mm=float(obj.data.sensor_width), width=self.width, height=self.height)

    def render_frame(self, job: ShotJob, local: int) -> None:
        """Render frame ``local`` (0-based) of the shot and write all its files."""
        number = local + 1
        shot_dir = job.shot_dir
        self.scene.frame_set(job.start_frame + local)
        self.scene.camera = _camera_for(self.scene, job.shot)
        rgb = shot_dir / "rgb" / f"{number:04d}.png"
        # A picture kept from an interrupted run stays as it is (the seed is fixed, so a new
        # render would draw it again); only the missing files are made.
        if not rgb.exists():
            self._render(self.settings.engine)
            self._save(rgb, exr=False)
        elif not self.second_render and self.data:
            self._render(self.settings.engine)
        data = writers.FrameData()
        if self.data:
            if self.second_render:
                engine = self.settings.engine
                _data_only_cycles(self.scene)
                self._render("CYCLES")
                self.scene.render.engine = engine
            scratch = shot_dir / f".frame{number:04d}.exr"
            self._save(scratch, exr=True)
            try:
                data = writers.frame_data(writers.read_exr(scratch))
            finally:
                scratch.unlink(missing_ok=True)
        camera = self.camera(job.shot)
        self._write_passes(shot_dir, number, data, camera)
        self._write_keypoints(job, local, data, camera)

    def _write_passes(self, shot_dir: Path, number: int, data: writers.FrameData, camera: Camera) -> None:
        stem = f"{number:04d}"
        if "depth" in self.passes:
            writers.write_exr(shot_dir / "depth" / f"{stem}.exr", {"Z": data.depth})
        if "normal" in self.passes:
            normal = writers.camera_normals(data.normal, camera.world_from_camera[:3, :3])
            writers.write_png(shot_dir / "normal" / f"{stem}.png", writers.normal_to_png(normal))
        if "segment" in self.passes:
            writers.write_png(shot_dir / "segment" / f"{stem}.png",
                              writers.segment_to_png(data.index, self.colours))
        if "edges" in self.passes:
            normal = writers.camera_normals(data.normal, camera.world_from_camera[:3, :3])
            writers.write_png(shot_dir / "edges" / f"{stem}.png",
                              writers.geometric_edges(depth=data.depth, normal=normal, index=data.index))
        if "flow" in self.passes:
            self._write_flow(shot_dir, number, writers.backward_flow(data.vector))

    def _write_flow(self, shot_dir: Path, number: int, flow: np.ndarray) -> None:
        stem = f"{number:04d}"
        writers.write_exr(shot_dir / "flow" / f"{stem}.exr", {"X": flow[..., 0], "Y": flow[..., 1]})
        writers.write_png(shot_dir / "flow" / f"{stem}.png",
                          writers.flow_to_png(flow, scale=writers.FLOW_SCALE * self.width))

    def _write_keypoints(self, job: ShotJob, local: int, data: writers.FrameData, camera: Camera) -> None:
        people = {}
        drawings = []
        for cid, rig in self.rigs.items():
            if rig.armature.hide_render:
                continue
            groups = rig.world()
            person = {}
            drawing = {}
            for group in GROUPS:
                projected = camera.project(groups[group])
                visible = keypoint_visibility(projected, data.depth, self.tolerance[group],
                                              self.width, self.height)
                person[group] = {"xyz": np.round(groups[group], 4).tolist(),
                                 "xy": np.round(np.nan_to_num(projected[:, :2], nan=-1.0), 2).tolist(),
                                 "v": visible.tolist()}
                drawing[group] = (projected[:, :2], visible)
            people[cid] = person
            drawings.append(drawing)
        if "pose" in self.passes:
            writers.write_png(job.shot_dir / "pose" / f"{local + 1:04d}.png",
                              draw_pose(self.width, self.height, drawings))
        record = {"frame": local + 1, "film_frame": job.start_frame + local,
                  "camera": camera_record(camera), "occlusion_tested": data.depth is not None,
                  "characters": people}
        write_keypoints(keypoints_path(job.shot_dir, local + 1), record)

    def copy_frame(self, job: ShotJob, local: int) -> None:
        """Frame ``local`` shows what the frame before it shows: copy its files, motion zero."""
        before, number = local, local + 1
        shot_dir = job.shot_dir
        for src, dst in zip(self.frame_paths(shot_dir, before), self.frame_paths(shot_dir, number)):
            if dst.parent.name in ("flow", "keypoints") or dst.exists():
                continue
            atomic_copy(src, dst)
        if "flow" in self.passes:
            self._write_flow(shot_dir, number, np.zeros((self.height, self.width, 2), dtype=np.float32))
        record = json.loads(keypoints_path(shot_dir, before).read_text())
        record["frame"], record["film_frame"] = number, job.start_frame + local
        write_keypoints(keypoints_path(shot_dir, number), record)


def write_keypoints(path: Path, record: dict) -> None:
    atomic_write_text(path, json.dumps(record, separators=(",", ":")) + "\n")


def keypoints_path(shot_dir: Path, number: int) -> Path:
    return shot_dir / "keypoints" / f"{number:04d}.json"


def camera_record(camera: Camera) -> dict:
    return {"K": np.round(camera.intrinsics(), 4).tolist(), "focal_mm": round(camera.focal_mm, 4),
            "sensor_width_mm": camera.sensor_mm,
            "world_from_camera": np.round(camera.world_from_camera, 6).tolist()}


def render_shot(*, renderer: FrameRenderer, job: ShotJob,
                on_frame: Callable[[int, bool], None] | None = None) -> None:
    """Render the missing frames of one shot, then its shot-wide files (depth PNGs).

    Frames already on disk are kept (an interrupted run resumes); a frame whose key equals
    the previous frame's is a copy of it.
    """
    shot_dir = job.shot_dir
    shot_dir.mkdir(parents=True, exist_ok=True)
    for leftover in shot_dir.rglob(".*.tmp*"):  # from a run killed mid-frame
        leftover.unlink()
    for leftover in shot_dir.glob(".frame*.exr"):
        leftover.unlink()
    renderer.scene.camera = _camera_for(renderer.scene, job.shot)
    if "segment" in renderer.passes:
        legend = [{"colour": writers.colour_hex(renderer.colours[i]), "rgb": list(renderer.colours[i]),
                   "kind": kind, "id": name} for i, (kind, name) in sorted(renderer.segments.items())]
        atomic_write_json(shot_dir / "segment" / "legend.json", legend)
    for local in range(job.frame_count):
        drew = False
        if not renderer.frame_done(shot_dir, local + 1):
            if local > 0 and job.keys[local] == job.keys[local - 1]:
                renderer.copy_frame(job, local)
            else:
                renderer.render_frame(job, local)
                drew = True
        if on_frame:
            on_frame(local, drew)
    if "depth" in renderer.passes:
        write_depth_pngs(shot_dir, job.frame_count)


def write_depth_pngs(shot_dir: Path, frame_count: int) -> tuple[float, float] | None:
    """depth/NNNN.png for a whole shot, normalised over all its frames; returns (near, far)."""
    depths = [writers.read_exr(shot_dir / "depth" / f"{i:04d}.exr")["Z"] for i in range(1, frame_count + 1)]
    span = writers.shot_depth_range(depths)
    near, far = span if span else (1.0, 1.0)
    for number, depth in enumerate(depths, start=1):
        writers.write_png(shot_dir / "depth" / f"{number:04d}.png", writers.depth_to_png(depth, near, far))
    atomic_write_json(shot_dir / "depth" / "range.json", {"near_m": near, "far_m": far,
                                                          "encoding": "disparity"})
    return span


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
