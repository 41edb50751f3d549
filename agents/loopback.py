"""A scripted Chat Completions server on 127.0.0.1, for tests, benchmarks and offline demos.

:class:`LoopbackServer` speaks the OpenAI Chat Completions protocol (JSON and streamed SSE) on a
loopback port; what it answers comes from a ``model`` callable. :class:`ScriptedCrewModel` is
such a model: it reads the crew's ``TASK:`` and ``INPUT (JSON):`` and answers each role with a
fixed, valid story (two rival chefs), so an idea runs end to end without a real model.
:class:`Fault` injects what real servers do: malformed JSON, hallucinated references, refusals,
429 with Retry-After, 500, answers slower than the client's timeout, no JSON Schema support.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from ..staging.sets import load_recipe


@dataclass
class Fault:
    """One injected misbehaviour for requests of ``task`` ("*" for any), ``times`` times.

    kind: "malformed" (not JSON), "hallucinate" (valid JSON with dangling references),
    "refusal", "status" (``status`` with ``headers``), "slow" (answer after ``delay`` s).
    """

    kind: str
    task: str = "*"
    times: int = 1
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Reply:
    content: str | None = None
    refusal: str | None = None
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    error: str = ""


def task_of(body: dict[str, Any]) -> tuple[str, dict[str, Any] | None, bool]:
    """(task, input data, is_repair) of a crew request."""
    messages = body.get("messages", [])
    repair = bool(messages) and messages[-1].get("role") == "user" and \
        "was not accepted" in str(messages[-1].get("content", ""))
    for message in reversed(messages):
        content = str(message.get("content", ""))
        if message.get("role") == "user" and content.startswith("TASK:"):
            task = content.split("\n", 1)[0].removeprefix("TASK:").strip()
            payload = content.split("INPUT (JSON):\n", 1)[1] if "INPUT (JSON):\n" in content else "null"
            return task, json.loads(payload), repair
    return "", None, repair


class ScriptedCrewModel:
    """A deterministic stand-in for a model that plays every role of the crew well."""

    def __init__(self, faults: list[Fault] | None = None) -> None:
        self.faults = list(faults or [])
        self.lock = threading.Lock()
        self.tasks: list[str] = []

    def __call__(self, body: dict[str, Any]) -> Reply:
        task, data, repair = task_of(body)
        with self.lock:
            self.tasks.append(task)
            fault = next((f for f in self.faults if f.times > 0 and f.task in ("*", task)), None)
            if fault is not None:
                fault.times -= 1
        system = str(body["messages"][0]["content"]) if body.get("messages") else ""
        answer = self.answer(task, data, system)
        if fault is None:
            return Reply(content=json.dumps(answer))
        if fault.kind == "malformed":
            return Reply(content=json.dumps(answer)[:40] + ' "unterminated')
        if fault.kind == "hallucinate":
            return Reply(content=json.dumps(hallucinate(task, answer)))
        if fault.kind == "refusal":
            return Reply(refusal="I'm sorry, I can't help with that request.")
        if fault.kind == "status":
            return Reply(status=fault.status, headers=dict(fault.headers),
                         error="rate limited" if fault.status == 429 else "upstream failure")
        if fault.kind == "slow":
            return Reply(content=json.dumps(answer), delay=fault.delay)
        raise ValueError(f"unknown fault kind '{fault.kind}'")

    # --- the story ---------------------------------------------------------------------------
    def answer(self, task: str, data: Any, system: str) -> dict[str, Any]:
        handler = getattr(self, f"_{task}", None)
        if handler is None:
            return {"error": f"unknown task '{task}'"}
        return handler(data, system)

    def _outline(self, data, system):
        return copy.deepcopy(OUTLINE)

    def _write_script(self, data, system):
        return copy.deepcopy(SCRIPT)

    def _revise_script(self, data, system):
        script = copy.deepcopy(data["current_script"])
        beats = script["scenes"][0]["beats"]
        if beats[-1].get("kind") == "pause":
            beats[-1] = {"kind": "line", "character": "MARCO", "text": "Fine. We share it. Tonight only.",
                         "parenthetical": ""}
        return script

    def _review_script(self, data, system):
        lines = [b.get("text", "") for s in data["script"]["scenes"] for b in s["beats"]]
        if any("We share it" in line for line in lines):
            return {"approved": True, "notes": []}
        return {"approved": False, "notes": [{"scene": "S01", "beat": len(data["script"]["scenes"][0]["beats"]) - 1,
                                              "note": "End the scene on Marco giving in, in his own words."}]}

    def _revise_own_beats(self, data, system):
        cid = re.search(r"\(([A-Z]+)\)", system).group(1)
        if cid != "MARCO":
            return {"changes": [], "notes": "the lines fit"}
        for scene in data["script"]["scenes"]:
            for index, beat in enumerate(scene["beats"]):
                if beat.get("character") == "MARCO" and beat.get("kind") == "line":
                    return {"changes": [{"scene": scene["scene"], "beat": index, "item": {
                        "kind": "line", "character": "MARCO", "text": beat["text"] + " Don't touch my knives.",
                        "parenthetical": "without looking up"}}], "notes": "Marco guards his station"}
        return {"changes": []}

    def _review_actor(self, data, system):
        return {"approved": True, "notes": []}

    def _shot_list(self, data, system):
        expressive = "expressive" in system
        scenes = []
        for scene in data["scenes"]:
            shots = []
            for shot in scene["rule_based_coverage"]:
                spec = dict(shot, angle="eye", movement="static",
                            rationale=f"{shot['framing']} on {', '.join(shot['subjects']) or 'the room'}")
                if expressive and shot["framing"] == "single":
                    spec.update(movement="dolly_in", angle="low", rationale="push in on the speaker")
                shots.append(spec)
            scenes.append({"scene": scene["scene"], "shots": shots})
        return {"scenes": scenes}

    def _judge_shots(self, data, system):
        proposals = data["proposals"]
        merged = {"scenes": [proposals["A"]["scenes"][0], *proposals["B"]["scenes"][1:]]}
        return {"choice": "merge", "rationale": "classical coverage for the kitchen, moves on the street",
                "merged": merged}


def hallucinate(task: str, answer: dict[str, Any]) -> dict[str, Any]:
    """The answer with references to things that do not exist."""
    bad = copy.deepcopy(answer)
    if task == "outline":
        bad["sets"][0]["kind"] = "spaceship"
        bad["scenes"][0]["cast"].append("GHOST")
    elif task in ("write_script", "revise_script"):
        beats = bad["scenes"][0]["beats"]
        beats[1] = {"kind": "action", "character": "MARCO", "action": "moonwalk", "target": ""}
        beats[2] = {"kind": "move", "character": "ELENA", "to_mark": "fridge_top"}
    elif task == "shot_list":
        shot = bad["scenes"][0]["shots"][0]
        shot.update(movement="whip_pan", subjects=["GHOST"])
    elif task == "revise_own_beats" and bad.get("changes"):
        bad["changes"][0]["item"]["character"] = "ELENA"
    elif task == "judge_shots" and bad.get("merged"):
        bad["merged"]["scenes"][0]["shots"][0]["size"] = "XXL"
    return bad


OUTLINE: dict[str, Any] = {
    "title": "Two Chefs, One Kitchen",
    "logline": "Two rival chefs forced to share a studio kitchen for a televised cook-off learn to cook together.",
    "style": "warm tungsten kitchen light, cool blue night street",
    "characters": [
        {"id": "MARCO", "name": "Marco Bellini", "profile": "proud head chef, fifties, guards his station",
         "appearance": {"gender": 1.0, "age_years": 52, "weight": 0.7, "muscle": 0.5, "height": 0.55,
                        "proportions": 0.5, "skin_tone": "#c8a08a",
                        "outfit": {"top": "#f2f2f0", "bottom": "#2f2f38", "shoes": "#1d1a18", "hair": "#9a9a96"}}},
        {"id": "ELENA", "name": "Elena Ruiz", "profile": "young pastry chef, quick and dry-witted",
         "appearance": {"gender": 0.0, "age_years": 29, "weight": 0.35, "muscle": 0.5, "height": 0.45,
                        "proportions": 0.5, "skin_tone": "#8d5b3e",
                        "outfit": {"top": "#a83a32", "bottom": "#1f2f4a", "shoes": "#5a3a22", "hair": "#1a1a1a"}}},
    ],
    "sets": [{"id": "studio", "kind": "kitchen", "location": "TV STUDIO KITCHEN"},
             {"id": "street", "kind": "street", "location": "QUIET STREET"}],
    "scenes": [
        {"set": "studio", "int_ext": "INT", "time": "DAY", "cast": ["MARCO", "ELENA"],
         "summary": "Minutes before the broadcast Elena arrives late; Marco claims the kitchen."},
        {"set": "street", "int_ext": "EXT", "time": "NIGHT", "cast": ["MARCO", "ELENA"],
         "summary": "After the show they meet outside and admit they won together."},
    ],
}

SCRIPT: dict[str, Any] = {"scenes": [
    {"scene": "S01", "description": "A gleaming studio kitchen under hot lights, two stations, one stove.",
     "start": [{"character": "MARCO", "mark": "stove"}],
     "beats": [
         {"kind": "action", "character": "ELENA", "action": "enter", "target": "door"},
         {"kind": "line", "character": "MARCO", "text": "You're late. The cameras roll in five minutes."},
         {"kind": "move", "character": "ELENA", "to_mark": "sink"},
         {"kind": "line", "character": "ELENA", "text": "I was buying the saffron you forgot."},
         {"kind": "action", "character": "MARCO", "action": "turn", "target": "ELENA"},
         {"kind": "line", "character": "MARCO", "text": "This kitchen is mine."},
         {"kind": "action", "character": "ELENA", "action": "shrug", "target": ""},
         {"kind": "line", "character": "ELENA", "text": "Then cook like it."},
         {"kind": "move", "character": "MARCO", "to_mark": "table_seat_a"},
         {"kind": "pause", "long": True},
     ]},
    {"scene": "S02", "description": "A quiet street at night, the studio's shop door still lit.",
     "start": [{"character": "ELENA", "mark": "bench_left"}, {"character": "MARCO", "mark": "door"}],
     "beats": [
         {"kind": "move", "character": "MARCO", "to_mark": "lamp_post"},
         {"kind": "line", "character": "MARCO", "text": "You saved the dish."},
         {"kind": "action", "character": "ELENA", "action": "stand_up", "target": ""},
         {"kind": "line", "character": "ELENA", "text": "We both did."},
         {"kind": "action", "character": "MARCO", "action": "nod", "target": "ELENA"},
         {"kind": "move", "character": "ELENA", "to_mark": "crosswalk_south"},
         {"kind": "action", "character": "ELENA", "action": "wave", "target": "MARCO"},
     ]},
]}


def _check_story() -> None:
    """The canned story must use real marks (the recipes could change under it)."""
    for scene, kind in zip(SCRIPT["scenes"], ("kitchen", "street")):
        marks = {m.id for m in load_recipe(kind, set_id=kind).marks}
        used = {p["mark"] for p in scene["start"]} | {b["to_mark"] for b in scene["beats"] if b["kind"] == "move"} | \
            {b["target"] for b in scene["beats"] if b.get("target") and not b["target"].isupper()}
        if not used <= marks:
            raise ValueError(f"the scripted story uses marks the {kind} set lacks: {sorted(used - marks)}")


# --- the HTTP server ---------------------------------------------------------------------------
def _usage(body: dict[str, Any], content: str) -> dict[str, int]:
    prompt = sum(len(str(m.get("content", ""))) for m in body.get("messages", [])) // 4 + 1
    completion = len(content) // 4 + 1
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


class _Handler(BaseHTTPRequestHandler):
    server: "LoopbackServer"
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        return

    def _send_json(self, status: int, data: Any, headers: dict[str, str] | None = None) -> None:
        raw = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(raw)

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        owner = self.server
        with owner.lock:
            owner.requests.append({"path": self.path, "body": body,
                                   "authorization": self.headers.get("Authorization", "")})
            number = len(owner.requests)
        if owner.on_request is not None:
            owner.on_request(number, body)
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send_json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
            return
        format_type = (body.get("response_format") or {}).get("type")
        if format_type == "json_schema" and not owner.json_schema:
            self._send_json(400, {"error": {"message": "response_format json_schema is not supported by this server",
                                            "type": "invalid_request_error", "param": "response_format"}})
            return
        reply = owner.model(body)
        try:
            if reply.delay:
                time.sleep(reply.delay)
            if reply.status != 200:
                self._send_json(reply.status, {"error": {"message": reply.error or "error", "type": "server_error"}},
                                reply.headers)
                return
            if body.get("stream"):
                self._stream(body, reply)
            else:
                self._send_json(200, self._completion(body, reply))
        except (BrokenPipeError, ConnectionResetError):
            return  # the client gave up (a timeout): nothing to answer

    def _completion(self, body: dict[str, Any], reply: Reply) -> dict[str, Any]:
        content = reply.content or ""
        return {"id": "chatcmpl-loopback", "object": "chat.completion", "created": 0,
                "model": body.get("model", "scripted"),
                "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                             "message": {"role": "assistant", "content": reply.content, "refusal": reply.refusal}}],
                "usage": _usage(body, content or reply.refusal or "")}

    def _stream(self, body: dict[str, Any], reply: Reply) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        base = {"id": "chatcmpl-loopback", "object": "chat.completion.chunk", "created": 0,
                "model": body.get("model", "scripted")}

        def send(chunk: dict[str, Any]) -> None:
            self.wfile.write(f"data: {json.dumps({**base, **chunk})}\n\n".encode())
            self.wfile.flush()

        send({"choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]})
        text = reply.content or ""
        key = "content" if reply.content is not None else "refusal"
        text = text if reply.content is not None else reply.refusal or ""
        step = max(1, len(text) // 3 + 1)
        for start in range(0, len(text), step):
            send({"choices": [{"index": 0, "delta": {key: text[start:start + step]}, "finish_reason": None}]})
        send({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            send({"choices": [], "usage": _usage(body, text)})
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


class LoopbackServer(ThreadingHTTPServer):
    """A Chat Completions server on 127.0.0.1 (a free port), served from a thread.

    Use as a context manager; ``url`` is the base URL to give the client (``.../v1``).
    """

    daemon_threads = True

    def __init__(self, model: Callable[[dict[str, Any]], Reply], *, json_schema: bool = True,
                 on_request: Callable[[int, dict[str, Any]], None] | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.model = model
        self.json_schema = json_schema
        self.on_request = on_request
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> "LoopbackServer":
        self._thread = threading.Thread(target=self.serve_forever, name="loopback-chat", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def tasks(self) -> list[str]:
        return [task_of(r["body"])[0] for r in self.requests]
