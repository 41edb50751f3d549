"""Talking to an OpenAI-compatible Chat Completions server: structured answers, retries, a cache.

Every request goes through :meth:`ChatClient.complete`:

* the response cache (``agents/cache/`` in the production folder) is keyed by the whole request
  (endpoint without credentials, model, messages, response format, temperature, seed), so a rerun
  asks the server nothing and gets the same answers;
* structured output: a JSON Schema ``response_format`` first; a server that rejects it (400/422)
  gets JSON mode, then plain text, and the mode that worked is remembered in the cache folder;
* 429, 5xx, timeouts and dropped connections are retried with exponential backoff, waiting what
  ``Retry-After`` asks; a set cancel event stops waits and streams at once;
* every request and answer goes to ``agents/transcript.jsonl``; the API key is only ever handed to
  the ``openai`` client, never to a message, a cache entry, the transcript or report.json.

:meth:`ChatClient.ask` adds the repair loop: an answer that is not JSON, does not fit the typed
output, or refers to things that do not exist goes back to the same role with the exact errors.
"""

from __future__ import annotations

import email.utils
import json
import random
import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

from ..fsutil import atomic_write_json, sha256_json
from ..plan.io import format_validation_error
from .config import AgentError, CancelledError, LLMSettings

T = TypeVar("T", bound=BaseModel)
MAX_RETRY_AFTER = 300.0  # seconds; a server asking for longer is reported, not waited for


@dataclass
class RoleStats:
    """What one role cost: calls that reached the server, cached answers, tokens, retries."""

    calls: int = 0
    cached_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls_without_usage: int = 0
    retries: int = 0
    repairs: int = 0
    refusals: int = 0
    model_seconds: float = 0.0

    def report(self, prices) -> dict[str, Any]:
        data = asdict(self)
        data["model_seconds"] = round(self.model_seconds, 3)
        if not data["calls_without_usage"]:
            data.pop("calls_without_usage")
        if prices is not None and self.calls and not self.calls_without_usage:
            data["cost_usd"] = prices.cost(self.prompt_tokens, self.completion_tokens)
        return data


@dataclass
class Reply:
    content: str | None
    refusal: str | None
    finish_reason: str | None
    usage: dict[str, int] | None
    cached: bool = False


@dataclass
class Answer(Generic[T]):
    """The outcome of :meth:`ChatClient.ask`: a valid value, or the errors that remained."""

    value: T | None
    first_ref_errors: list[str] | None  # dangling references in the first draft that parsed
    errors: list[str] = field(default_factory=list)  # what was still wrong when repair ran out
    attempts: int = 0
    messages: list[dict[str, str]] = field(default_factory=list)


class Transcript:
    """``agents/transcript.jsonl``: one JSON object per line, appended as the crew works."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.seq = 0
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("", encoding="utf-8")

    def write(self, event: dict[str, Any]) -> None:
        with self.lock:
            self.seq += 1
            if self.path is None:
                return
            line = json.dumps({"seq": self.seq, "time": round(time.time(), 3), **event}, ensure_ascii=False)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(line + "\n")


class ResponseCache:
    """Answers by request hash, one JSON file each, written atomically."""

    def __init__(self, root: Path | None) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        assert self.root is not None and re.fullmatch(r"[0-9a-f]{64}", key)
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        if self.root is None:
            return None
        try:
            data = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return data if isinstance(data, dict) and data.get("key") == key else None

    def put(self, key: str, value: dict[str, Any]) -> None:
        if self.root is not None:
            atomic_write_json(self._path(key), {"key": key, **value})

    def server_mode(self, server: str) -> str | None:
        if self.root is None:
            return None
        try:
            return json.loads((self.root / "server.json").read_text()).get(server)
        except (FileNotFoundError, json.JSONDecodeError, AttributeError):
            return None

    def remember_mode(self, server: str, mode: str) -> None:
        if self.root is None:
            return
        path = self.root / "server.json"
        try:
            known = json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            known = {}
        known[server] = mode
        atomic_write_json(path, known)


def retry_after_seconds(headers: Any) -> float | None:
    """Seconds a response's ``Retry-After`` (or ``retry-after-ms``) asks to wait, if any."""
    if headers is None:
        return None
    millis = headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_tz(value)
        if parsed is None:
            return None
        return max(0.0, email.utils.mktime_tz(parsed) - time.time())


