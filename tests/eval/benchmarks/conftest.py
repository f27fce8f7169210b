"""A tiny stand-in for the research datasets folder (same layout and formats, made-up rows)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

_CIC = {
    "0": ("退货", ["我要退货", "这个东西怎么退", "申请退货退款", "不想要了能退吗", "退货地址在哪", "怎么办理退货"]),
    "1": ("物流查询", ["快递到哪了", "物流怎么还没更新", "什么时候发货", "包裹几天能到", "快递单号多少", "还没收到货"]),
    "2": ("发票", ["发票怎么开", "能开增值税发票吗", "电子发票在哪下载", "发票抬头写错了", "发票什么时候寄", "补开发票"]),
}


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


@pytest.fixture
def fake_datasets(tmp_path: Path) -> Path:
    """``DataCLUE_CIC/`` (3 labels: 4 train, 1 dev, 1 test sentence each), ``AFQMC/dev.txt``, ``LCQMC/test.txt``."""
    root = tmp_path / "datasets"
    cic = root / "DataCLUE_CIC"
    cic.mkdir(parents=True)
    splits: dict[str, list[dict]] = {"train.json": [], "dev.json": [], "test_public.json": []}
    for label, (des, texts) in _CIC.items():
        for i, t in enumerate(texts):
            name = "train.json" if i < 4 else "dev.json" if i == 4 else "test_public.json"
            splits[name].append({"id": len(splits[name]), "label": int(label), "sentence": t, "label_des": des})
    for name, rows in splits.items():
        _jsonl(cic / name, rows)
    _jsonl(cic / "labels.json", [{"label": int(k), "label_des": des} for k, (des, _) in _CIC.items()])
    pairs = "快递到哪了\t我的包裹在哪\t1\n发票怎么开\t怎么退货\t0\n能退吗\t可以退货吗\t1\n"
    for ds, split in (("AFQMC", "dev.txt"), ("LCQMC", "test.txt")):
        (root / ds).mkdir()
        (root / ds / split).write_text(pairs, encoding="utf-8")
    return root
