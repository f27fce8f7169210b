"""The retrain gate on the live build, end to end: ``python -m hotline.eval.benchmarks.retrain --home H``.

Writes two kinds of new data and runs ``hotline retrain`` on each against the build live in ``H`` (the
default build, normally), timing each run:

1. **correct**: a few hundred ended-call texts (the customer turns of whole calls from
   :class:`~hotline.training.dialogues.DialogueGenerator`, joined as an ended call's record is: the shape
   ``hotline feedback export`` gives agents' corrections of calls), correctly labelled, with held-out calls of
   the same kind (another seed) as a ``--gate`` set. Expected: promoted, held-out accuracy not lower.
2. **mislabelled**: thousands of generated utterances of three codes, each labelled as the next
   (``--mislabelled-codes``). Expected: refused by the gate; the live build stays.

Each run is one :class:`~hotline.training.retrain.RetrainJob` (what ``hotline retrain`` runs); the last stdout
line is JSON with both runs' results and wall times.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

from hotline.core.jsonl import write_jsonl
from hotline.core.mask import masked_text
from hotline.core.settings import Settings

__all__ = ["correct_call_records", "mislabelled_records", "run"]

logger = logging.getLogger(__name__)

MISLABELLED = ("broadband.cannot_connect", "data.slow", "billing.unexpected_charge")


def correct_call_records(seed: int, per_code: int) -> list[dict[str, Any]]:
    """Whole generated calls as ``{"text", "label"}``: the customer turns joined, masked (labelled calls only)."""
    from hotline.training.dialogues import DialogueGenerator

    gen = DialogueGenerator(seed=seed, per_code=per_code, offtopic_calls=0)
    out = []
    for call in gen.run()["calls"]:
        text = masked_text("，".join(t["text"] for t in call["turns"] if t["speaker"] == "customer"))[:2000]
        if call["label"] and text:
            out.append({"text": text, "label": call["label"]})
    return out


def mislabelled_records(seed: int, per_code: int, codes: tuple[str, ...] = MISLABELLED) -> list[dict[str, Any]]:
    """Generated utterances of ``codes``, each labelled as the next code in the list (the last as the first)."""
    from hotline.training.generate import CorpusGenerator

    wrong = {c: codes[(i + 1) % len(codes)] for i, c in enumerate(codes)}
    gen = CorpusGenerator(seed=seed, per_code=per_code)
    gen.warm_up()
    return [{"text": r["text"], "label": wrong[r["label"]]} for r in gen.run(codes=list(codes))["records"]]


def _cpu_s() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run(settings: Settings, work: Path, *, new_per_code: int = 8, heldout_per_code: int = 4,
        mislabelled_per_code: int = 1000, retrieval: bool = True) -> dict[str, Any]:
    from hotline.training.retrain import RetrainJob

    work.mkdir(parents=True, exist_ok=True)
    new, held, bad = work / "new_calls.jsonl", work / "heldout_calls.jsonl", work / "mislabelled.jsonl"
    write_jsonl(correct_call_records(5001, new_per_code), new)
    write_jsonl(correct_call_records(5002, heldout_per_code), held)
    write_jsonl(mislabelled_records(6001, mislabelled_per_code), bad)
    result: dict[str, Any] = {}
    for name, kw in (("correct", {"data": [new], "gate": [held]}), ("mislabelled", {"data": [bad]})):
        t0, c0 = time.perf_counter(), _cpu_s()
        out = RetrainJob(settings, retrieval=retrieval, actor="bench retrain", **kw).run()
        out["wall_s"] = round(time.perf_counter() - t0, 1)
        out["cpu_s"] = round(_cpu_s() - c0, 1)  # all threads of this process: what the job cost, load aside
        logger.info("%s: promoted %s in %.0f s: %s", name, out["promoted"], out["wall_s"], out["reason"])
        result[name] = out
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m hotline.eval.benchmarks.retrain", description=__doc__.split("\n")[0])
    p.add_argument("--home", required=True, help="a HOTLINE_HOME with a live build (not your production one)")
    p.add_argument("--work", help="where the data files go (default <home>/retrain_bench)")
    p.add_argument("--new-per-code", type=int, default=8)
    p.add_argument("--heldout-per-code", type=int, default=4)
    p.add_argument("--mislabelled-per-code", type=int, default=1000)
    p.add_argument("--no-retrieval", action="store_true")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("jieba", "faiss", "httpx", "bm25s"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    settings = Settings(home=Path(args.home))
    work = Path(args.work) if args.work else settings.home / "retrain_bench"
    result = run(settings, work, new_per_code=args.new_per_code, heldout_per_code=args.heldout_per_code,
                 mislabelled_per_code=args.mislabelled_per_code, retrieval=not args.no_retrieval)
    sys.stdout.write(json.dumps(result, ensure_ascii=False, default=str) + "\n")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
