"""The motion library as data: every action a beat may name, with its default timing.

The director and any agent may only use these names; the plan validator rejects others.
"""

from __future__ import annotations

from typing import NamedTuple


class ActionSpec(NamedTuple):
    seconds: float       # default duration of the beat
    posture: str | None  # posture after the action ("sit", "stand") or None to keep it
    summary: str


ACTIONS: dict[str, ActionSpec] = {
    "enter": ActionSpec(2.0, "stand", "come in through a door or onto the set"),
    "exit": ActionSpec(2.0, "stand", "leave the set"),
    "sit": ActionSpec(1.5, "sit", "sit down on the seat at the mark"),
    "stand_up": ActionSpec(1.5, "stand", "get up from a seat"),
    "stop": ActionSpec(1.0, None, "stop walking"),
    "turn": ActionSpec(1.0, None, "turn to face someone or something"),
    "look": ActionSpec(2.0, None, "look at someone or something"),
    "point": ActionSpec(2.0, None, "point at a target"),
    "give": ActionSpec(2.0, None, "hand an object to someone"),
    "take": ActionSpec(1.5, None, "take an object"),
    "hold": ActionSpec(2.0, None, "hold an object"),
    "open": ActionSpec(2.0, None, "open something (a door, a folder, a laptop)"),
    "close": ActionSpec(2.0, None, "close something"),
    "wave": ActionSpec(1.5, None, "wave a hand"),
    "nod": ActionSpec(1.0, None, "nod"),
    "shake_head": ActionSpec(1.0, None, "shake the head"),
    "shrug": ActionSpec(1.0, None, "shrug"),
    "lean": ActionSpec(1.5, None, "lean back or on something"),
    "react": ActionSpec(2.0, None, "a silent reaction"),
    "stay": ActionSpec(2.0, None, "stay where they are"),
    "perform": ActionSpec(3.0, None, "play a motion-capture clip (BVH or SMPL-X .npz) named by the beat's clip"),
    "hands_on_hips": ActionSpec(2.0, None, "stand with the hands on the hips"),
    "arms_crossed": ActionSpec(2.5, None, "fold the arms across the chest"),
    "hand_to_face": ActionSpec(1.5, None, "bring a hand to the face or chin"),
    "crouch": ActionSpec(2.0, None, "crouch down, knees bent"),
    "handshake": ActionSpec(2.0, None, "shake hands with someone"),
    "offer_hand": ActionSpec(1.5, None, "reach a hand out to someone"),
}
