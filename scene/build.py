"""Build the Blender scene from a plan and its staging: sets, characters, cameras, cut.

Each set sits at its own offset on the X axis of one Blender scene; characters are
keyframed from the per-frame blocking; one camera per shot is bound to a timeline marker
at the shot's first frame, so pressing play in Blender plays the cut.
"""

from __future__ import annotations

from pathlib import Path

import bpy
import numpy as np
from mathutils import Matrix

from ..characters.kit import load_kit
from ..console import quiet_output
from ..plan.model import Plan
from ..staging.blocking import Blocking
from ..staging.cameras import CameraPose, pose_at
from ..staging.timeline import Timeline
from .characters import build_character, set_posture
from .sets import build_set, load_user_set


def reset_scene(*, plan: Plan) -> bpy.types.Scene:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.name = plan.title[:60] or "FilmCrew"
    scene.render.fps = plan.fps
    scene.render.resolution_x, scene.render.resolution_y = plan.resolution
    scene.render.resolution_percentage = 100
    return scene


def _place_set(*, plan: Plan, set_id: str, offset: tuple[float, float]) -> None:
    spec = plan.set(set_id)
    if spec.source_blend:
        collection, _ = load_user_set(blend_path=Path(spec.source_blend), set_id=set_id)
    else:
        collection = build_set(set_spec=spec, collection_name=f"FC_Set_{set_id}")
    root = bpy.data.objects.new(f"SET_{set_id}", None)
    collection.objects.link(root)
    root.location = (offset[0], offset[1], 0.0)
    for obj in collection.objects:
        if obj is not root and obj.parent is None:
            obj.parent = root


def _changing_frames(values: np.ndarray, tolerance: float) -> np.ndarray:
    """Frames where a piecewise-linear signal bends: keys there reproduce it exactly."""
    count = len(values)
    if count <= 2:
        return np.arange(count)
    flat = values.reshape(count, -1)
    bend = np.abs(flat[:-2] - 2 * flat[1:-1] + flat[2:]).max(axis=1) > tolerance
    return np.concatenate([[0], np.nonzero(bend)[0] + 1, [count - 1]])


def _keyframe_track(armature: bpy.types.Object, *, track, frame_count: int) -> None:
    rig_objects = [armature, *armature.children]
    location = np.concatenate([track.position, np.zeros((frame_count, 1))], axis=1)
    for i in _changing_frames(location, 1e-4):
        armature.location = location[i]
        armature.keyframe_insert("location", frame=int(i) + 1)
    # The body faces -Y in its rest pose; a facing angle is measured from +X.
    rotation = np.radians(track.facing + 90.0)
    for i in _changing_frames(rotation, 1e-4):
        armature.rotation_euler = (0.0, 0.0, float(rotation[i]))
        armature.keyframe_insert("rotation_euler", frame=int(i) + 1)
    for i in _changing_frames(track.sit, 1e-3):
        posture = "sit" if track.sit[i] > 0.5 else "stand"
        set_posture(armature, posture=posture, frame=int(i) + 1, seat_height=float(track.seat_height[i]))
    visible = track.present.astype(np.int8)
    changes = np.concatenate([[0], np.nonzero(np.diff(visible))[0] + 1])
    for i in changes:
        for obj in rig_objects:
            obj.hide_render = obj.hide_viewport = not bool(visible[i])
            obj.keyframe_insert("hide_render", frame=int(i) + 1)
            obj.keyframe_insert("hide_viewport", frame=int(i) + 1)
    _linear(armature)


def _linear(obj: bpy.types.Object) -> None:
    action = obj.animation_data.action if obj.animation_data else None
    if action is None:
        return
    for fcurve in _fcurves(action):
        for point in fcurve.keyframe_points:
            point.interpolation = "LINEAR"


def _fcurves(action) -> list:
    """F-curves of an action (Blender 4.4+ keeps them in layered channelbags)."""
    if hasattr(action, "fcurves") and len(action.fcurves):
        return list(action.fcurves)
    curves = []
    for layer in getattr(action, "layers", []):
        for strip in layer.strips:
            for bag in getattr(strip, "channelbags", []):
                curves.extend(bag.fcurves)
    return curves


def _add_camera(*, shot_id: str, pose: CameraPose, first_frame: int) -> bpy.types.Object:
    data = bpy.data.cameras.new(f"CAM_{shot_id}")
    data.lens = pose.focal_mm
    data.sensor_width = pose.sensor_mm
    data.sensor_fit = "HORIZONTAL"
    data.clip_start = 0.05
    data.clip_end = 300.0
    if pose.focus_m:
        data.dof.use_dof = True
        data.dof.focus_distance = pose.focus_m
        data.dof.aperture_fstop = pose.fstop or 5.6
    camera = bpy.data.objects.new(f"CAM_{shot_id}", data)
    camera.matrix_world = Matrix(pose.matrix().tolist())
    for index in range(len(pose.track or ())):
        frame_pose = pose_at(pose, index)
        previous = camera.rotation_euler.copy()
        camera.matrix_world = Matrix(frame_pose.matrix().tolist())
        camera.rotation_euler.make_compatible(previous)  # no 360-degree jumps between keys
        camera.keyframe_insert("location", frame=first_frame + index)
        camera.keyframe_insert("rotation_euler", frame=first_frame + index)
        data.lens = frame_pose.focal_mm
        data.keyframe_insert("lens", frame=first_frame + index)
    return camera


def build_scene(*, plan: Plan, timeline: Timeline, blocking: Blocking, cameras: dict[str, CameraPose],
                kit_paths: dict[str, Path], progress=None) -> bpy.types.Scene:
    """Build the whole production into the current Blender session (replacing its contents)."""
    scene = reset_scene(plan=plan)
    scene.frame_start, scene.frame_end = 1, max(1, timeline.frame_count)
    for set_id, offset in blocking.set_offsets.items():
        _place_set(plan=plan, set_id=set_id, offset=offset)
        if progress:
            progress(f"set {set_id}")
    people = bpy.data.collections.new("FC_Characters")
    scene.collection.children.link(people)
    for character in plan.characters:
        kit = load_kit(kit_paths[character.id])
        armature = build_character(kit=kit, name=character.id, appearance=character.appearance,
                                   collection=people)
        _keyframe_track(armature, track=blocking.tracks[character.id],
                        frame_count=blocking.frame_count)
        if progress:
            progress(f"character {character.id}")
    rig = bpy.data.collections.new("FC_Cameras")
    scene.collection.children.link(rig)
    for shot_range in timeline.shots:
        camera = _add_camera(shot_id=shot_range.shot, pose=cameras[shot_range.shot],
                             first_frame=shot_range.start_frame)
        rig.objects.link(camera)
        marker = scene.timeline_markers.new(shot_range.shot, frame=shot_range.start_frame)
        marker.camera = camera
    if timeline.shots:
        scene.camera = bpy.data.objects[f"CAM_{timeline.shots[0].shot}"]
    scene.frame_set(1)
    return scene


def save_blend(path: Path) -> None:
    """Save the session to ``path`` through a temporary name, then rename."""
    tmp = path.with_name(f".{path.stem}.tmp.blend")
    with quiet_output():
        bpy.ops.wm.save_as_mainfile(filepath=str(tmp), compress=False, copy=True)
    tmp.replace(path)
