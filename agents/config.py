"""Settings of the agent crew: which server and model, how patient, which roles use it.

Each setting comes from the first place that gives it: the command line, then the environment,
then ``./filmcrew.toml``, then ``~/.config/filmcrew/config.toml`` (or the file named by
``--llm-config``). The API key comes only from the environment (``OPENAI_API_KEY``, or the
variable a config file names in ``api_key_env``), never from a file, and is never written out.

Config file::

    [llm]
    base_url = "http://localhost:8000/v1"
    model = "some-model"
    timeout = 120            # seconds per request
    retries = 4              # on 429, 5xx, timeouts and dropped connections
    review_rounds = 2        # critique/correct/verify rounds per review
    repair_rounds = 2        # answers re-asked after invalid JSON or dangling references
    stream = false
    structured_output = "auto"   # auto | json_schema | json_object | text
    api_key_env = "OPENAI_API_KEY"

    [llm.prices]             # USD per million tokens; cost goes to report.json
    prompt = 0.15
    completion = 0.60

    [llm.models]             # a model per role (default: model)
    actor = "a-smaller-model"

    [roles]                  # llm | offline
    cinematographer = "llm"
"""

from __future__ import annotations

import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ..errors import FilmCrewError

ROLES = ("director", "screenwriter", "actor", "cinematographer")
BACKENDS = ("llm", "offline")
STRUCTURED_MODES = ("auto", "json_schema", "json_object", "text")
OPENAI_DEFAULT_BASE_URL = "https://api.openai.com/v1"
HOW_TO_CONFIGURE = ("pass --llm-base-url URL --llm-model NAME, or set OPENAI_BASE_URL (or "
                    "OPENAI_API_KEY for api.openai.com) and FILMCREW_LLM_MODEL, or put base_url "
                    "and model under [llm] in ./filmcrew.toml or ~/.config/filmcrew/config.toml")


class AgentError(FilmCrewError):
    """The crew could not finish: no endpoint, a server that keeps failing, drafts that stay invalid."""


class CancelledError(AgentError):
    """The run was cancelled (the cancel event was set)."""


@dataclass(frozen=True)
class Prices:
    """USD per million prompt and completion tokens."""

    prompt: float
    completion: float

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        return round((prompt_tokens * self.prompt + completion_tokens * self.completion) / 1e6, 6)


@dataclass(frozen=True)
class LLMSettings:
    """Where and how the crew talks to a Chat Completions server."""

    base_url: str | None = None
    model: str | None = None
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 120.0
    retries: int = 4
    review_rounds: int = 2
    repair_rounds: int = 2
    stream: bool = False
    structured_output: str = "auto"
    temperature: float = 0.0
    seed: int | None = 7
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    prices: Prices | None = None
    roles: Mapping[str, str] = field(default_factory=dict)
    models: Mapping[str, str] = field(default_factory=dict)

    def model_for(self, role: str) -> str | None:
        """The model a role talks to (``actor:MAYA`` is the actor): its own, else ``model``."""
        return self.models.get(role.split(":", 1)[0]) or self.model

    @property
    def configured(self) -> bool:
        """True when an endpoint is known: a base URL, or an API key for api.openai.com."""
        return bool(self.base_url or self.api_key)

    @property
    def endpoint(self) -> str:
        return self.base_url or OPENAI_DEFAULT_BASE_URL

    @property
    def public_endpoint(self) -> str:
        """The base URL without any user:password part, safe to write to files."""
        return redact_url(self.endpoint)

    def backend(self, role: str) -> str:
        return self.roles.get(role, "offline")

    def require_endpoint(self, *, why: str) -> None:
        """Raise a one-line AgentError saying how to configure a server when none is set."""
        if not self.configured:
            raise AgentError(f"{why} needs an LLM endpoint: {HOW_TO_CONFIGURE}")
        llm_roles = [r for r in ROLES if self.roles.get(r, "llm") == "llm"]
        if not self.model and not all(self.models.get(r) for r in llm_roles):
            raise AgentError(f"{why} needs a model name: pass --llm-model NAME, set "
                             "FILMCREW_LLM_MODEL, or put model under [llm] in filmcrew.toml")


