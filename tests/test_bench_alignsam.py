"""benchmarks/bench_alignsam.py runs end to end (random tiny weights, one repeat, a small image, T = 2).

The implicit task only: the explicit one imports open_clip and builds its tokenizer per CLIP map (seconds on a 2-core
CPU); ``python benchmarks/bench_alignsam.py`` runs both.
"""
from __future__ import annotations

import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def test_bench_alignsam_prints_every_row(capsys, monkeypatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    sys.modules.pop("bench_alignsam", None)
    import bench_alignsam

    bench_alignsam.main(["--random-init", "--repeats", "1", "--size", "64", "--steps", "2", "--threads", "1",
                         "--tasks", "blur"])
    out = capsys.readouterr().out
    assert "(random weights)" in out and "T = 2" in out
    for row in ("per image (ms)", "sam (1 point", "AlignSAM prompting split (ms)", "training (ms)", "PPO update"):
        assert row in out, row
    rows = [line.split() for line in out.splitlines() if line.startswith("alignsam blur (implicit)")]
    assert len(rows) == 3  # per image, split, training
    per_image, split, training = rows
    assert len(per_image) == 3 + 4 and float(per_image[-1]) > 0  # encode, prompting, image, x SAM
    assert split[3:5] == ["-", "-"]  # no CLIP map on the implicit branch
    assert training[3] == "2"  # T transitions (one episode)
