"""``filmcrew refine``: its arguments and its run (kept here so cli.py only wires it in)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .backends import BACKENDS, DTYPE_NAMES, MemoryOptions
from .prompts import NEGATIVE_PROMPT


def _size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like 832x480, not '{text}'") from None
    if width < 16 or height < 16:
        raise argparse.ArgumentTypeError("size sides must be at least 16")
    return width, height


def _shots(text: str) -> list[str]:
    shots = [s.strip() for s in text.split(",") if s.strip()]
    if not shots:
        raise argparse.ArgumentTypeError("--shots takes a comma list of shot ids, e.g. S01_002,S01_003")
    return shots


def _ray_address(text: str) -> str:
    text = text.strip()
    if not text or (text not in ("auto", "local") and ":" not in text):
        raise argparse.ArgumentTypeError(f"--ray takes auto, local, host:port or ray://host:port, not '{text}'")
    return text


def add_refine_parser(sub) -> None:
    """Add the ``refine`` subcommand to ``filmcrew``'s subparsers."""
    refine = sub.add_parser(
        "refine", help="refine every shot with a video diffusion model (GPU); writes refined/ and film.mp4",
        description="Refine each shot's passes into a finished clip with a video diffusion model, then cut "
                    "film.mp4 with the animatic's audio and subtitles. Needs a CUDA GPU (--device cpu is "
                    "for tiny test models, see scripts/make_tiny_model.py). Finished shots are kept and "
                    "skipped on a rerun.")
    refine.add_argument("out", type=Path, help="the production folder")
    refine.add_argument("--model", required=True,
                        help="a diffusers model folder (e.g. Wan2.1-VACE-1.3B-diffusers) or a Hugging Face id "
                             "already in the cache")
    refine.add_argument("--backend", default="auto", choices=["auto", *BACKENDS],
                        help="default: from the folder's model_index.json")
    refine.add_argument("--size", type=_size, default=(832, 480),
                        help="largest WxH; the shot's aspect is kept, sides snap to multiples of 16 "
                             "(default 832x480)")
    refine.add_argument("--steps", type=int, default=30, help="denoising steps (default 30)")
    refine.add_argument("--shots", type=_shots, default=None, help="only these shots, e.g. S01_002,S01_003")
    refine.add_argument("--device", default="cuda", choices=["cuda", "cpu"],
                        help="cuda (default); cpu only for tiny test models")
    refine.add_argument("--seed", type=int, default=0, help="noise seed, the same in every window (default 0)")
    refine.add_argument("--guidance", type=float, default=5.0, help="classifier-free guidance (default 5)")
    refine.add_argument("--conditioning-scale", type=float, default=1.0,
                        help="weight of the control video (default 1.0)")
    refine.add_argument("--control", default="auto",
                        help="auto (depth, pose over it where there are people) or layers bottom first: "
                             "depth, pose, edges, e.g. depth,edges")
    refine.add_argument("--style-frame", type=Path, default=None,
                        help="an image whose look the shots should take (an extra reference image)")
    refine.add_argument("--negative-prompt", default=NEGATIVE_PROMPT)
    refine.add_argument("--window", type=int, default=None,
                        help="frames per window, 4k+1 (default: the model's, 81 for Wan)")
    refine.add_argument("--overlap", type=int, default=None,
                        help="frames shared by neighbouring windows (default: a fifth of the window, 16 for 81)")
    refine.add_argument("--force", action="store_true", help="refine shots again even if unchanged")
    refine.add_argument("--ray", metavar="ADDRESS", type=_ray_address, default=None,
                        help="spread shots and windows over a Ray cluster, one GPU per task: auto (the cluster "
                             "this machine joined), local (start one here), host:port or ray://host:port. The "
                             "production and model folders must be on storage every node mounts at the same path")
    memory = refine.add_argument_group("memory and speed")
    memory.add_argument("--offload", choices=["model", "group"], default=None,
                        help="model: components on the GPU only while they run; group: stream transformer "
                             "blocks (least memory)")
    memory.add_argument("--vae-tiling", action="store_true", help="encode and decode the video in tiles")
    memory.add_argument("--dtype", choices=DTYPE_NAMES, default=None,
                        help="bf16 (default on cuda), fp16, or fp32 (default on cpu)")
    memory.add_argument("--compile", action="store_true", help="torch.compile the transformer blocks")
    memory.add_argument("--attention", default=None,
                        help="diffusers attention backend, e.g. flash, _native_cudnn, sage")


def run_refine_command(args: argparse.Namespace, bars) -> int:
    """Run ``filmcrew refine`` with parsed ``args``, reporting through ``bars``."""
    from . import refine_production
    from .run import RefineSettings

    dtype = args.dtype or ("fp32" if args.device == "cpu" else "bf16")
    settings = RefineSettings(
        out=str(args.out), model=args.model, backend=args.backend, size=args.size, steps=args.steps,
        shots=args.shots, device=args.device, seed=args.seed, guidance_scale=args.guidance,
        conditioning_scale=args.conditioning_scale, control=args.control, window=args.window,
        overlap=args.overlap, negative_prompt=args.negative_prompt,
        style_frame=str(args.style_frame) if args.style_frame else None, force=args.force, ray=args.ray,
        memory=MemoryOptions(offload=args.offload, vae_tiling=args.vae_tiling, dtype=dtype,
                             compile=args.compile, attention=args.attention))
    notes: list[str] = []
    result = refine_production(settings=settings, progress=bars, notes=notes)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print(f"done: {args.out / 'film.mp4'} ({result.figures.get('shots_refined', 0)} shot(s) refined, "
          f"{result.figures.get('shots_skipped', 0)} unchanged)")
    return 0