def redact_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.username or parts.password:
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts)


def parse_roles(text: str, *, source: str = "--roles") -> dict[str, str]:
    """``"screenwriter=llm,cinematographer=offline"`` as a dict, refusing unknown names."""
    roles: dict[str, str] = {}
    for item in (p.strip() for p in text.split(",")):
        if not item:
            continue
        name, sep, backend = (s.strip().lower() for s in item.partition("="))
        name = "actor" if name == "actors" else name
        if not sep or name not in ROLES or backend not in BACKENDS:
            raise AgentError(f"'{item}' is not ROLE=BACKEND with ROLE one of {', '.join(ROLES)} "
                             f"and BACKEND llm or offline", path=source)
        roles[name] = backend
    return roles


def parse_models(text: str, *, source: str = "--llm-models") -> dict[str, str]:
    """``"director=big-model,actor=small-model"`` as a dict, refusing unknown roles."""
    models: dict[str, str] = {}
    for item in (p.strip() for p in text.split(",")):
        if not item:
            continue
        name, sep, model = (s.strip() for s in item.partition("="))
        name = "actor" if name.lower() == "actors" else name.lower()
        if not sep or name not in ROLES or not model:
            raise AgentError(f"'{item}' is not ROLE=MODEL with ROLE one of {', '.join(ROLES)}", path=source)
        models[name] = model
    return models


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise AgentError(f"not valid TOML: {exc}", path=path) from None
    except OSError as exc:
        raise AgentError(f"cannot read: {exc.strerror or exc}", path=path) from None


def config_files(*, cwd: Path, home: Path, explicit: Path | None = None) -> list[Path]:
    """Config files in order of precedence (first wins)."""
    if explicit is not None:
        if not explicit.is_file():
            raise AgentError("no such config file", path=explicit)
        return [explicit]
    return [cwd / "filmcrew.toml", home / ".config" / "filmcrew" / "config.toml"]


def _number(value: Any, *, kind: type, where: str, low: float, high: float) -> Any:
    try:
        number = kind(value)
    except (TypeError, ValueError):
        raise AgentError(f"must be a number, not {value!r}", field=where) from None
    if isinstance(number, float) and not math.isfinite(number) or not low <= number <= high:
        raise AgentError(f"must be between {low:g} and {high:g}, not {value!r}", field=where)
    return number


