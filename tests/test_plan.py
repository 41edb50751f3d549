"""The plan model: schema, validation messages that name the field, version refusal."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from filmcrew.errors import PlanError
from filmcrew.plan import SCHEMA_VERSION, load_plan, plan_from_data, plan_json_schema, save_plan


def minimal_plan() -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "title": "T",
        "characters": [{"id": "ANA", "name": "Ana"}, {"id": "BEN", "name": "Ben"}],
        "sets": [{"id": "room", "kind": "room",
                  "marks": [{"id": "a", "position": [0, 0]}, {"id": "b", "position": [1, 0]}]}],
        "scenes": [{"id": "S01", "heading": {"location": "ROOM"}, "set": "room", "cast": ["ANA", "BEN"],
                    "start": [{"character": "ANA", "mark": "a"}, {"character": "BEN", "mark": "b"}],
                    "beats": [{"type": "dialogue", "character": "ANA", "text": "Hi.", "duration": 1.0},
                              {"type": "move", "character": "BEN", "to_mark": "a", "duration": 2.0},
                              {"type": "action", "character": "BEN", "action": "sit", "duration": 1.0}]}],
        "shots": [{"id": "S01_001", "scene": "S01", "first_beat": 0, "last_beat": 2,
                   "subjects": ["ANA"]}],
    }


def test_minimal_plan_validates_and_round_trips(tmp_path):
    plan = plan_from_data(minimal_plan())
    save_plan(plan, tmp_path / "plan.json")
    again = load_plan(tmp_path / "plan.json")
    assert again == plan
    assert again.scenes[0].beats[1].to_mark == "a"


def test_schema_lists_every_part():
    schema = plan_json_schema()
    text = json.dumps(schema)
    for name in ("DialogueBeat", "MoveBeat", "ActionBeat", "Shot", "SetSpec", "Appearance"):
        assert name in text
    assert schema["properties"]["schema_version"]["default"] == SCHEMA_VERSION


def test_cli_prints_schema():
    result = subprocess.run([sys.executable, "-m", "filmcrew.cli", "schema"], capture_output=True,
                            text=True, check=True)
    assert json.loads(result.stdout)["title"] == "Plan"


@pytest.mark.parametrize("mutate, expected", [
    (lambda d: d["scenes"][0]["beats"][0].update(character="ZED"),
     "scenes[0].beats[0].character: 'ZED' is not in the cast"),
    (lambda d: d["scenes"][0]["beats"][1].update(to_mark="nowhere"),
     "scenes[0].beats[1].to_mark: unknown mark 'nowhere'"),
    (lambda d: d["scenes"][0]["beats"][2].update(action="teleport"),
     "scenes[0].beats[2].action: unknown action 'teleport'"),
    (lambda d: d["scenes"][0].update(set="moon"), "scenes[0].set: unknown set 'moon'"),
    (lambda d: d["shots"][0].update(size="XXL"), "shots[0].size: Input should be"),
    (lambda d: d["shots"][0].update(last_beat=1), "beats 2..2 have no shot"),
    (lambda d: d["scenes"][0]["beats"][0].update(duration=-1),
     "scenes[0].beats[0].duration: Input should be greater than 0"),
    (lambda d: d["characters"].append({"id": "ANA", "name": "Other"}), "characters: duplicate id 'ANA'"),
    (lambda d: d["characters"][0]["appearance"].update(gender=3) if "appearance" in d["characters"][0]
     else d["characters"][0].update(appearance={"gender": 3}),
     "characters[0].appearance.gender: Input should be less than or equal to 1"),
])
def test_validation_names_field_and_problem(mutate, expected):
    data = minimal_plan()
    mutate(data)
    with pytest.raises(PlanError) as err:
        plan_from_data(data, source="plan.json")
    assert expected in str(err.value)
    assert str(err.value).startswith("plan.json")


def test_newer_schema_is_refused_with_clear_message(tmp_path):
    data = minimal_plan()
    data["schema_version"] = SCHEMA_VERSION + 1
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(data))
    with pytest.raises(PlanError, match="newer FilmCrew.*upgrade"):
        load_plan(path)


def test_broken_json_names_the_line(tmp_path):
    path = tmp_path / "plan.json"
    path.write_text('{\n  "title": "x",\n  oops\n}')
    with pytest.raises(PlanError, match=r"plan.json:3: not valid JSON"):
        load_plan(path)
