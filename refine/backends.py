"""Video model backends behind one small interface.

A backend turns one window (a control video of ``4k+1`` frames with sides multiples of 16, its
mask, reference images and a prompt) into frames. ``WanVACEPipeline`` (Wan 2.1 VACE) is the
default; ``CogVideoXFunControlPipeline`` (CogVideoX-Fun control) is the second. Both come from
diffusers and load from a local folder in the diffusers layout (``model_index.json``) or from
the Hugging Face cache; nothing is downloaded here.

A model folder may carry ``filmcrew_refine.json`` with ``fps``, ``window`` and
``max_sequence_length`` to override the backend's defaults (the tiny test models do).
"""

from __future__ import annotations

import json
import struct
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from ..errors import FilmCrewError

StepCallback = Callable[[int, int], None]
"""``on_step(done, total)`` after each denoising step; it may raise to stop the window."""

SETTINGS_FILE = "filmcrew_refine.json"
CPU_PARAMETER_LIMIT = 100_000_000
"""``--device cpu`` refuses transformers larger than this: it is for tiny test models."""


@dataclass(frozen=True)
class MemoryOptions:
    """How the model sits on the GPU.

    Attributes:
        offload: ``model`` moves whole components to the GPU only while they run (diffusers'
            model CPU offload); ``group`` streams groups of transformer blocks (group offload,
            overlapped with compute on a CUDA stream); None keeps everything on the device.
        vae_tiling: decode and encode the video in tiles (lower peak memory for large sizes).
        dtype: weights and activations of the transformer and text encoder (the Wan VAE stays
            in float32, as its authors recommend).
        compile: ``torch.compile`` the transformer's repeated blocks (regional compilation).
        attention: a diffusers attention backend name (``flash``, ``_native_cudnn``, ``sage``...).
    """

    offload: Literal["model", "group"] | None = None
    vae_tiling: bool = False
    dtype: Literal["bf16", "fp16", "fp32"] = "bf16"
    compile: bool = False
    attention: str | None = None


@dataclass(frozen=True)
class ModelSettings:
    """What a model was trained for: its frame rate, longest window and text length."""

    fps: int
    window: int
    max_sequence_length: int


@dataclass(frozen=True)
class WindowInput:
    """One window of one shot.

    Attributes:
        control: (F, H, W, 3) uint8 control frames, F = 4k+1, H and W multiples of 16.
        mask: (F, H, W) uint8, 255 = generate, 0 = keep the input pixel (VACE's polarity).
        references: reference images (characters, then the style frame), the same in every window.
        prompt: what the shot shows.
        negative_prompt: what it must not.
        seed: the same for every window of a shot.
        steps: denoising steps.
        guidance_scale: classifier-free guidance.
        conditioning_scale: weight of the control in the model (1.0 = as trained).
    """

    control: np.ndarray
    mask: np.ndarray
    references: tuple[Any, ...] = ()
    prompt: str = ""
    negative_prompt: str = ""
    seed: int = 0
    steps: int = 30
    guidance_scale: float = 5.0
    conditioning_scale: float = 1.0

    def __post_init__(self) -> None:
        frames, height, width, channels = self.control.shape
        if self.control.dtype != np.uint8 or channels != 3:
            raise FilmCrewError(f"control must be (F, H, W, 3) uint8, not {self.control.shape} "
                                f"{self.control.dtype}")
        if (frames - 1) % 4 or height % 16 or width % 16:
            raise FilmCrewError(f"a window needs 4k+1 frames and sides multiples of 16, "
                                f"not {frames} frames of {width}x{height}")
        if self.mask.shape != (frames, height, width):
            raise FilmCrewError(f"mask shape {self.mask.shape} does not match control {self.control.shape}")


