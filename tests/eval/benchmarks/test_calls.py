"""The scripted calls of the load benchmark."""

from __future__ import annotations

from hotline.eval.benchmarks.calls import CALL_SCRIPTS, expected_text, script_turns


def test_scripts_are_long_enough_and_cycle():
    for script in CALL_SCRIPTS:
        assert len(script["turns"]) >= 10 and script["region"]
        assert {s for s, _ in script["turns"]} == {"a", "c"}
    turns = script_turns(CALL_SCRIPTS[0], 20)
    assert len(turns) == 20 and turns[:12] == [("customer" if s == "c" else "agent", t)
                                               for s, t in CALL_SCRIPTS[0]["turns"]]
    assert turns[12:] == turns[6:14]  # longer runs repeat the second half


def test_expected_text_is_what_the_server_stores_masked():
    assert "13812345678" not in expected_text("  我电话是13812345678 ")
    assert expected_text(" 光猫亮红灯 ") == "光猫亮红灯"
