"""Motion clips keyed onto a character's armature in Blender (bpy).

The clip is read and retargeted in numpy (``characters.clips``, ``characters.retarget``); this
module reads the rig's rest pose from the armature and writes the keys, one per frame, straight
into the armature's action (fast even for long clips).
"""

from __future__ import annotations

import bpy
import numpy as np

from ..characters.clips import Clip
from ..characters.retarget import Motion, Rig, retarget


def rig_from_armature(armature: bpy.types.Object) -> Rig:
    """The rest rig of an armature built by ``scene.characters.build_character``."""
    bones = list(armature.data.bones)
    index = {bone.name: i for i, bone in enumerate(bones)}
    return Rig(
        bone_names=[bone.name for bone in bones],
        parents=np.array([index[bone.parent.name] if bone.parent else -1 for bone in bones]),
        heads=np.array([tuple(bone.head_local) for bone in bones], dtype=np.float64),
        matrices=np.array([[tuple(row) for row in bone.matrix_local.to_3x3()] for bone in bones],
                          dtype=np.float64),
    )


def key_clip(armature: bpy.types.Object, *, clip: Clip, start_frame: int, fps: float,
             align: bool = True, scale: str | float = "legs") -> int:
    """Retarget ``clip`` onto ``armature`` and key it from ``start_frame``, one key per frame.

    The clip plays in the armature's space, so it starts on the character's mark (the object's
    origin) facing the character's facing (the object's rotation) when ``align`` is true; see
    ``characters.retarget.retarget`` for ``align`` and ``scale``.

    Args:
        armature: a character built by ``build_character``.
        clip: a clip from ``characters.clips.read_clip``.
        start_frame: the scene frame of the clip's first frame.
        fps: the scene's frame rate (the plan's); the clip is resampled to it.
        align: start over the mark facing the character's way (True) or keep the clip's own
            placement relative to the mark (False).
        scale: root-motion scale, ``"legs"`` (by leg lengths) or a factor.

    Returns:
        The last frame keyed.
    """
    motion = retarget(clip, rig=rig_from_armature(armature), fps=fps, align=align, scale=scale)
    return key_motion(armature, motion=motion, start_frame=start_frame)


def key_motion(armature: bpy.types.Object, *, motion: Motion, start_frame: int) -> int:
    """Key a retargeted ``motion`` on ``armature`` from ``start_frame``; return the last frame.

    Keys the motion's bones (quaternion rotations; the root bone's location too) and replaces
    any keys those channels already have within the clip's frames.
    """
    frames = start_frame + np.arange(motion.frames, dtype=np.float64)
    animation = armature.animation_data or armature.animation_data_create()
    if animation.action is None:
        animation.action = bpy.data.actions.new(f"{armature.name}_action")
    action = animation.action
    root = armature.data.bones[0].name
    for column, name in enumerate(motion.bone_names):
        bone = armature.pose.bones[name]
        bone.rotation_mode = "QUATERNION"
        channels = [("rotation_quaternion", motion.rotations[:, column])]
        if name == root:
            channels.append(("location", motion.root_location))
        for prop, values in channels:
            path = bone.path_from_id(prop)
            for axis in range(values.shape[1]):
                curve = action.fcurve_ensure_for_datablock(armature, path, index=axis,
                                                           group_name=name)
                _write_keys(curve, frames=frames, values=values[:, axis])
    return int(frames[-1])


def _write_keys(curve: bpy.types.FCurve, *, frames: np.ndarray, values: np.ndarray) -> None:
    """Replace ``curve``'s keys within the frames' span by one linear key per frame.

    Keys outside the span keep their values, interpolation and handle types.
    """
    points = curve.keyframe_points
    first, last = frames[0] - 0.5, frames[-1] + 0.5
    for point in reversed(list(points)):
        if first <= point.co.x <= last:
            points.remove(point, fast=True)
    old = len(points)
    points.add(len(frames))
    co = np.empty(2 * len(points), dtype=np.float32)
    points.foreach_get("co", co)
    co[2 * old:] = np.column_stack([frames, values]).ravel()
    points.foreach_set("co", co)
    interpolation = np.empty(len(points), dtype=np.int32)
    points.foreach_get("interpolation", interpolation)
    interpolation[old:] = _LINEAR
    points.foreach_set("interpolation", interpolation)
    curve.update()  # sorts the keys by frame and recomputes handles


_LINEAR = bpy.types.Keyframe.bl_rna.properties["interpolation"].enum_items["LINEAR"].value
