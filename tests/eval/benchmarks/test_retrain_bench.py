"""hotline.eval.benchmarks.retrain: the data its two retrain runs are given (the runs themselves are timed by hand)."""

from __future__ import annotations

import re
from collections import Counter

from hotline.core.taxonomy import default_taxonomy
from hotline.eval.benchmarks.retrain import MISLABELLED, correct_call_records, mislabelled_records


def test_correct_records_are_masked_customer_sides_of_labelled_calls():
    recs = correct_call_records(5001, 1)
    tax = default_taxonomy()
    assert len(recs) == len({r["label"] for r in recs}) == 42 and all(r["label"] in tax for r in recs)
    assert all(r["text"] and len(r["text"]) <= 2000 for r in recs)
    assert not any(re.search(r"1[3-9]\d{9}", r["text"]) for r in recs)  # phone numbers masked
    assert any("****" in r["text"] for r in recs)  # callers do give them
    assert recs == correct_call_records(5001, 1)  # deterministic


def test_mislabelled_records_rotate_the_labels_of_three_codes():
    recs = mislabelled_records(6001, 5)
    assert Counter(r["label"] for r in recs) == {c: 5 for c in MISLABELLED}
    # each text is of the previous code in the rotation: the generator's own label was replaced
    from hotline.training.generate import CorpusGenerator

    gen = CorpusGenerator(seed=6001, per_code=5)
    gen.warm_up()
    truth = {r["text"]: r["label"] for r in gen.run(codes=list(MISLABELLED))["records"]}
    assert all(truth[r["text"]] != r["label"] for r in recs)
