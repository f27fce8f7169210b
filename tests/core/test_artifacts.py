"""hotline.core.artifacts: self-describing folders; artefacts of the old (pre-namespace) layout are refused."""

from __future__ import annotations

import json
import pickle

import pytest

from hotline.core.artifacts import FORMAT_VERSION, read_meta, write_meta
from hotline.core.errors import ArtifactError


def test_write_then_read(tmp_path):
    meta = write_meta(tmp_path, kind="complaint_classifier", labels=["a"])
    assert meta["format_version"] == FORMAT_VERSION and meta["libraries"]["python"]
    assert read_meta(tmp_path, kind="complaint_classifier")["labels"] == ["a"]


def test_other_kind_and_missing_meta_are_refused(tmp_path):
    with pytest.raises(ArtifactError, match="no meta.json"):
        read_meta(tmp_path, kind="faq_index")
    write_meta(tmp_path, kind="complaint_classifier")
    with pytest.raises(ArtifactError, match="expected 'faq_index'"):
        read_meta(tmp_path, kind="faq_index")


def test_format_1_artefacts_are_refused_with_the_fix(tmp_path):
    write_meta(tmp_path, kind="complaint_classifier")
    meta = json.loads((tmp_path / "meta.json").read_text())
    meta["format_version"] = "1.0"  # written before modules moved under hotline.*
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="hotline build"):
        read_meta(tmp_path, kind="complaint_classifier")


class _OldModuleObject:
    pass


def test_a_pickle_naming_an_old_module_is_refused_with_the_fix(tmp_path):
    """Even with a current meta.json, a model.joblib whose classes live in the old top-level modules fails clearly."""
    from hotline.models.classifier import ComplaintClassifier

    # a pickle that names `pipeline.segment.JiebaSegmenter`, as 1.x classifiers did
    blob = pickle.dumps(_OldModuleObject()).replace(
        f"{__name__}\n_OldModuleObject".encode(), b"pipeline.segment\nJiebaSegmenter")
    if b"pipeline.segment" not in blob:  # protocol ≥ 4 stores names as separate strings
        blob = pickle.dumps(_OldModuleObject(), protocol=2).replace(
            f"{__name__}\n_OldModuleObject".encode(), b"pipeline.segment\nJiebaSegmenter")
    assert b"pipeline.segment" in blob
    (tmp_path / "model.joblib").write_bytes(blob)
    (tmp_path / "config.json").write_text(json.dumps({"builder": "complaint.tfidf_lr.v1"}))
    write_meta(tmp_path, kind="complaint_classifier", labels=[])
    with pytest.raises(ArtifactError, match="hotline build"):
        ComplaintClassifier.load(tmp_path)
