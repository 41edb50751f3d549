"""The production plan (pure Python, no bpy)."""

from .actions import ACTIONS
from .io import load_plan, plan_from_data, plan_json_schema, save_plan
from .model import SCHEMA_VERSION, Plan

__all__ = ["ACTIONS", "SCHEMA_VERSION", "Plan", "load_plan", "plan_from_data", "plan_json_schema",
           "save_plan"]