class RefineBackend(ABC):
    """A loaded video model that refines windows. Subclasses name their diffusers pipeline."""

    name: ClassVar[str]
    pipeline_class: ClassVar[str]
    defaults: ClassVar[ModelSettings]
    supports_references: ClassVar[bool]
    supports_conditioning_scale: ClassVar[bool]
    temporal_factor: ClassVar[int] = 4
    size_multiple: ClassVar[int] = 16

    def __init__(self, pipe: Any, *, device: str, settings: ModelSettings) -> None:
        self.pipe = pipe
        self.device = device
        self.settings = settings

    @classmethod
    def load(cls, model_dir: Path, *, device: str, memory: MemoryOptions,
             settings: ModelSettings) -> RefineBackend:
        """Load the pipeline from ``model_dir`` and place it on ``device`` as ``memory`` says."""
        import torch

        dtype = torch_dtype(memory.dtype)
        pipe = cls._from_pretrained(model_dir, dtype)
        pipe.set_progress_bar_config(disable=True)
        _place(pipe, device=device, memory=memory, torch=torch)
        return cls(pipe, device=device, settings=settings)

    @classmethod
    @abstractmethod
    def _from_pretrained(cls, model_dir: Path, dtype: Any) -> Any:
        """The diffusers pipeline, weights loaded on the CPU."""

    @abstractmethod
    def generate(self, window: WindowInput, *, on_step: StepCallback | None = None) -> np.ndarray:
        """Refine one window; returns (F, H, W, 3) uint8 frames, F and size as the control's."""

    def _callback(self, steps: int, on_step: StepCallback | None):
        def callback(_pipe, index, _timestep, _tensors):
            if on_step is not None:
                on_step(index + 1, steps)
            return {}

        return callback

    @staticmethod
    def _generator(seed: int):
        import torch

        # A CPU generator draws the same noise whatever the device: a seed means one video.
        return torch.Generator(device="cpu").manual_seed(int(seed))

    @staticmethod
    def _to_uint8(frames: Any) -> np.ndarray:
        array = np.asarray(frames, dtype=np.float32)
        return np.clip(np.rint(array * 255.0), 0, 255).astype(np.uint8)


class WanVACEBackend(RefineBackend):
    """Wan 2.1 VACE (``WanVACEPipeline``): control video, mask and reference images."""

    name = "wan-vace"
    pipeline_class = "WanVACEPipeline"
    defaults = ModelSettings(fps=16, window=81, max_sequence_length=512)
    supports_references = True
    supports_conditioning_scale = True

    @classmethod
    def _from_pretrained(cls, model_dir: Path, dtype: Any) -> Any:
        import torch
        from diffusers import AutoencoderKLWan, WanVACEPipeline

        vae = AutoencoderKLWan.from_pretrained(model_dir, subfolder="vae", dtype=torch.float32)
        return WanVACEPipeline.from_pretrained(model_dir, vae=vae, dtype=dtype)

    def generate(self, window: WindowInput, *, on_step: StepCallback | None = None) -> np.ndarray:
        from PIL import Image

        frames, height, width, _ = window.control.shape
        video = [Image.fromarray(frame) for frame in window.control]
        mask = [Image.fromarray(m, mode="L") for m in window.mask]
        result = self.pipe(
            prompt=window.prompt, negative_prompt=window.negative_prompt, video=video, mask=mask,
            reference_images=list(window.references) or None,
            conditioning_scale=float(window.conditioning_scale), height=height, width=width,
            num_frames=frames, num_inference_steps=window.steps, guidance_scale=window.guidance_scale,
            generator=self._generator(window.seed), output_type="np",
            max_sequence_length=self.settings.max_sequence_length,
            callback_on_step_end=self._callback(window.steps, on_step))
        return self._to_uint8(result.frames[0])


