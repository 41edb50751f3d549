"""Loading, validating and saving plan.json, with errors that name the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import PlanError
from ..fsutil import atomic_write_text
from .model import SCHEMA_VERSION, Plan


def _field_path(loc: tuple[Any, ...]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part in ("dialogue", "action", "move", "pause") and path.endswith("]"):
            continue  # the discriminator tag pydantic inserts for beat unions
        else:
            path += f".{part}" if path else str(part)
    return path


def format_validation_error(exc: ValidationError) -> str:
    """One line per problem: ``field.path: message``."""
    lines = []
    for err in exc.errors():
        field = _field_path(tuple(err["loc"]))
        message = err["msg"].removeprefix("Value error, ")
        lines.append(f"{field}: {message}" if field else message)
    return "; ".join(lines)


def plan_from_data(data: Any, *, source: str = "plan.json") -> Plan:
    """Validate raw JSON data as a plan; refuse plans from a newer schema."""
    if not isinstance(data, dict):
        raise PlanError("a plan must be a JSON object", path=source)
    version = data.get("schema_version", SCHEMA_VERSION)
    if not isinstance(version, int):
        raise PlanError("must be an integer", path=source, field="schema_version")
    if version > SCHEMA_VERSION:
        raise PlanError(f"plan is from a newer FilmCrew (schema {version}; this one reads up to "
                        f"{SCHEMA_VERSION}); upgrade FilmCrew to use it", path=source,
                        field="schema_version")
    try:
        return Plan.model_validate(data)
    except ValidationError as exc:
        raise PlanError(format_validation_error(exc), path=source) from None


def load_plan(path: str | Path) -> Plan:
    """Read and validate a plan.json file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanError("no such file (run `filmcrew plan` first)", path=path) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanError(f"not valid JSON: {exc.msg}", path=path, line=exc.lineno) from None
    return plan_from_data(data, source=str(path))


def plan_to_json(plan: Plan) -> str:
    return plan.model_dump_json(indent=2) + "\n"


def save_plan(plan: Plan, path: str | Path) -> None:
    atomic_write_text(path, plan_to_json(plan))


def plan_json_schema() -> dict[str, Any]:
    schema = Plan.model_json_schema()
    schema["$id"] = f"https://filmcrew.dev/schema/plan-v{SCHEMA_VERSION}.json"
    return schema
