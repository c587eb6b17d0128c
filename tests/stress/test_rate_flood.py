"""`python -m stress rate-flood` runs, and says limited keys outlive a flood."""

from __future__ import annotations

import json

from stress.__main__ import main


def test_a_small_rate_flood_keeps_every_limited_key(tmp_path, capsys):
    out = tmp_path / "flood.json"
    argv = "rate-flood --table-size 64 --limited 4 --floods 100,2000 --timed-hits 200"
    assert main([*argv.split(), "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert [row["held"] for row in figures["survivors"]] == [4, 4]
    assert set(figures["us_per_hit"]) == {
        "known key",
        "new key, room in its bucket",
        "new key, full bucket",
    }
    assert "2,000 keys x 1:    4 of 4 limited keys" in capsys.readouterr().out