class CogVideoXFunBackend(RefineBackend):
    """CogVideoX-Fun control (``CogVideoXFunControlPipeline``): control video only; it has no
    reference images, mask or conditioning scale, so those are left out (and said so)."""

    name = "cogvideox-fun"
    pipeline_class = "CogVideoXFunControlPipeline"
    defaults = ModelSettings(fps=8, window=49, max_sequence_length=226)
    supports_references = False
    supports_conditioning_scale = False

    @classmethod
    def _from_pretrained(cls, model_dir: Path, dtype: Any) -> Any:
        from diffusers import CogVideoXFunControlPipeline

        return CogVideoXFunControlPipeline.from_pretrained(model_dir, dtype=dtype)

    def generate(self, window: WindowInput, *, on_step: StepCallback | None = None) -> np.ndarray:
        from PIL import Image

        _, height, width, _ = window.control.shape
        result = self.pipe(
            prompt=window.prompt, negative_prompt=window.negative_prompt,
            control_video=[Image.fromarray(frame) for frame in window.control], height=height,
            width=width, num_inference_steps=window.steps, guidance_scale=window.guidance_scale,
            generator=self._generator(window.seed), output_type="np",
            max_sequence_length=self.settings.max_sequence_length,
            callback_on_step_end=self._callback(window.steps, on_step))
        return self._to_uint8(result.frames[0])


BACKENDS: dict[str, type[RefineBackend]] = {b.name: b for b in (WanVACEBackend, CogVideoXFunBackend)}
DTYPE_NAMES = ("bf16", "fp16", "fp32")


