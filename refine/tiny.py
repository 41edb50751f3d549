"""Tiny random-weight model folders in the diffusers layout, for tests and laptops.

The architectures are the real ones (``WanVACETransformer3DModel``, ``AutoencoderKLWan``, a
UMT5 text encoder; or CogVideoX-Fun's transformer and VAE with a T5 encoder), shrunk to a few
hundred kilobytes the way diffusers' own tests shrink them, with a tokenizer built here from a
small character vocabulary. Nothing is downloaded. The output is noise-like: these folders
test the code path, not the pictures.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

from .backends import SETTINGS_FILE

VOCAB = ["<pad>", "</s>", "<unk>", "\u2581", *string.ascii_lowercase, *string.digits, *".,;:'\"!?-()"]


def tiny_tokenizer():
    """A T5 tokenizer over single characters (Unigram, SentencePiece-style word boundaries)."""
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
    )
    from transformers import T5TokenizerFast

    model = models.Unigram([(piece, 0.0 if index < 3 else -1.0) for index, piece in enumerate(VOCAB)],
                           unk_id=2, byte_fallback=False)
    tokenizer = Tokenizer(model)
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    tokenizer.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    return T5TokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>", unk_token="<unk>",
                           extra_ids=0)


def make_tiny_wan_vace(out: Path, *, fps: int = 8, window: int = 17, seed: int = 0) -> Path:
    """Write a tiny ``WanVACEPipeline`` folder to ``out``; returns ``out``."""
    import torch
    from diffusers import (
        AutoencoderKLWan,
        UniPCMultistepScheduler,
        WanVACEPipeline,
        WanVACETransformer3DModel,
    )
    from transformers import UMT5Config, UMT5EncoderModel

    torch.manual_seed(seed)
    text_encoder = UMT5EncoderModel(UMT5Config(vocab_size=len(VOCAB), d_model=32, d_kv=8, d_ff=64, num_layers=2,
                                               num_heads=4, relative_attention_num_buckets=8))
    torch.manual_seed(seed)
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True])
    torch.manual_seed(seed)
    transformer = WanVACETransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16, out_channels=16,
        text_dim=32, freq_dim=256, ffn_dim=32, num_layers=3, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", rope_max_seq_len=32, vace_layers=[0, 2], vace_in_channels=96)
    scheduler = UniPCMultistepScheduler(prediction_type="flow_prediction", use_flow_sigmas=True,
                                        num_train_timesteps=1000, flow_shift=3.0)
    pipe = WanVACEPipeline(tokenizer=tiny_tokenizer(), text_encoder=text_encoder, vae=vae,
                           transformer=transformer, scheduler=scheduler)
    return _save(pipe, out, fps=fps, window=window)


def make_tiny_cogvideox_fun(out: Path, *, fps: int = 8, window: int = 9, seed: int = 0) -> Path:
    """Write a tiny ``CogVideoXFunControlPipeline`` folder to ``out``; returns ``out``."""
    import torch
    from diffusers import (
        AutoencoderKLCogVideoX,
        CogVideoXDDIMScheduler,
        CogVideoXFunControlPipeline,
        CogVideoXTransformer3DModel,
    )
    from transformers import T5Config, T5EncoderModel

    torch.manual_seed(seed)
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=4, attention_head_dim=8, in_channels=8, out_channels=4, time_embed_dim=2,
        text_embed_dim=32, num_layers=1, sample_width=4, sample_height=2, sample_frames=9, patch_size=2,
        temporal_compression_ratio=4, max_text_seq_length=16)
    torch.manual_seed(seed)
    blocks = ("CogVideoXDownBlock3D",) * 4
    vae = AutoencoderKLCogVideoX(in_channels=3, out_channels=3, down_block_types=blocks,
                                 up_block_types=("CogVideoXUpBlock3D",) * 4, block_out_channels=(8, 8, 8, 8),
                                 latent_channels=4, layers_per_block=1, norm_num_groups=2,
                                 temporal_compression_ratio=4)
    torch.manual_seed(seed)
    text_encoder = T5EncoderModel(T5Config(vocab_size=len(VOCAB), d_model=32, d_kv=8, d_ff=64, num_layers=2,
                                           num_heads=4, relative_attention_num_buckets=8))
    pipe = CogVideoXFunControlPipeline(tokenizer=tiny_tokenizer(), text_encoder=text_encoder, vae=vae,
                                       transformer=transformer, scheduler=CogVideoXDDIMScheduler())
    return _save(pipe, out, fps=fps, window=window)


def _save(pipe, out: Path, *, fps: int, window: int) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    pipe.save_pretrained(out)
    (out / SETTINGS_FILE).write_text(json.dumps(
        {"fps": fps, "window": window, "max_sequence_length": 16,
         "note": "tiny random weights for tests: the output is noise"}, indent=2) + "\n")
    return out
