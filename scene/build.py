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
from ..staging.gait import plan_gait
from ..staging.performance import Performance, perform_plan
from ..characters.clips import Clip
from .characters import build_character, posture_bases
from .clips import key_clip
from .motion import MotionInput, keep_frames, bake_motion, ensure_action, gait_body, write_curve
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


def _keyframe_track(armature: bpy.types.Object, *, track, frame_count: int, fps: int = 24,
                    performance: Performance | None = None, age_years: float = 35.0) -> None:
    """Key a character over the film: the object on its path, the pose bones by ``bake_motion``."""
    _key_object(armature, track=track)
    gait = plan_gait(position=track.position, facing=track.facing, present=track.present,
                     sit=track.sit, body=gait_body(armature, age_years=age_years), fps=fps)
    seats = np.unique(np.round(track.seat_height[track.sit > 0.0], 3))
    performance = performance or Performance()
    motion = MotionInput(position=track.position, facing=track.facing, sit=track.sit,
                         seat_height=track.seat_height, gait=gait, events=performance.events,
                         look=performance.look, fps=fps)
    bake_motion(armature, motion=motion, postures=posture_bases(armature, seat_heights=seats))


def _key_object(armature: bpy.types.Object, *, track) -> None:
    """Location and heading on every frame the root moves; visibility where it changes."""
    action = ensure_action(armature)
    location = np.concatenate([track.position, np.zeros((len(track.position), 1))], axis=1)
    frames = keep_frames(location)
    for k in range(3):
        write_curve(action, armature, path="location", index=k, group="Object Transforms",
                    frames=frames, values=location[frames, k])
    # The body faces -Y in its rest pose; a facing angle is measured from +X.
    rotation = np.radians(track.facing + 90.0)
    frames = keep_frames(rotation[:, None])
    write_curve(action, armature, path="rotation_euler", index=2, group="Object Transforms",
                frames=frames, values=rotation[frames])
    visible = track.present.astype(np.int8)
    changes = np.concatenate([[0], np.nonzero(np.diff(visible))[0] + 1])
    for obj in (armature, *armature.children):
        target = ensure_action(obj)
        for prop in ("hide_render", "hide_viewport"):
            write_curve(target, obj, path=prop, index=0, group="Visibility", frames=changes,
                        values=1.0 - visible[changes], interpolation=0)
    armature.location = location[0]
    armature.rotation_euler = (0.0, 0.0, float(rotation[0]))


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
                kit_paths: dict[str, Path], progress=None, clips: dict[tuple[str, int], Clip] | None = None
                ) -> bpy.types.Scene:
    """Build the whole production into the current Blender session (replacing its contents).

    ``clips``: the motion clip of each ``perform`` beat, by (scene id, beat index), keyed over the
    character's baked motion from the beat's first frame, starting on their mark and facing.
    """
    scene = reset_scene(plan=plan)
    scene.frame_start, scene.frame_end = 1, max(1, timeline.frame_count)
    for set_id, offset in blocking.set_offsets.items():
        _place_set(plan=plan, set_id=set_id, offset=offset)
        if progress:
            progress(f"set {set_id}")
    people = bpy.data.collections.new("FC_Characters")
    scene.collection.children.link(people)
    kits = {character.id: load_kit(kit_paths[character.id]) for character in plan.characters}
    performances = perform_plan(plan=plan, timeline=timeline, blocking=blocking,
                                heights={cid: kit.height_m for cid, kit in kits.items()})
    for character in plan.characters:
        armature = build_character(kit=kits[character.id], name=character.id,
                                   appearance=character.appearance, collection=people)
        _keyframe_track(armature, track=blocking.tracks[character.id], frame_count=blocking.frame_count,
                        fps=plan.fps, performance=performances[character.id],
                        age_years=character.appearance.age_years)
        if progress:
            progress(f"character {character.id}")
    _key_clips(plan=plan, timeline=timeline, clips=clips or {})
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


def _key_clips(*, plan: Plan, timeline: Timeline, clips: dict[tuple[str, int], Clip]) -> None:
    scene = bpy.context.scene
    for (scene_id, index), clip in sorted(clips.items()):
        beat = plan.scene(scene_id).beats[index]
        armature = bpy.data.objects[beat.character]
        first = timeline.frame_of(timeline.beats[(scene_id, index)].start)
        scene.frame_set(first)  # the clip starts where the character stands, facing their way
        key_clip(armature, clip=clip, start_frame=first, fps=plan.fps)


def save_blend(path: Path) -> None:
    """Save the session to ``path`` through a temporary name, then rename."""
    tmp = path.with_name(f".{path.stem}.tmp.blend")
    with quiet_output():
        bpy.ops.wm.save_as_mainfile(filepath=str(tmp), compress=False, copy=True)
    tmp.replace(path)
