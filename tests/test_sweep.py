"""Benchmark sweeps on a local Ray: a tiny grid runs as Ray tasks into the ledger and resumes from it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import ledger  # noqa: E402
import sweep  # noqa: E402

try:
    import ray  # noqa: F401
except ImportError:
    ray = None


def _grid(tmp_path: Path) -> list[sweep.Cell]:
    cfg = tmp_path / "norefine.toml"  # a smoke fit: 3 steps, no final refinement
    cfg.write_text("steps = 3\nbatch_size = 128\n[refine]\nenabled = false\n")
    return ([sweep.Cell("fiedler", name, seed, 9, 500) for name in ("gaussian-shift", "gaussian-permuted") for seed in (0, 1)]
            + [sweep.Cell("symscope", "gaussian-shift", 0, 7, 400, config_file=str(cfg))])


@pytest.mark.slow
@pytest.mark.skipif(ray is None, reason="ray is not installed (the optional extra: pip install -e '.[sweep]')")
def test_tiny_grid_runs_as_ray_tasks_and_resumes_from_the_ledger(tmp_path, monkeypatch):
    monkeypatch.setattr(ledger, "LEDGER", tmp_path / "runs.jsonl")
    cells = _grid(tmp_path)
    first = sweep.run_cells(cells, "test", backend="ray", jobs=2)
    assert len(first) == len(cells)
    records = ledger.load()
    head = ledger.git_state()["commit"]
    assert {r["commit"] for r in records} == {head} and all(r["threads"] == 1 for r in records)
    (fit,) = [r for r in records if r["method"] == "symscope"]
    assert fit["tag"] == "norefine" and fit["config"]["steps"] == 3 and fit["d"] == 7 and fit["steps"] == 3
    assert {(r["dataset"], r["seed"]) for r in records if r["method"] == "fiedler"} == {
        (n, s) for n in ("gaussian-shift", "gaussian-permuted") for s in (0, 1)}
    import baselines

    (one,) = [r for r in records if (r["method"], r["dataset"], r["seed"]) == ("fiedler", "gaussian-permuted", 1)]
    local = baselines.run_one("fiedler", "gaussian-permuted", 1, 9, 500, sweep.GAN)
    assert one["cosine"] == local["cosine"] and one["order"] == local["order"]  # a Ray task computes what a process does
    assert sweep.run_cells(cells, "test", backend="ray", jobs=2) == []  # every cell is measured at this commit
    more = [*cells, sweep.Cell("fiedler-sq", "gaussian-shift", 0, 9, 500)]
    assert [r["method"] for r in sweep.run_cells(more, "test", backend="ray", jobs=2)] == ["fiedler-sq"]


def test_pool_backend_records_what_the_cell_computes_in_process(tmp_path, monkeypatch):
    import baselines

    monkeypatch.setattr(ledger, "LEDGER", tmp_path / "runs.jsonl")
    cells = _grid(tmp_path)[:2]
    recs = sorted(sweep.run_cells(cells, "test", backend="pool", jobs=1), key=lambda r: r["seed"])
    assert [r["seed"] for r in recs] == [0, 1] and len(ledger.load()) == 2
    for r in recs:
        local = baselines.run_one("fiedler", "gaussian-shift", r["seed"], 9, 500, sweep.GAN)
        assert r["cosine"] == local["cosine"] and r["verdict"] == local["verdict"]
    with pytest.raises(ValueError, match="unknown backend"):
        sweep.run_cells([sweep.Cell("fiedler", "gaussian-dst", 0, 9, 500)], "test", backend="dask")


def test_missing_ray_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    with pytest.raises(SystemExit, match=r"pip install -e '\.\[sweep\]'"):
        sweep.import_ray()
