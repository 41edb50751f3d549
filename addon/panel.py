"""The sidebar panel: 3D View, N-panel, tab "FilmCrew"."""

from __future__ import annotations

import bpy


class FILMCREW_PT_production(bpy.types.Panel):
    bl_label = "Production"
    bl_idname = "FILMCREW_PT_production"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "FilmCrew"

    def draw(self, context):
        settings = context.scene.filmcrew
        layout = self.layout
        layout.prop(settings, "screenplay")
        layout.prop(settings, "output")
        row = layout.row(align=True)
        row.enabled = not settings.running
        for stage, label in (("plan", "Plan"), ("stage", "Stage"), ("render", "Render")):
            row.operator("filmcrew.run_stage", text=label).stage = stage
        big = layout.row()
        big.enabled = not settings.running
        big.scale_y = 1.4
        big.operator("filmcrew.run_stage", text="Make", icon="PLAY").stage = "make"
        if settings.running or settings.status:
            layout.prop(settings, "progress", text=settings.status or "Working")
        layout.operator("filmcrew.open_scene", icon="FILE_BLEND")


CLASSES = (FILMCREW_PT_production,)
