"""The offline director on the three shared screenplays and on hand-written cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from filmcrew.agents.casting import age_from_text
from filmcrew.agents.offline import direct_screenplay
from filmcrew.plan.model import ActionBeat, DialogueBeat, MoveBeat
from filmcrew.screenplay import load_screenplay, parse_fountain

SAMPLES = Path(__file__).resolve().parents[1] / "assets" / "samples"


def direct(name: str):
    return direct_screenplay(screenplay=load_screenplay(SAMPLES / name))


def actions(scene, character=None):
    return [b for b in scene.beats if isinstance(b, ActionBeat) and (character is None or b.character == character)]


def moves(scene, character):
    return [b.to_mark for b in scene.beats if isinstance(b, MoveBeat) and b.character == character]


@pytest.mark.parametrize("text, age", [("30s, tired, sharp", 35), ("late 40s", 48), ("early 20s", 22),
                                        ("teens, hoodie", 16), ("8", 8), ("70s", 75), ("elderly", 76),
                                        ("rumpled coat", None)])
def test_ages_from_descriptions(text, age):
    assert age_from_text(text) == age


def test_coffee_shop():
    plan = direct("coffee_shop.fountain")
    scene = plan.scenes[0]
    assert plan.title == "Second Cup"
    assert plan.sets[0].kind == "cafe"
    chars = {c.id: c for c in plan.characters}
    assert set(chars) == {"MAYA", "DANIEL"}
    assert chars["MAYA"].appearance.gender == 0.0 and chars["DANIEL"].appearance.gender == 1.0
    assert chars["MAYA"].appearance.age_years == 35
    assert chars["MAYA"].appearance.outfit.top != chars["DANIEL"].appearance.outfit.top
    start = {p.character: p for p in scene.start}
    assert start["MAYA"].posture == "sit" and start["MAYA"].present
    assert not start["DANIEL"].present          # he enters through the door
    enter = actions(scene, "DANIEL")[0]
    assert enter.action == "enter"
    daniel_seat = moves(scene, "DANIEL")[-1]
    maya_seat = plan.sets[0].mark(start["MAYA"].mark)
    seat = plan.sets[0].mark(daniel_seat)
    assert seat.kind == "sit" and seat.prop != maya_seat.prop   # the other chair of her table
    assert abs(seat.position[0] - maya_seat.position[0]) + abs(seat.position[1] - maya_seat.position[1]) < 2.0
    assert "sit" in [a.action for a in actions(scene, "DANIEL")]
    maya_actions = [a.action for a in actions(scene, "MAYA")]
    assert "stand_up" in maya_actions and "lean" in maya_actions
    assert any("counter" in m for m in moves(scene, "MAYA"))
    lines = [b for b in scene.beats if isinstance(b, DialogueBeat)]
    assert len(lines) == 8 and lines[0].character == "DANIEL" and lines[0].addressee == "MAYA"
    assert lines[-1].addressee is None           # "(to the counter)"
    assert plan.shots[0].framing == "establishing"
    speakers = {s.subjects[0] for s in plan.shots if s.framing == "single"}
    assert speakers >= {"MAYA", "DANIEL"}


def test_hallway_argument():
    plan = direct("hallway_argument.fountain")
    scene = plan.scenes[0]
    assert plan.sets[0].kind == "hallway"
    chars = {c.id: c for c in plan.characters}
    assert set(chars) == {"PRIYA", "TOM", "LENA"}
    assert chars["PRIYA"].appearance.gender == 0.0 and chars["TOM"].appearance.gender == 1.0
    assert chars["LENA"].appearance.age_years == 55
    # all three walk in the opening, together
    opening = [b for b in scene.beats[:6] if isinstance(b, MoveBeat)]
    assert {b.character for b in opening} == {"PRIYA", "TOM", "LENA"}
    assert any(b.parallel for b in opening)
    give = next(a for a in actions(scene) if a.action == "give")
    assert give.character == "TOM" and give.target == "LENA"
    assert any(a.action == "turn" and a.target == "LENA" for a in actions(scene, "PRIYA"))
    assert moves(scene, "PRIYA")[-1] != moves(scene, "PRIYA")[0]   # she walks away at the end


def test_rooftop_monologue():
    plan = direct("rooftop_monologue.fountain")
    scene = plan.scenes[0]
    set_spec = plan.sets[0]
    assert set_spec.kind == "rooftop" and not set_spec.interior
    chars = {c.id: c for c in plan.characters}
    assert set(chars) == {"JONAH", "ROSA"}
    assert chars["JONAH"].appearance.age_years == 65 and chars["JONAH"].appearance.gender == 1.0
    assert chars["ROSA"].appearance.age_years == 16 and chars["ROSA"].appearance.gender == 0.0
    assert [a.action for a in actions(scene, "JONAH")][:1] == ["enter"]
    jonah_seats = [set_spec.mark(m) for m in moves(scene, "JONAH") if set_spec.mark(m).kind == "sit"]
    assert jonah_seats and "chair" in (jonah_seats[0].prop or jonah_seats[0].id)
    point = next(a for a in actions(scene, "JONAH") if a.action == "point")
    assert point.target is not None
    rosa_marks = [set_spec.mark(m) for m in moves(scene, "ROSA")]
    assert rosa_marks[-1].kind == "sit" and "parapet" in (rosa_marks[-1].prop or rosa_marks[-1].id)
    # CONT'D lines keep their speaker
    lines = [b for b in scene.beats if isinstance(b, DialogueBeat)]
    assert [b.character for b in lines].count("JONAH") == 4


def test_every_beat_is_covered_by_exactly_one_shot():
    for name in ("coffee_shop.fountain", "hallway_argument.fountain", "rooftop_monologue.fountain"):
        plan = direct(name)
        for scene in plan.scenes:
            covered = [i for s in plan.shots if s.scene == scene.id for i in range(s.first_beat, s.last_beat + 1)]
            assert covered == list(range(len(scene.beats)))
        ids = [s.id for s in plan.shots]
        assert len(ids) == len(set(ids))
        order = ["ECU", "CU", "MCU", "MS", "MLS", "FS", "LS", "ELS"]
        for a, b in zip(plan.shots, plan.shots[1:]):  # same framing of the same people: a jump cut
            if a.subjects == b.subjects and a.framing == b.framing:
                assert abs(order.index(a.size) - order.index(b.size)) >= 2, (name, a.id, b.id)


def test_unknown_location_falls_back_to_a_generic_room():
    plan = direct_screenplay(screenplay=parse_fountain(
        "INT. SUBMARINE ENGINE BAY - NIGHT\n\nANNA (40s) checks a gauge.\n\nANNA\nPressure's fine.\n"))
    assert plan.sets[0].kind == "room"
    assert plan.characters[0].appearance.age_years == 45


def test_direction_is_deterministic():
    assert direct("coffee_shop.fountain") == direct("coffee_shop.fountain")


def test_no_shot_starts_on_a_beat_that_runs_with_the_one_before():
    for name in ("coffee_shop.fountain", "hallway_argument.fountain", "rooftop_monologue.fountain"):
        plan = direct(name)
        for shot in plan.shots:
            assert not plan.scene(shot.scene).beats[shot.first_beat].parallel, (name, shot.id)


def test_gestures_in_action_lines_become_library_actions():
    plan = direct_screenplay(screenplay=parse_fountain(
        "INT. OFFICE - DAY\n\nANNA (40s) and TOM (30s) stand by the desk.\n\n"
        "ANNA crosses her arms. TOM extends a hand to ANNA.\n\nANNA\nFine.\n\n"
        "They shake hands. TOM rubs his forehead. ANNA puts her hands on her hips. TOM crouches.\n"))
    found = [(b.character, b.action, b.target) for b in actions(plan.scenes[0])]
    assert ("ANNA", "arms_crossed", None) in found
    assert ("TOM", "offer_hand", "ANNA") in found
    assert any(a == "handshake" for _, a, _ in found)
    assert ("TOM", "hand_to_face", None) in found
    assert ("ANNA", "hands_on_hips", None) in found
    assert ("TOM", "crouch", None) in found