def _flag(value: Any, *, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise AgentError(f"must be true or false, not {value!r}", field=where)


_ENV = {
    "base_url": ("FILMCREW_LLM_BASE_URL", "OPENAI_BASE_URL"),
    "model": ("FILMCREW_LLM_MODEL",),
    "timeout": ("FILMCREW_LLM_TIMEOUT",),
    "retries": ("FILMCREW_LLM_RETRIES",),
    "review_rounds": ("FILMCREW_REVIEW_ROUNDS",),
    "repair_rounds": ("FILMCREW_REPAIR_ROUNDS",),
    "stream": ("FILMCREW_LLM_STREAM",),
    "structured_output": ("FILMCREW_LLM_STRUCTURED_OUTPUT",),
    "roles": ("FILMCREW_ROLES",),
    "models": ("FILMCREW_LLM_MODELS",),
}
_FILE_KEYS = {"base_url", "model", "timeout", "retries", "review_rounds", "repair_rounds", "stream",
              "structured_output", "api_key_env", "temperature", "seed", "prices", "models"}


def _per_role(parse, *, base: Mapping[str, str], env: Mapping[str, str], names: tuple[str, ...],
              given: Any) -> dict[str, str]:
    """A per-role table: the config files' ``base``, then the environment, then the flag."""
    merged = dict(base)
    for name in names:
        if env.get(name):
            merged.update(parse(env[name], source=name))
    if given is not None:
        merged.update(given if isinstance(given, Mapping) else parse(str(given)))
    return merged


def load_settings(*, overrides: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None,
                  cwd: Path | None = None, home: Path | None = None,
                  config: Path | None = None) -> LLMSettings:
    """Merge command-line overrides, environment and config files into settings.

    Args:
        overrides: values from the command line (None means "not given").
        env: the environment (default ``os.environ``).
        cwd: where ``filmcrew.toml`` is looked for (default the working directory).
        home: the home folder (default ``Path.home()``).
        config: an explicit config file, used instead of the two default places.

    Raises:
        AgentError: a malformed config file or value, naming file and key.
    """
    env = os.environ if env is None else env
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    files = config_files(cwd=cwd or Path.cwd(), home=home or Path.home(), explicit=config)
    file_values: dict[str, Any] = {}
    file_roles: dict[str, str] = {}
    for path in reversed(files):  # later files are weaker: read them first, let earlier override
        data = _read_toml(path)
        llm = data.get("llm", {})
        if not isinstance(llm, dict):
            raise AgentError("must be a table", path=path, field="llm")
        unknown = sorted(set(llm) - _FILE_KEYS)
        if unknown:
            raise AgentError(f"unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_FILE_KEYS))})",
                             path=path, field="llm")
        file_values.update({k: (v, path) for k, v in llm.items()})
        roles = data.get("roles", {})
        if not isinstance(roles, dict):
            raise AgentError("must be a table", path=path, field="roles")
        file_roles.update(parse_roles(",".join(f"{k}={v}" for k, v in roles.items()), source=str(path)))

    def pick(key: str) -> tuple[Any, str] | None:
        if key in overrides:
            flag = key.replace("_", "-")
            return overrides[key], f"--{flag}" if key.endswith("rounds") else f"--llm-{flag}"
        for name in _ENV.get(key, ()):
            if env.get(name):
                return env[name], name
        if key in file_values:
            value, path = file_values[key]
            return value, f"{path}: llm.{key}"
        return None

    values: dict[str, Any] = {}
    for key, kind, low, high in (("timeout", float, 0.01, 3600.0), ("retries", int, 0, 20),
                                 ("review_rounds", int, 0, 10), ("repair_rounds", int, 0, 10),
                                 ("temperature", float, 0.0, 2.0), ("seed", int, 0, 2**31 - 1)):
        found = pick(key)
        if found is not None:
            values[key] = _number(found[0], kind=kind, where=found[1], low=low, high=high)
    for key in ("base_url", "model"):
        found = pick(key)
        if found is not None and str(found[0]).strip():
            values[key] = str(found[0]).strip()
    found = pick("stream")
    if found is not None:
        values["stream"] = _flag(found[0], where=found[1])
    found = pick("structured_output")
    if found is not None:
        mode = str(found[0]).strip().lower()
        if mode not in STRUCTURED_MODES:
            raise AgentError(f"must be one of {', '.join(STRUCTURED_MODES)}, not {found[0]!r}", field=found[1])
        values["structured_output"] = mode
    if "prices" in file_values:
        prices, path = file_values["prices"]
        if not isinstance(prices, dict) or set(prices) != {"prompt", "completion"}:
            raise AgentError("must be a table with prompt and completion (USD per million tokens)",
                             path=path, field="llm.prices")
        values["prices"] = Prices(
            prompt=_number(prices["prompt"], kind=float, where=f"{path}: llm.prices.prompt", low=0, high=1e6),
            completion=_number(prices["completion"], kind=float, where=f"{path}: llm.prices.completion",
                               low=0, high=1e6))
    key_var = str(file_values.get("api_key_env", ("OPENAI_API_KEY", None))[0])
    api_key = env.get("FILMCREW_LLM_API_KEY") or env.get(key_var) or None
    roles = _per_role(parse_roles, base=file_roles, env=env, names=_ENV["roles"], given=overrides.get("roles"))
    file_models: dict[str, str] = {}
    if "models" in file_values:
        table, path = file_values["models"]
        if not isinstance(table, dict):
            raise AgentError("must be a table of role = model", path=path, field="llm.models")
        file_models = parse_models(",".join(f"{k}={v}" for k, v in table.items()), source=str(path))
    models = _per_role(parse_models, base=file_models, env=env, names=_ENV["models"], given=overrides.get("models"))
    return replace(LLMSettings(), api_key=api_key, roles=roles, models=models, **values)
