"""A tiny Segment Anything built from segment_anything's own classes, for fast real-path tests.

Same wiring as segment_anything/build_sam.py (`_build_sam`), scaled down:

- ImageEncoderViT(img_size=128, patch_size=16, embed_dim=32, depth=2, num_heads=2, mlp_ratio=2,
  out_chans=32, qkv_bias=True, use_rel_pos=True, window_size=4, global_attn_indexes=(1,),
  norm_layer=LayerNorm(eps=1e-6))
- PromptEncoder(embed_dim=32, image_embedding_size=(8, 8), input_image_size=(128, 128),
  mask_in_chans=4)
- MaskDecoder(num_multimask_outputs=3, transformer=TwoWayTransformer(depth=2, embedding_dim=32,
  mlp_dim=64, num_heads=2), transformer_dim=32, iou_head_depth=3, iou_head_hidden_dim=32)
  (transformer_dim must be a multiple of 8)
- Sam(pixel_mean/pixel_std as the real models)

~96K parameters; weights drawn with a fixed seed (the global torch RNG is left untouched), so
every build is identical. The image embedding is 1x32x8x8; a predict call takes ~10 ms.
`build_tiny_sam` has the signature of segment_anything's builders, so a test can put it in
`sam_model_registry["tiny"]` and exercise the real checkpoint-loading path.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from annotator.adapters.torch_compat import ensure_torchvision_ops

ensure_torchvision_ops()

import torch  # noqa: E402
from segment_anything.modeling import (  # noqa: E402
    ImageEncoderViT,
    MaskDecoder,
    PromptEncoder,
    Sam,
    TwoWayTransformer,
)

IMAGE_SIZE = 128
EMBED_DIM = 32


def build_tiny_sam(checkpoint: str | Path | None = None, *, seed: int = 0) -> Sam:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        sam = Sam(
            image_encoder=ImageEncoderViT(
                img_size=IMAGE_SIZE,
                patch_size=16,
                embed_dim=32,
                depth=2,
                num_heads=2,
                mlp_ratio=2,
                out_chans=EMBED_DIM,
                qkv_bias=True,
                norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
                use_rel_pos=True,
                window_size=4,
                global_attn_indexes=(1,),
            ),
            prompt_encoder=PromptEncoder(
                embed_dim=EMBED_DIM,
                image_embedding_size=(IMAGE_SIZE // 16, IMAGE_SIZE // 16),
                input_image_size=(IMAGE_SIZE, IMAGE_SIZE),
                mask_in_chans=4,
            ),
            mask_decoder=MaskDecoder(
                num_multimask_outputs=3,
                transformer=TwoWayTransformer(
                    depth=2, embedding_dim=EMBED_DIM, mlp_dim=64, num_heads=2
                ),
                transformer_dim=EMBED_DIM,
                iou_head_depth=3,
                iou_head_hidden_dim=32,
            ),
            pixel_mean=[123.675, 116.28, 103.53],
            pixel_std=[58.395, 57.12, 57.375],
        )
    sam.eval()
    if checkpoint is not None:
        with open(checkpoint, "rb") as handle:
            sam.load_state_dict(torch.load(handle))
    return sam
