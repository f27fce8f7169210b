"""Serving never imports torch or transformers: they are for training and research benchmarks only."""

from __future__ import annotations

import subprocess
import sys

_PROBE = """
import sys
from fastapi.testclient import TestClient
from hotline.core.settings import Settings
from hotline.serve.app import create_app
with TestClient(create_app(Settings(home=sys.argv[1]))) as c:
    c.headers['Authorization'] = 'Bearer ' + c.app.state.keys.create('agent', name='probe')[0]
    assert c.post('/v1/assist', json={'texts': ['宽带连不上了']}).status_code == 200
    assert c.post('/v1/calls', json={'call_id': 'probe', 'region': '杭州市'}).status_code == 201
    assert c.post('/v1/calls/probe/utterances', json={'speaker': 'customer', 'text': '宽带连不上了'}).status_code == 200
print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules))
"""


def test_serving_does_not_import_torch(tiny_home):
    out = subprocess.run([sys.executable, "-c", _PROBE, str(tiny_home.home)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "[]"
