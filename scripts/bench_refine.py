"""Benchmark one refine window of Wan 2.1 VACE 1.3B at its real size, with random weights.

    python scripts/bench_refine.py [--steps 30] [--frames 81] [--size 832x480] \
        [--modes eager,compile,group] [--attention NAME] [--json OUT.json]

Builds the published Wan2.1-VACE-1.3B architecture (transformer config below, the Wan 2.1 VAE
at diffusers' defaults) with random weights, so nothing is downloaded, and times one window the
way `filmcrew refine` runs it: control video, one reference image, classifier-free guidance.
The UMT5 text encoder is left out (it runs once per shot, not per step): random prompt
embeddings of its shape stand in. For each mode it prints seconds per output frame, the
denoising loop's seconds per step, peak GPU memory, and the achieved fraction of the GPU's
dense bf16 peak from the transformer's FLOPs per step (counted with torch's FlopCounterMode on
one forward, times two for guidance).

Modes: ``eager`` (bf16, everything on the GPU), ``compile`` (the transformer's repeated blocks
through torch.compile, timed after a warm-up run that compiles), ``group`` (group offload:
blocks streamed from CPU memory on a CUDA stream); ``MODE@BACKEND`` runs a mode with a diffusers
attention backend, e.g. ``compile@_native_cudnn`` (cuDNN's fused attention). ``--tiny`` runs the same code on
a tiny configuration on the CPU to check the script without a GPU.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time

# Wan-AI/Wan2.1-VACE-1.3B-diffusers, transformer/config.json.
WAN_VACE_1_3B = {
    "added_kv_proj_dim": None, "attention_head_dim": 128, "cross_attn_norm": True, "eps": 1e-06,
    "ffn_dim": 8960, "freq_dim": 256, "image_dim": None, "in_channels": 16, "num_attention_heads": 12,
    "num_layers": 30, "out_channels": 16, "patch_size": [1, 2, 2], "pos_embed_seq_len": None,
    "qk_norm": "rms_norm_across_heads", "rope_max_seq_len": 1024, "text_dim": 4096,
    "vace_in_channels": 96, "vace_layers": [0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28],
}
TEXT_TOKENS = 512  # UMT5 sequence length the pipeline pads prompts to
TINY = {
    "attention_head_dim": 12, "cross_attn_norm": True, "ffn_dim": 32, "freq_dim": 256, "in_channels": 16,
    "num_attention_heads": 2, "num_layers": 3, "out_channels": 16, "patch_size": [1, 2, 2],
    "qk_norm": "rms_norm_across_heads", "rope_max_seq_len": 32, "text_dim": 32, "vace_in_channels": 96,
    "vace_layers": [0, 2],
}
TINY_VAE = {"base_dim": 3, "z_dim": 16, "dim_mult": [1, 1, 1, 1], "num_res_blocks": 1,
            "temperal_downsample": [False, True, True]}
BF16_PEAK_TFLOPS = {  # dense, no sparsity
    "H100 80GB HBM3": 989.4, "H100 SXM": 989.4, "H100 NVL": 835.0, "H100 PCIe": 756.0, "H200": 989.4,
    "GH200": 989.4, "A100": 312.0, "L40S": 362.1, "L4": 121.0,
}


def peak_tflops(name: str, override: float | None) -> float | None:
    if override:
        return override
    for key, value in BF16_PEAK_TFLOPS.items():
        if key in name:
            return value
    return None


def build_pipeline(*, tiny: bool, device: str, dtype):
    import torch
    from diffusers import (
        AutoencoderKLWan,
        UniPCMultistepScheduler,
        WanVACEPipeline,
        WanVACETransformer3DModel,
    )

    torch.manual_seed(0)
    with torch.device(device):
        transformer = WanVACETransformer3DModel(**(TINY if tiny else WAN_VACE_1_3B)).to(dtype).eval()
        vae = AutoencoderKLWan(**(TINY_VAE if tiny else {})).eval()
    # As from_pretrained(torch_dtype=bf16) does: norms, rope and time embedding stay in float32.
    keep = transformer._keep_in_fp32_modules or []
    for name, tensor in [*transformer.named_parameters(), *transformer.named_buffers()]:
        if any(part in name.split(".") for part in keep):
            tensor.data = tensor.data.float()
    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True,
                                        num_train_timesteps=1000, flow_shift=3.0)
    pipe = WanVACEPipeline(tokenizer=None, text_encoder=None, vae=vae, transformer=transformer,
                           scheduler=scheduler)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def inputs(*, frames: int, width: int, height: int, text_dim: int, device: str, dtype):
    import numpy as np
    import torch
    from PIL import Image

    rng = np.random.default_rng(0)
    # A depth-like control: a smooth gradient that moves, plus a reference on white.
    ys, xs = np.mgrid[0:height, 0:width]
    video = [Image.fromarray(np.repeat(((xs + 4 * t + ys // 2) % 256).astype(np.uint8)[:, :, None], 3, axis=2))
             for t in range(frames)]
    reference = Image.fromarray(rng.integers(0, 255, (height, width // 2, 3), dtype=np.uint8))
    generator = torch.Generator("cpu").manual_seed(0)
    embeds = torch.randn(1, TEXT_TOKENS, text_dim, generator=generator).to(device, dtype)
    negative = torch.randn(1, TEXT_TOKENS, text_dim, generator=generator).to(device, dtype)
    return video, reference, embeds, negative


def count_flops(pipe, *, frames: int, width: int, height: int, refs: int, device: str, dtype) -> int:
    """FLOPs of one transformer forward at the window's latent shape (FlopCounterMode)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    config = pipe.transformer.config
    latent_frames = (frames - 1) // 4 + 1 + refs
    shape = (1, config.in_channels, latent_frames, height // 8, width // 8)
    hidden = torch.randn(shape, device=device, dtype=dtype)
    control = torch.randn((1, config.vace_in_channels, *shape[2:]), device=device, dtype=dtype)
    text = torch.randn(1, TEXT_TOKENS, config.text_dim, device=device, dtype=dtype)
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        pipe.transformer(hidden_states=hidden, timestep=torch.tensor([500], device=device), encoder_hidden_states=text,
                         control_hidden_states=control,
                         control_hidden_states_scale=torch.ones(len(config.vace_layers), device=device, dtype=dtype),
                         return_dict=False)
    return int(counter.get_total_flops())


def analytic_flops(*, frames: int, width: int, height: int, refs: int, tiny: bool) -> float:
    """Matmul FLOPs of one forward from the config (cross-check of the counter)."""
    c = TINY if tiny else WAN_VACE_1_3B
    d = c["num_attention_heads"] * c["attention_head_dim"]
    tokens = ((frames - 1) // 4 + 1 + refs) * (height // 16) * (width // 16)
    per_block = (2 * tokens * 4 * d * d            # self-attention q, k, v, out
                 + 2 * 2 * tokens * tokens * d     # scores and values
                 + 2 * tokens * 2 * d * d          # cross-attention q, out
                 + 2 * TEXT_TOKENS * 2 * d * d     # cross-attention k, v (text)
                 + 2 * 2 * tokens * TEXT_TOKENS * d
                 + 2 * tokens * 2 * d * c["ffn_dim"])
    vace_extra = 2 * tokens * d * d * (len(c["vace_layers"]) + 1)  # after_proj per block, before_proj once
    return per_block * (c["num_layers"] + len(c["vace_layers"])) + vace_extra


def run_mode(spec: str, args, device: str) -> dict:
    import numpy as np
    import torch

    mode, _, attention = spec.partition("@")
    attention = attention or args.attention

    dtype = torch.float32 if args.tiny else torch.bfloat16
    width, height = args.size
    pipe = build_pipeline(tiny=args.tiny, device="cpu" if mode == "group" else device, dtype=dtype)
    if attention:
        pipe.transformer.set_attention_backend(attention)
    if mode not in ("eager", "compile", "group"):
        raise ValueError(f"unknown mode '{mode}' (eager, compile, group; add @ATTENTION for a backend)")
    if mode == "group":
        pipe.enable_group_offload(onload_device=torch.device(device), offload_device=torch.device("cpu"),
                                  offload_type="block_level", num_blocks_per_group=1, use_stream=True)
    text_dim = pipe.transformer.config.text_dim
    video, reference, embeds, negative = inputs(frames=args.frames, width=width, height=height,
                                                text_dim=text_dim, device=device, dtype=dtype)
    step_times: list[float] = []

    def on_step(_pipe, index, _t, _kw):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        step_times.append(time.perf_counter())
        return {}

    def window(steps: int):
        step_times.clear()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        out = pipe(video=video, reference_images=[reference], prompt_embeds=embeds, negative_prompt_embeds=negative,
                   height=height, width=width, num_frames=args.frames, num_inference_steps=steps,
                   guidance_scale=5.0, generator=torch.Generator("cpu").manual_seed(0), output_type="np",
                   callback_on_step_end=on_step)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        return time.perf_counter() - start, out.frames[0]

    result: dict = {"mode": mode, "size": f"{width}x{height}", "frames": args.frames, "steps": args.steps,
                    "attention": attention or "native (torch SDPA)"}
    if mode == "compile":
        pipe.transformer.compile_repeated_blocks(fullgraph=True)
    warm_seconds, _ = window(args.warmup_steps)  # compiles for "compile"; cuDNN and allocator warm-up for all
    result["warmup_seconds"] = round(warm_seconds, 2)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    seconds, frames = window(args.steps)
    denoise = step_times[-1] - step_times[0]
    per_step = denoise / max(1, len(step_times) - 1)
    result.update({"seconds": round(seconds, 2), "seconds_per_frame": round(seconds / args.frames, 4),
                   "seconds_per_step": round(per_step, 4),
                   "outside_denoise_seconds": round(seconds - per_step * args.steps, 2),
                   "output_shape": list(frames.shape), "output_finite": bool(np.isfinite(frames).all())})
    if device.startswith("cuda"):
        result["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup-steps", type=int, default=2)
    parser.add_argument("--frames", type=int, default=81)
    parser.add_argument("--size", default="832x480")
    parser.add_argument("--modes", default="eager,compile,group")
    parser.add_argument("--attention", default=None, help="diffusers attention backend (default: torch SDPA)")
    parser.add_argument("--peak-tflops", type=float, default=None, help="dense bf16 peak of the GPU")
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--tiny", action="store_true", help="tiny config on the CPU: checks the script only")
    args = parser.parse_args(argv)
    args.size = tuple(int(v) for v in args.size.lower().split("x"))
    import torch

    if args.tiny:
        device = "cpu"
    elif not torch.cuda.is_available():
        print("bench_refine: no CUDA GPU; run it on one (or --tiny to check the script on the CPU)", file=sys.stderr)
        return 2
    else:
        device = "cuda"
    name = torch.cuda.get_device_name(0) if device == "cuda" else "cpu"
    width, height = args.size
    dtype = torch.float32 if args.tiny else torch.bfloat16
    probe = build_pipeline(tiny=args.tiny, device=device, dtype=dtype)
    params = sum(p.numel() for p in probe.transformer.parameters())
    flops = count_flops(probe, frames=args.frames, width=width, height=height, refs=1, device=device, dtype=dtype)
    del probe
    per_step = 2 * flops  # guidance: a conditional and an unconditional forward per step
    peak = peak_tflops(name, args.peak_tflops)
    report = {"device": name, "torch": torch.__version__, "transformer_parameters": params,
              "latent_tokens": ((args.frames - 1) // 4 + 2) * (height // 16) * (width // 16),
              "flops_per_forward": flops,
              "flops_per_forward_analytic": analytic_flops(frames=args.frames, width=width, height=height, refs=1,
                                                           tiny=args.tiny),
              "flops_per_step": per_step, "bf16_peak_tflops": peak, "runs": []}
    print(f"{name}: transformer {params / 1e9:.3f} B parameters; {per_step / 1e12:.1f} TFLOP per step "
          f"(2 forwards, {report['latent_tokens']} tokens; analytic {2 * report['flops_per_forward_analytic'] / 1e12:.1f})",
          flush=True)
    for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
        try:
            result = run_mode(mode, args, device)
        except Exception as exc:  # noqa: BLE001 - report it and go on to the next mode
            result = {"mode": mode, "error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
        gc.collect()  # the mode's pipeline is gone: give its memory back before the next one
        if device == "cuda":
            torch.cuda.empty_cache()
        if "seconds_per_step" in result:
            achieved = per_step / result["seconds_per_step"]
            result["achieved_tflops"] = round(achieved / 1e12, 1)
            if peak:
                result["fraction_of_bf16_peak"] = round(achieved / (peak * 1e12), 3)
        report["runs"].append(result)
        print(json.dumps(result), flush=True)
        if args.json:
            with open(args.json, "w") as handle:
                json.dump(report, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
