"""A tiny, random-weight Grounding DINO built from groundingdino-py's own classes, for tests.

`make_tiny_grounding(folder)` writes what a real installation has — a groundingdino config .py,
a checkpoint `{"model": state_dict}` and a local BERT folder (config.json, weights, vocab.txt,
tokenizer files) — so GroundingDinoGrounder loads it through its real loading path. Sizes follow
docs/ml-stack-notes: Swin embed_dim 16, depths [1,1,1,1], heads [1,1,2,2]; one encoder and one
decoder layer; 20 queries; hidden_dim 256 (hard-coded in the text position embedding). ~3M
parameters; `predict` on 512x768 takes ~0.7 s on a 2-core CPU.

groundingdino's swin builder only knows the stock sizes, so the config names
`modelname = "groundingdino_tiny_test"`, a build function registered here in groundingdino's
model registry: the stock builder with the Swin sizes taken from the config.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from annotator.pipeline.config import GroundingConfig

TINY_MODEL_NAME = "groundingdino_tiny_test"
NUM_QUERIES = 20
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "?"]
DEFAULT_WORDS = ["person", "dog", "snow", "-", "covered", "plain", "sky", "sea", "tree", "car"]

CONFIG_TEMPLATE = """\
batch_size = 1
modelname = "{modelname}"
backbone = "swin_T_224_1k"
swin_embed_dim = 16
swin_depths = [1, 1, 1, 1]
swin_num_heads = [1, 1, 2, 2]
position_embedding = "sine"
pe_temperatureH = 20
pe_temperatureW = 20
return_interm_indices = [1, 2, 3]
backbone_freeze_keywords = None
enc_layers = 1
dec_layers = 1
pre_norm = False
dim_feedforward = 256
hidden_dim = 256
dropout = 0.0
nheads = 8
num_queries = {num_queries}
query_dim = 4
num_patterns = 0
num_feature_levels = 4
enc_n_points = 4
dec_n_points = 4
two_stage_type = "standard"
two_stage_bbox_embed_share = False
two_stage_class_embed_share = False
transformer_activation = "relu"
dec_pred_bbox_embed_share = True
dn_box_noise_scale = 1.0
dn_label_noise_ratio = 0.5
dn_label_coef = 1.0
dn_bbox_coef = 1.0
embed_init_tgt = True
dn_labelbook_size = 2000
max_text_len = 256
text_encoder_type = "{text_encoder}"
use_text_enhancer = True
use_fusion_layer = True
use_checkpoint = False
use_transformer_ckpt = False
use_text_cross_attention = True
text_dropout = 0.0
fusion_dropout = 0.0
fusion_droppath = 0.1
sub_sentence_present = True
"""

_build_lock = threading.Lock()


def _ensure_stack() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # fail fast rather than retry a hub for a minute
    from annotator.adapters.torch_compat import ensure_torchvision_ops

    ensure_torchvision_ops()


def _build_tiny_groundingdino(args: Any) -> Any:
    """The stock build_groundingdino, with the Swin sizes read from the config."""
    import groundingdino.models.GroundingDINO.backbone.backbone as backbone_module
    from groundingdino.models.GroundingDINO.groundingdino import build_groundingdino

    stock = backbone_module.build_swin_transformer
    sizes = {
        "embed_dim": args.swin_embed_dim,
        "depths": list(args.swin_depths),
        "num_heads": list(args.swin_num_heads),
    }

    def tiny_swin(modelname: str, pretrain_img_size: int, **kw: Any) -> Any:
        return stock(modelname, pretrain_img_size, **kw, **sizes)  # kw override the stock sizes

    with _build_lock:
        backbone_module.build_swin_transformer = tiny_swin
        try:
            return build_groundingdino(args)
        finally:
            backbone_module.build_swin_transformer = stock


def register_tiny_builder() -> None:
    _ensure_stack()
    from groundingdino.models.registry import MODULE_BUILD_FUNCS

    MODULE_BUILD_FUNCS.register(_build_tiny_groundingdino, module_name=TINY_MODEL_NAME, force=True)


def make_tiny_bert(folder: Path, *, words: list[str]) -> Path:
    """A 1-layer BERT (hidden 32) whose vocabulary is the special tokens plus `words`."""
    _ensure_stack()
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    vocab = list(dict.fromkeys([*SPECIAL_TOKENS, *(w.lower() for w in words)]))
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    config = BertConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=256,
    )
    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    BertTokenizer(vocab_file=str(folder / "vocab.txt"), do_lower_case=True).save_pretrained(folder)
    return folder


def make_tiny_grounding(
    folder: Path,
    *,
    seed: int = 0,
    words: list[str] | None = None,
    box_threshold: float = 0.35,
    text_threshold: float = 0.25,
) -> GroundingConfig:
    """Write config, checkpoint and BERT folder under `folder`; return the GroundingConfig."""
    register_tiny_builder()
    import torch
    from groundingdino.models import build_model
    from groundingdino.util.slconfig import SLConfig

    bert = make_tiny_bert(folder / "tiny-bert", words=words or DEFAULT_WORDS)
    config_path = folder / "GroundingDINO_tiny.py"
    config_path.write_text(
        CONFIG_TEMPLATE.format(
            modelname=TINY_MODEL_NAME, num_queries=NUM_QUERIES, text_encoder=bert.as_posix()
        ),
        encoding="utf-8",
    )
    torch.manual_seed(seed)
    model = build_model(SLConfig.fromfile(str(config_path)))
    checkpoint = folder / "groundingdino_tiny.pth"
    torch.save({"model": model.state_dict()}, checkpoint)
    return GroundingConfig(
        config_path=config_path,
        checkpoint=checkpoint,
        text_encoder=bert,
        box_threshold=box_threshold,
        text_threshold=text_threshold,
        device="cpu",
    )