def torch_dtype(name: str) -> Any:
    """The torch dtype called ``bf16``, ``fp16`` or ``fp32``."""
    import torch

    if name not in DTYPE_NAMES:
        raise FilmCrewError(f"--dtype must be one of {', '.join(DTYPE_NAMES)}, not '{name}'")
    return {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[name]



def _place(pipe: Any, *, device: str, memory: MemoryOptions, torch: Any) -> None:
    if memory.attention:
        from diffusers.models.attention_dispatch import AttentionBackendName

        names = [b.value for b in AttentionBackendName]
        if memory.attention not in names:
            raise FilmCrewError(f"--attention {memory.attention} is not a diffusers attention backend "
                                f"({', '.join(names)})")
        pipe.transformer.set_attention_backend(memory.attention)
    if memory.offload and not device.startswith("cuda"):
        raise FilmCrewError(f"--offload {memory.offload} needs --device cuda")
    if memory.offload == "model":
        pipe.enable_model_cpu_offload(device=device)
    elif memory.offload == "group":
        pipe.enable_group_offload(onload_device=torch.device(device), offload_device=torch.device("cpu"),
                                  offload_type="block_level", num_blocks_per_group=1, use_stream=True)
    else:
        pipe.to(device)
    if memory.vae_tiling:
        pipe.vae.enable_tiling()
    if memory.compile:
        pipe.transformer.compile_repeated_blocks(fullgraph=True)


# --------------------------------------------------------------------------- finding models

def resolve_model(model: str) -> Path:
    """The local folder of ``model`` (a path, or a Hugging Face id already in the cache).

    Raises:
        FilmCrewError: nothing at the path, not in the cache, or weights missing from the folder.
    """
    path = Path(model).expanduser()
    if not path.exists():
        looks_like_id = model.count("/") == 1 and not model.startswith((".", "/", "~"))
        if not looks_like_id:
            raise FilmCrewError("no model here (expected a diffusers model folder with model_index.json)",
                                path=path)
        try:
            from huggingface_hub import snapshot_download

            path = Path(snapshot_download(model, local_files_only=True))
        except Exception:  # noqa: BLE001 - any miss in the cache means: not downloaded
            raise FilmCrewError(f"model '{model}' is neither a folder here nor in the Hugging Face cache; "
                                f"download it first (hf download {model}) or pass its folder") from None
    check_weights(path)
    return path


def check_weights(path: Path) -> dict:
    """``model_index.json`` of the folder, after checking that every model component has weights."""
    index_file = path / "model_index.json"
    if not index_file.is_file():
        raise FilmCrewError("not a diffusers model folder (no model_index.json)", path=path)
    try:
        index = json.loads(index_file.read_text())
    except json.JSONDecodeError as exc:
        raise FilmCrewError(f"not valid JSON (line {exc.lineno})", path=index_file) from None
    for component in ("transformer", "vae", "text_encoder"):
        spec = index.get(component)
        if not spec or spec[0] is None:
            continue
        folder = path / component
        weights = [p for p in folder.glob("*") if p.suffix in (".safetensors", ".bin")] if folder.is_dir() else []
        if not weights:
            raise FilmCrewError(f"weights missing: no .safetensors in {component}/", path=path)
    return index


def pick_backend(name: str, index: dict) -> type[RefineBackend]:
    """The backend called ``name``, or (``auto``) the one whose pipeline the folder names."""
    by_pipeline = {b.pipeline_class: b for b in BACKENDS.values()}
    folder_class = index.get("_class_name", "")
    if name == "auto":
        if folder_class not in by_pipeline:
            raise FilmCrewError(f"model folder holds a {folder_class or 'unnamed'} pipeline; refine "
                                f"supports {', '.join(by_pipeline)} (or name one with --backend)")
        return by_pipeline[folder_class]
    if name not in BACKENDS:
        raise FilmCrewError(f"unknown backend '{name}' (choose from {', '.join(BACKENDS)})")
    backend = BACKENDS[name]
    if folder_class and folder_class != backend.pipeline_class:
        raise FilmCrewError(f"--backend {name} needs a {backend.pipeline_class} folder; this one holds "
                            f"a {folder_class}")
    return backend


def model_settings(path: Path, backend: type[RefineBackend]) -> ModelSettings:
    """The backend's defaults, overridden by the folder's ``filmcrew_refine.json`` if any."""
    settings = backend.defaults
    file = path / SETTINGS_FILE
    if file.is_file():
        try:
            data = json.loads(file.read_text())
            settings = replace(settings, **{k: int(v) for k, v in data.items()
                                            if k in ("fps", "window", "max_sequence_length")})
        except (json.JSONDecodeError, TypeError, ValueError) as exc:
            raise FilmCrewError(f"cannot read settings: {exc}", path=file) from None
    return settings


def transformer_parameters(path: Path) -> int:
    """Parameters of the folder's transformer, counted from its safetensors headers (no loading)."""
    total = 0
    for file in sorted((path / "transformer").glob("*.safetensors")):
        with open(file, "rb") as handle:
            (length,) = struct.unpack("<Q", handle.read(8))
            header = json.loads(handle.read(length))
        for key, info in header.items():
            if key != "__metadata__":
                total += int(np.prod(info["shape"], dtype=np.int64))
    return total


def check_device(device: str) -> None:
    """Stop at once when the device cannot run: no CUDA GPU for ``cuda``."""
    if device == "cpu":
        return
    if not device.startswith("cuda"):
        raise FilmCrewError(f"--device must be cuda or cpu, not '{device}'")
    import torch

    if not torch.cuda.is_available():
        why = "this torch is built without CUDA" if torch.version.cuda is None else "no CUDA GPU is visible"
        raise FilmCrewError(f"refinement needs a CUDA GPU and {why} (torch {torch.__version__}); "
                            "--device cpu is for tiny test models only")


def check_cpu_size(path: Path, device: str) -> None:
    if device != "cpu":
        return
    count = transformer_parameters(path)
    if count > CPU_PARAMETER_LIMIT:
        raise FilmCrewError(f"--device cpu is for tiny test models; this transformer has "
                            f"{count / 1e9:.2f} B parameters (use a CUDA GPU)", path=path)


@dataclass
class LoadedModel:
    """A resolved model folder and the backend class that reads it."""

    path: Path
    backend: type[RefineBackend]
    settings: ModelSettings
    identity: dict = field(default_factory=dict)


def find_model(model: str, backend: str = "auto") -> LoadedModel:
    """Resolve ``model`` and its backend without importing torch (cheap: configs only)."""
    path = resolve_model(model)
    index = check_weights(path)
    backend_cls = pick_backend(backend, index)
    settings = model_settings(path, backend_cls)
    identity = {"model": str(path.resolve()), "index": index,
                "configs": {p.parent.name: json.loads(p.read_text())
                            for p in sorted(path.glob("*/config.json"))},
                "weights": sorted((str(p.relative_to(path)), p.stat().st_size)
                                  for p in path.glob("*/*") if p.suffix in (".safetensors", ".bin"))}
    return LoadedModel(path=path, backend=backend_cls, settings=settings, identity=identity)

