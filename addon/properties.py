"""The extension's preferences and the per-scene settings (``scene.filmcrew``)."""

from __future__ import annotations

import bpy

STAGES = [("make", "Make", "Plan, stage and render"), ("plan", "Plan", "Screenplay to plan.json"),
          ("stage", "Stage", "plan.json to scene.blend"), ("render", "Render", "Frames and animatic")]


class FilmCrewPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__.rpartition(".")[0]

    worker_python: bpy.props.StringProperty(
        name="Worker Python", subtype="FILE_PATH",
        description="Python of the environment where FilmCrew and its dependencies are installed "
                    "(empty: Blender's own Python)")
    engine: bpy.props.EnumProperty(
        name="Engine", items=[("cycles", "Cycles", ""), ("workbench", "Workbench", ""), ("eevee", "EEVEE", "")],
        default="cycles")

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "worker_python")
        layout.prop(self, "engine")


class FilmCrewSettings(bpy.types.PropertyGroup):
    screenplay: bpy.props.StringProperty(name="Screenplay", subtype="FILE_PATH",
                                         description="A Fountain screenplay")
    output: bpy.props.StringProperty(name="Production", subtype="DIR_PATH",
                                     description="The production folder")
    status: bpy.props.StringProperty(name="Status", default="")
    progress: bpy.props.FloatProperty(name="Progress", min=0.0, max=1.0, subtype="FACTOR")
    running: bpy.props.BoolProperty(default=False)
