"""Published figures the public benchmarks are reported beside (×100, as the papers give them).

Sources: DataCLUE (arXiv:2111.08647, test_public) for CIC; C-MTEB (FlagEmbedding ``C_MTEB/README.md``,
arXiv:2309.07597) for AFQMC dev and LCQMC test. See each dataset folder's README.md.
"""

from __future__ import annotations

__all__ = ["CIC_PUBLISHED", "STS_PUBLISHED"]

CIC_PUBLISHED: list[tuple[str, float | None, float | None]] = [
    # (system, accuracy, macro-F1), ×100 on test_public
    ("RoBERTa-3L (rbt3) fine-tuned on noisy train/dev (DataCLUE baseline)", None, 72.78),
    ("  + data augmentation", None, 74.62),
    ("  + noisy-label deletion", None, 73.32),
    ("  + label-definition augmentation (best single strategy)", None, 78.22),
    ("  multi-strategy (best combined)", None, 78.49),
    ("Human (reported as accuracy)", 87.40, None),
    ("TF-IDF char 1–3-gram + LR floor (measured for this repo, train.json only; not published)", 79.75, 70.81),
]
# Spearman×100: AFQMC dev, LCQMC test
STS_PUBLISHED: dict[str, list[tuple[str, float]]] = {
    "AFQMC": [("bge-large-zh", 44.57), ("bge-base-zh", 42.53), ("m3e-large", 36.53), ("m3e-base", 35.87),
              ("bge-small-zh", 33.93), ("text2vec-base-chinese", 26.06), ("OpenAI ada-002", 23.88)],
    "LCQMC": [("bge-large-zh", 75.45), ("bge-base-zh", 74.98), ("m3e-base", 74.88), ("m3e-large", 74.20),
              ("bge-small-zh", 72.61), ("text2vec-base-chinese", 70.16), ("OpenAI ada-002", 68.41)],
}
