"""The sidebar panel: 3D View, N-panel, tab "FilmCrew"."""

from __future__ import annotations

import bpy


class _FilmCrewPanel:
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "FilmCrew"

    @classmethod
    def poll(cls, context):
        return context.scene is not None and hasattr(context.scene, "filmcrew")


class FILMCREW_PT_production(_FilmCrewPanel, bpy.types.Panel):
    bl_label = "Production"
    bl_idname = "FILMCREW_PT_production"

    def draw(self, context):
        settings = context.scene.filmcrew
        layout = self.layout
        layout.prop(settings, "output")
        layout.prop(settings, "source", expand=True)
        source = {"FILE": "screenplay", "TEXT": "text", "IDEA": "idea"}[settings.source]
        layout.prop(settings, source, text="")
        col = layout.column()
        col.enabled = not settings.running
        row = col.row(align=True)
        for stage in ("plan", "stage", "render"):
            row.operator("filmcrew.run_stage", text=stage.capitalize()).stage = stage
        row = col.row(align=True)
        row.operator("filmcrew.run_stage", text="Check", icon="CHECKMARK").stage = "check"
        row.operator("filmcrew.run_stage", text="Refine", icon="SHADERFX").stage = "refine"
        big = col.row()
        big.scale_y = 1.4
        big.operator("filmcrew.run_stage", text="Make", icon="PLAY").stage = "make"
        if settings.running or settings.status:
            layout.prop(settings, "progress", text=settings.status or "Working")
        if settings.running:
            layout.label(text="Esc cancels; finished work is kept", icon="INFO")
        row = layout.row(align=True)
        row.operator("filmcrew.load_scene", icon="FILE_BLEND")
        row.operator("filmcrew.reload", text="", icon="FILE_REFRESH")


class FILMCREW_UL_shots(bpy.types.UIList):
    """One row per shot: id, size, angle, movement (subjects below the list)."""

    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index):
        row = layout.row(align=True)
        row.label(text=item.name, icon="PINNED" if item.pinned else "VIEW_CAMERA")
        row.prop(item, "size", text="")
        row.prop(item, "angle", text="")
        row.prop(item, "movement", text="")


class FILMCREW_PT_shots(_FilmCrewPanel, bpy.types.Panel):
    bl_label = "Shots"
    bl_idname = "FILMCREW_PT_shots"
    bl_parent_id = "FILMCREW_PT_production"

    def draw(self, context):
        settings = context.scene.filmcrew
        layout = self.layout
        layout.enabled = not settings.running
        if not settings.shots:
            layout.label(text="No plan yet: run Plan")
            return
        layout.template_list("FILMCREW_UL_shots", "", settings, "shots", settings, "shot_index", rows=4)
        if 0 <= settings.shot_index < len(settings.shots):
            shot = settings.shots[settings.shot_index]
            layout.label(text=f"{shot.scene_id} · {shot.framing}")
            layout.prop(shot, "subjects")
            if shot.pinned:
                layout.label(text="Pinned: Stage and Render redo only this shot", icon="PINNED")


class FILMCREW_UL_cast(bpy.types.UIList):
    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index):
        layout.label(text=f"{item.display_name} ({item.name})", icon="USER")


class FILMCREW_PT_cast(_FilmCrewPanel, bpy.types.Panel):
    bl_label = "Cast"
    bl_idname = "FILMCREW_PT_cast"
    bl_parent_id = "FILMCREW_PT_production"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        settings = context.scene.filmcrew
        layout = self.layout
        layout.enabled = not settings.running
        if not settings.cast:
            layout.label(text="No cast yet: run Plan")
            return
        layout.template_list("FILMCREW_UL_cast", "", settings, "cast", settings, "cast_index", rows=3)
        if 0 <= settings.cast_index < len(settings.cast):
            member = settings.cast[settings.cast_index]
            col = layout.column(align=True)
            for name in ("gender", "age_years", "height", "weight", "muscle"):
                col.prop(member, name)
            row = layout.row(align=True)
            for name in ("skin_tone", "top", "bottom", "shoes", "hair"):
                row.prop(member, name, text="")
            layout.label(text="skin · top · bottom · shoes · hair")


class FILMCREW_PT_report(_FilmCrewPanel, bpy.types.Panel):
    bl_label = "Report"
    bl_idname = "FILMCREW_PT_report"
    bl_parent_id = "FILMCREW_PT_production"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        settings = context.scene.filmcrew
        layout = self.layout
        if not settings.figures and not settings.findings:
            layout.label(text="No report yet: run Render or Check")
        for finding in settings.findings:
            layout.label(text=finding.value, icon="ERROR")
        col = layout.column(align=True)
        for figure in settings.figures:
            row = col.row()
            row.label(text=figure.name)
            row.label(text=figure.value)


CLASSES = (FILMCREW_PT_production, FILMCREW_UL_shots, FILMCREW_PT_shots, FILMCREW_UL_cast, FILMCREW_PT_cast,
           FILMCREW_PT_report)
