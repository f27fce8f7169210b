"""The widget reads the one definition of the live-call result: every field it reads exists in that model.

widget.js names the objects it renders consistently (``state`` is a CallState, ``cat`` a CallCategory, …).
Each ``name.field`` it reads must be a field of the model(s) that name stands for, as the JSON schema of
:mod:`hotline.core.results` (which ``/openapi.json`` serves) defines them. Renaming a field in the model
without the widget, or the widget reading a field the API does not send, fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

from hotline.core import results

WIDGET_JS = Path(results.__file__).resolve().parents[2] / "serve" / "static" / "widget.js"

# widget.js variable → the result model(s) it holds (a short name is reused for two shapes in places)
READS = {
    "state": ["CallState"],
    "cat": ["CallCategory"],
    "ticket": ["TicketDraft"],
    "esc": ["Escalation"],
    "r": ["EscalationReason"],
    "n": ["Notice"],
    "i": ["Incident"],
    "t": ["Turn", "Category"],  # transcript turns; top categories
    "f": ["FaqHit", "TicketFieldState"],  # FAQ cards; ticket fields
}
# JS members that are not data fields
_JS = {"length", "map", "forEach", "filter", "join", "slice", "indexOf", "push", "has", "get", "add", "delete",
       "toFixed", "dataset", "children", "querySelector", "textContent", "hidden", "title", "className", "style",
       "classList", "checked", "value", "disabled", "append", "remove", "addEventListener", "setAttribute"}


def _fields(model: str) -> set[str]:
    return set(getattr(results, model).model_fields)


def _reads() -> dict[str, set[str]]:
    js = WIDGET_JS.read_text(encoding="utf-8")
    out: dict[str, set[str]] = {}
    for var, prop in re.findall(r"(?<![\w.$])([a-z]+)\.([a-z_][a-z_0-9]*)\b", js):
        if var in READS and prop not in _JS:
            out.setdefault(var, set()).add(prop)
    return out


def test_every_field_the_widget_reads_is_in_the_result_models():
    reads = _reads()
    assert set(reads) >= {"state", "cat", "ticket", "esc", "n", "i", "f", "t"}, reads  # the scan found the renderers
    for var, props in reads.items():
        known = set().union(*(_fields(m) for m in READS[var]))
        assert props <= known, f"widget.js reads {sorted(props - known)} of {var} ({READS[var]}), which have {sorted(known)}"


def test_the_api_schema_serves_those_models():
    from hotline.core.settings import Settings
    from hotline.serve.app import create_app

    schema = create_app(Settings(home="/nonexistent")).openapi()["components"]["schemas"]
    for models in READS.values():
        for m in models:
            assert m in schema, f"{m} is not in /openapi.json"
            assert set(schema[m]["properties"]) == _fields(m)