def parse_json_object(text: str) -> dict[str, Any]:
    """The JSON object in a model's answer (code fences and text around it are tolerated).

    Raises:
        ValueError: one line saying what is wrong and where.
    """
    body = text.strip()
    fenced = re.search(r"```(?:json)?\s*(.*?)```", body, re.S)
    if fenced:
        body = fenced.group(1).strip()
    if not body.startswith("{") and "{" in body:
        body = body[body.index("{"):body.rindex("}") + 1] if "}" in body else body[body.index("{"):]
    try:
        data = json.loads(body)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    if not isinstance(data, dict):
        raise ValueError(f"the answer must be a JSON object, not {type(data).__name__}")
    return data


def _usage_dict(usage: Any) -> dict[str, int] | None:
    if usage is None:
        return None
    return {"prompt_tokens": int(usage.prompt_tokens or 0),
            "completion_tokens": int(usage.completion_tokens or 0)}


class ChatClient:
    """One conversation partner for all roles, with per-role statistics."""

    def __init__(self, *, settings: LLMSettings, cache_dir: Path | None, transcript: Transcript,
                 cancel: threading.Event | None = None, client: Any = None) -> None:
        settings.require_endpoint(why="the LLM crew")
        self.settings = settings
        self.cache = ResponseCache(cache_dir)
        self.transcript = transcript
        self.cancel = cancel or threading.Event()
        self.stats: dict[str, RoleStats] = {}
        self.server = f"{settings.public_endpoint} {settings.model}"
        wanted = settings.structured_output
        self.mode = (self.cache.server_mode(self.server) or "json_schema") if wanted == "auto" else wanted
        self._client = client
        self._lock = threading.Lock()

    # --- the openai client -------------------------------------------------------------------
    @property
    def client(self) -> Any:
        if self._client is None:
            import openai

            self._client = openai.OpenAI(api_key=self.settings.api_key or "no-key",
                                         base_url=self.settings.endpoint, timeout=self.settings.timeout,
                                         max_retries=0)
        return self._client

    def role_stats(self, role: str) -> RoleStats:
        with self._lock:
            return self.stats.setdefault(role, RoleStats())

    def check_cancel(self) -> None:
        if self.cancel.is_set():
            raise CancelledError("cancelled; answers so far are cached, run again to resume")

    # --- one request -------------------------------------------------------------------------
    def _body(self, messages: list[dict[str, str]], schema_name: str, schema: dict[str, Any],
              mode: str, role: str) -> dict[str, Any]:
        messages = [dict(m) for m in messages]
        if mode != "json_schema":
            messages[0]["content"] += ("\n\nAnswer with one JSON object, nothing else, matching this "
                                       f"JSON Schema:\n{json.dumps(schema, separators=(',', ':'))}")
        body: dict[str, Any] = {"model": self.settings.model_for(role), "messages": messages,
                                "temperature": self.settings.temperature}
        if self.settings.seed is not None:
            body["seed"] = self.settings.seed
        if mode == "json_schema":
            body["response_format"] = {"type": "json_schema", "json_schema": {
                "name": schema_name, "schema": schema, "strict": False}}
        elif mode == "json_object":
            body["response_format"] = {"type": "json_object"}
        return body

    def complete(self, *, role: str, messages: list[dict[str, str]], schema_name: str,
                 schema: dict[str, Any]) -> Reply:
        """One answer for ``messages``: from the cache, else from the server (with retries)."""
        import openai

        stats = self.role_stats(role)
        while True:
            self.check_cancel()
            mode = self.mode
            body = self._body(messages, schema_name, schema, mode, role)
            key = sha256_json({"endpoint": self.settings.public_endpoint, **body})
            hit = self.cache.get(key)
            if hit is not None:
                stats.cached_calls += 1
                reply = Reply(hit.get("content"), hit.get("refusal"), hit.get("finish_reason"),
                              hit.get("usage"), cached=True)
                self._log(role, body, reply, key, seconds=0.0)
                return reply
            try:
                reply = self._send(role, body)
            except (openai.BadRequestError, openai.UnprocessableEntityError) as exc:
                fallback = {"json_schema": "json_object", "json_object": "text"}.get(mode)
                if fallback is None or self.settings.structured_output != "auto":
                    raise AgentError(f"{role}: the server refused the request ({exc.status_code}: "
                                     f"{_one_line(exc)})", path=self.settings.public_endpoint) from None
                self.transcript.write({"role": role, "event": "structured_output_fallback", "from": mode,
                                       "to": fallback, "status": exc.status_code, "error": _one_line(exc)})
                self.mode = fallback
                self.cache.remember_mode(self.server, fallback)
                continue
            self.cache.put(key, {"content": reply.content, "refusal": reply.refusal,
                                 "finish_reason": reply.finish_reason, "usage": reply.usage})
            return reply

    def _send(self, role: str, body: dict[str, Any]) -> Reply:
        import openai

        stats = self.role_stats(role)
        retryable = (openai.RateLimitError, openai.InternalServerError, openai.APITimeoutError,
                     openai.APIConnectionError)
        attempts = self.settings.retries + 1
        for attempt in range(attempts):
            self.check_cancel()
            started = time.perf_counter()
            try:
                reply = self._call(body)
            except retryable as exc:
                stats.model_seconds += time.perf_counter() - started
                status = getattr(exc, "status_code", None)
                headers = getattr(getattr(exc, "response", None), "headers", None)
                asked = retry_after_seconds(headers)
                what = f"{status} {_one_line(exc)}" if status else _one_line(exc)
                if asked is not None and asked > MAX_RETRY_AFTER:
                    raise AgentError(f"{role}: the server asks to wait {asked:.0f} s (Retry-After) "
                                     f"after '{what}'; try again later", path=self.settings.public_endpoint) from None
                if attempt + 1 == attempts:
                    raise AgentError(f"{role}: {what} (gave up after {attempts} attempt(s); raise "
                                     "--llm-retries or --llm-timeout)", path=self.settings.public_endpoint) from None
                backoff = min(self.settings.backoff_max, self.settings.backoff_base * 2 ** attempt)
                delay = asked if asked is not None else backoff * (0.5 + random.random() / 2)
                stats.retries += 1
                self.transcript.write({"role": role, "event": "retry", "attempt": attempt + 1, "error": what,
                                       "retry_after": asked, "wait_s": round(delay, 3)})
                waited = time.perf_counter()
                if self.cancel.wait(delay):
                    self.check_cancel()
                stats.model_seconds += time.perf_counter() - waited  # waiting on the server counts as model time
                continue
            except openai.APIStatusError as exc:
                if isinstance(exc, (openai.BadRequestError, openai.UnprocessableEntityError)):
                    raise
                raise AgentError(f"{role}: the server answered {exc.status_code}: {_one_line(exc)}",
                                 path=self.settings.public_endpoint) from None
            seconds = time.perf_counter() - started
            stats.model_seconds += seconds
            stats.calls += 1
            if reply.usage is None:
                stats.calls_without_usage += 1
            else:
                stats.prompt_tokens += reply.usage["prompt_tokens"]
                stats.completion_tokens += reply.usage["completion_tokens"]
            self._log(role, body, reply, None, seconds=seconds)
            return reply
        raise AssertionError("unreachable")

    def _call(self, body: dict[str, Any]) -> Reply:
        if not self.settings.stream:
            response = self.client.chat.completions.create(**body)
            if not response.choices:
                return Reply(None, None, None, _usage_dict(response.usage))
            choice = response.choices[0]
            return Reply(choice.message.content, getattr(choice.message, "refusal", None),
                         choice.finish_reason, _usage_dict(response.usage))
        stream = self.client.chat.completions.create(**body, stream=True,
                                                     stream_options={"include_usage": True})
        content: list[str] = []
        refusal: list[str] = []
        finish = None
        usage = None
        try:
            for chunk in stream:
                if self.cancel.is_set():
                    break
                if chunk.usage is not None:
                    usage = _usage_dict(chunk.usage)
                for choice in chunk.choices:
                    if choice.delta.content:
                        content.append(choice.delta.content)
                    if getattr(choice.delta, "refusal", None):
                        refusal.append(choice.delta.refusal)
                    finish = choice.finish_reason or finish
        finally:
            stream.close()
        self.check_cancel()
        return Reply("".join(content) if content else None, "".join(refusal) or None, finish, usage)

    def _log(self, role: str, body: dict[str, Any], reply: Reply, key: str | None, *, seconds: float) -> None:
        self.transcript.write({"role": role, "event": "completion", "cached": reply.cached,
                               "response_format": (body.get("response_format") or {}).get("type", "text"),
                               "messages": body["messages"],
                               "answer": {"content": reply.content, "refusal": reply.refusal,
                                          "finish_reason": reply.finish_reason},
                               "usage": reply.usage, "seconds": round(seconds, 3)})

    # --- typed answers with repair -----------------------------------------------------------
    def ask(self, *, role: str, system: str, user: str, output: type[T],
            check: Callable[[T], list[str]] | None = None, rounds: int | None = None,
            history: list[dict[str, str]] | None = None) -> Answer[T]:
        """Ask ``role`` for a value of type ``output``; send exact errors back until it is valid.

        Args:
            role: who answers (statistics and transcript are per role).
            system: the role's prompt.
            user: the task, with its input data.
            output: the pydantic model of the answer.
            check: reference checks beyond the model; each error names its field path.
            rounds: how many times a bad answer is sent back (default: settings.repair_rounds).
            history: an earlier conversation with this role to continue (system message first).

        Returns:
            The valid value, or ``value=None`` with the errors left when the rounds ran out.
        """
        rounds = self.settings.repair_rounds if rounds is None else rounds
        stats = self.role_stats(role)
        messages = list(history or [{"role": "system", "content": system}])
        messages.append({"role": "user", "content": user})
        schema = output.model_json_schema()
        first_refs: list[str] | None = None
        errors: list[str] = []
        for attempt in range(rounds + 1):
            if attempt:
                stats.repairs += 1
            reply = self.complete(role=role, messages=messages, schema_name=output.__name__, schema=schema)
            value, errors, refs = self._judge(reply, output, check)
            if refs is not None and first_refs is None:
                first_refs = refs
            if reply.refusal or (reply.finish_reason == "content_filter" and value is None):
                stats.refusals += 1
            messages.append({"role": "assistant", "content": reply.content or reply.refusal or ""})
            if not errors:
                return Answer(value, first_refs or [], [], attempt + 1, messages)
            self.transcript.write({"role": role, "event": "rejected", "attempt": attempt + 1, "errors": errors})
            messages.append({"role": "user", "content": _repair_prompt(errors, refusal=bool(reply.refusal))})
        return Answer(None, first_refs, errors, rounds + 1, messages)

    @staticmethod
    def _judge(reply: Reply, output: type[T], check) -> tuple[T | None, list[str], list[str] | None]:
        if reply.refusal:
            return None, [f"you declined to answer: {_clip(reply.refusal)}"], None
        if not reply.content:
            return None, [f"the answer was empty (finish_reason {reply.finish_reason})"], None
        try:
            data = parse_json_object(reply.content)
        except ValueError as exc:
            return None, [str(exc)], None
        try:
            value = output.model_validate(data)
        except ValidationError as exc:
            return None, format_validation_error(exc).split("; "), None
        refs = check(value) if check else []
        return value, refs, refs


def _repair_prompt(errors: list[str], *, refusal: bool) -> str:
    lead = ("This is fiction for a film previsualisation; nothing in it is real. " if refusal else "")
    listed = "\n".join(f"- {e}" for e in errors)
    return (f"{lead}Your answer was not accepted:\n{listed}\nAnswer again with the whole corrected JSON "
            "object, using only the ids, marks, actions and shot terms you were given.")


def _one_line(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return _clip(" ".join(str(message).split()))


def _clip(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."
