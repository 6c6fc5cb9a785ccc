"""The benchmark scripts' bookkeeping: result cells, the ledger, resuming, the suite lists."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import ledger  # noqa: E402
import recovery  # noqa: E402
import run  # noqa: E402


@pytest.fixture
def tmp_ledger(tmp_path, monkeypatch):
    """A scratch ledger: every script of this test writes there, not into benchmarks/results/."""
    path = tmp_path / "runs.jsonl"
    monkeypatch.setattr(ledger, "LEDGER", path)
    return path


def _ledger_rec(dataset: str, seed: int, cosine: float, commit: str, method: str = "symscope", tag: str = "default",
                **extra) -> dict:
    result = dict(wall_seconds=1.0, cosine=cosine, verdict="minimal" if cosine >= 0.98 else "not recovered",
                  minimal=cosine >= 0.98, **extra)
    mach = dict(commit=commit, dirty=False, diff_hash=None, date="2026-12-01 00:00 UTC")
    return ledger.record(method, tag, dataset, seed, 33, 50_000, 0.05, dict(steps=10), result, command="test",
                         mach=mach)


def _rec(dataset: str, seed: int, cosine: float, minimal: bool, n: int = 50_000, **extra) -> dict:
    return dict(dataset=dataset, seed=seed, d=33, n=n, steps=10, wall_seconds=12.0, seconds_per_step=1.2,
                cosine=cosine, minimal=minimal, verdict="minimal" if minimal else "not recovered", **extra)


def test_table_keeps_noise_and_sample_count_apart():
    rows = [_rec("gaussian-shift", 0, 0.99, True, noise=0.05), _rec("gaussian-shift", 1, 0.5, False, noise=0.25),
            _rec("gaussian-shift", 2, 0.97, False, n=2000, noise=0.05)]
    lines = recovery.table(rows, recovery.CELL).splitlines()[2:]
    assert len(lines) == 3  # three cells, not one
    assert any("| 50000 | 0.05 | 1 | 0.990 | 1/1 |" in line for line in lines)
    assert any("| 50000 | 0.25 | 1 | 0.500 | 0/1 |" in line for line in lines)


def test_table_shows_the_cells_before_the_refinement_when_recorded():
    rows = [_rec("gaussian-shift", 0, 0.99, True, noise=0.05, cosine_before_refine=0.92),
            _rec("gaussian-shift", 1, 0.985, True, noise=0.05, cosine_before_refine=0.981),
            _rec("gaussian-dst", 0, 0.9, False, noise=0.05)]
    header, _, *lines = recovery.table(rows, recovery.CELL).splitlines()
    assert header.endswith("before refine: median, minimal |")
    assert any(line.startswith("| gaussian-shift") and line.endswith("| 0.951, 1/2 |") for line in lines)
    assert any(line.startswith("| gaussian-dst") and line.endswith("| – |") for line in lines)
    assert "before refine" not in recovery.table(rows[2:], recovery.CELL)


def test_diagnose_reads_runs_and_orients_true_sites(tmp_path):
    import numpy as np

    import diagnose_sites

    C = np.eye(5)[::-1] * 2.0
    np.save(tmp_path / "group_conv.npy", C)
    np.savez(tmp_path / "c.npz", C=C)
    assert np.array_equal(diagnose_sites.learned_group_conv(tmp_path), C)
    assert np.array_equal(diagnose_sites.learned_group_conv(tmp_path / "c.npz"), C)
    learned = -np.eye(5)[::-1]  # reversed chain, flipped sign
    sites = diagnose_sites.true_sites(np.eye(5), learned)
    assert np.allclose(sites, learned)  # same direction and one global sign as the learned chain


def _trained(folder) -> str:
    """A config file whose fit trains (no first stage): these tests need a trained state."""
    path = folder / "trained.toml"
    path.write_text("staged = false\n")
    return str(path)


def test_run_one_checkpoints_and_resumes_a_cell(tmp_path, monkeypatch):
    import torch

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    threads = torch.get_num_threads()  # run_one pins one thread; later tests must keep theirs
    try:
        first = recovery.run_one("gaussian-shift", 0, 9, 2000, _trained(tmp_path), 30, checkpoint_dir=str(tmp_path))
        again = recovery.run_one("gaussian-shift", 0, 9, 2000, _trained(tmp_path), 30, checkpoint_dir=str(tmp_path))
    finally:
        torch.set_num_threads(threads)
    (ckpt,) = tmp_path.glob("*.pt")
    assert ckpt.name == "gaussian-shift-d9-n2000-noise0.05-seed0-steps30.pt"
    saved = torch.load(ckpt, weights_only=True)
    history, (refined,) = saved["history"], [e for e in saved["events"] if e["event"] == "refine"]
    assert "cosine" in history[-1]  # the truth is monitored while training ...
    assert history[-1]["cosine"] == pytest.approx(first["cosine_before_refine"])  # ... up to the last step
    assert refined["cosine"] == pytest.approx(first["cosine"])  # the refine event records the final cosine
    assert not first["resumed"] and again["resumed"]
    assert again["cosine"] == pytest.approx(first["cosine"])  # a finished cell resumes to the same result


def test_cuda_device_without_cuda_is_a_clear_error(tmp_ledger, monkeypatch, capsys):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit) as exc:
        recovery.main(["--device", "cuda", "--datasets", "gaussian-shift", "--seeds", "0"])
    assert exc.value.code == 2
    assert "no CUDA device" in capsys.readouterr().err
    assert not tmp_ledger.exists()


def test_site_anatomy_locates_a_mixed_pair_of_sites():
    import numpy as np

    import diagnose_sites

    d = 6
    X = np.random.default_rng(0).standard_normal((4000, d))
    exact = diagnose_sites.site_anatomy(np.eye(d), np.eye(d), X)
    assert np.allclose(exact["position"], np.arange(d)) and np.allclose(exact["spread"], 0.0)
    assert np.allclose(exact["max_overlap"], 1.0)
    learned = np.eye(d)
    c = np.sqrt(0.5)
    learned[2:4, 2:4] = [[c, c], [-c, c]]  # sites 2 and 3 mixed half and half
    a = diagnose_sites.site_anatomy(learned, np.eye(d), X)
    assert np.allclose(a["position"][2:4], 2.5) and np.allclose(a["spread"][2:4], 0.5)
    assert np.allclose(a["max_overlap"][2:4], c) and np.allclose(np.delete(a["max_overlap"], [2, 3]), 1.0)
    assert a["toeplitz_residual"].shape == (d,)


def test_toeplitz_from_spectrum_fits_a_known_spectrum():
    import numpy as np
    from scipy.linalg import toeplitz

    import second_order_ceiling

    c_true = 0.8 ** np.arange(8)
    lam = np.linalg.eigvalsh(toeplitz(c_true))[::-1]
    c, residual = second_order_ceiling.toeplitz_from_spectrum(lam, c_true + 0.05 * np.cos(np.arange(8)))
    assert residual < 1e-10
    assert np.allclose(np.linalg.eigvalsh(toeplitz(c))[::-1], lam, atol=1e-5)


def test_diagnose_reads_the_group_convolution_from_a_checkpoint(tmp_path):
    import numpy as np

    import diagnose_sites
    from symscope import LensConfig, SymmetryLens, make_dataset

    ds = make_dataset("gaussian-shift", n=600, d=7, seed=0)
    ckpt = tmp_path / "run.pt"
    lens = SymmetryLens(LensConfig(steps=4, batch_size=128, checkpoint_every=2), seed=3, device="cpu", progress=False)
    lens.fit(ds.X, checkpoint_path=ckpt)
    assert np.allclose(diagnose_sites.learned_group_conv(ckpt), lens.group_conv_, atol=1e-5)
    from symscope import RefineConfig

    unrefined = SymmetryLens(LensConfig(steps=4, batch_size=128, refine=RefineConfig(enabled=False)), seed=3,
                             device="cpu", progress=False).fit(ds.X, checkpoint_path=tmp_path / "plain.pt")
    # the checkpoint keeps the trained state: the same as a run without the refinement
    assert np.allclose(diagnose_sites.learned_group_conv(ckpt, before_refine=True), unrefined.group_conv_, atol=1e-6)
    with pytest.raises(ValueError, match="no state before the final refinement"):
        diagnose_sites.learned_group_conv(tmp_path / "plain.pt", before_refine=True)
    (tmp_path / "bad.pt").write_text("not a checkpoint")
    with pytest.raises(SystemExit):
        diagnose_sites.main([str(tmp_path / "bad.pt"), "gaussian-shift"])


def test_diagnose_rejects_zero_refine_rounds(tmp_path, capsys):
    import numpy as np

    import diagnose_sites

    np.save(tmp_path / "group_conv.npy", np.eye(9))
    with pytest.raises(SystemExit) as exc:
        diagnose_sites.main([str(tmp_path), "gaussian-shift", "--refine", "0"])
    assert exc.value.code == 2 and "--refine needs at least 1 round" in capsys.readouterr().err


def test_identifiability_flips_move_the_generator_and_gaussian_bumps_show_it():
    import identifiability

    rows = identifiability.flips("gaussian-shift", 0, [0, 3], 1, 4000, 0.05, 17)
    truth, flipped = rows
    assert truth["k"] == 0 and truth["flips"] == 0 and truth["cosine"] > 0.9999 and abs(truth["d_judge"]) < 1e-12
    assert flipped["flips"] >= 1 and flipped["cosine"] < 0.999  # the flip changes the generator...
    assert flipped["d_kurtosis"] < 0 and flipped["d_judge"] > 0  # ...and spiky bumps lose locality
    assert flipped["d_entropy"] > 0 and truth["halves"]["entropy"] >= 0  # the sites get less sparse
    assert len(flipped["snr"]) == 3 and min(flipped["snr"]) == 1.0  # the noise floor is the smallest eigenvalue


def _two_commits() -> tuple[str, str]:
    commits = ledger._git("rev-list", "--max-count=2", "HEAD").split()
    if len(commits) < 2:
        pytest.skip("a shallow clone with one commit: no history to order records by")
    return commits[1], commits[0]  # older, newer


def test_latest_takes_the_newest_commit_per_cell_and_commit_selects_one(tmp_ledger):
    old, new = _two_commits()
    for rec in (_ledger_rec("gaussian-shift", 0, 0.99, new), _ledger_rec("gaussian-shift", 0, 0.50, old),
                _ledger_rec("gaussian-shift", 1, 0.70, old), _ledger_rec("gaussian-shift", 0, 0.10, old, tag="project")):
        ledger.append(rec)
    rows = ledger.load()
    (shift0,) = [r for r in ledger.latest(rows, tag="default") if r["seed"] == 0]
    assert shift0["cosine"] == 0.99  # newer commit wins although appended first
    assert len(ledger.latest(rows, tag="default")) == 2 and len(ledger.latest(rows)) == 3  # project is its own cell
    assert sorted(r["cosine"] for r in ledger.latest(rows, commit=old[:7], tag="default")) == [0.5, 0.7]
    with pytest.raises(ledger.MissingSource, match="no record for the gan column"):
        ledger.require(rows, "the gan column", method="symmetrygan")
    with pytest.raises(ledger.MissingSource, match="no ledger"):
        ledger.load(tmp_ledger.parent / "absent.jsonl")


def test_record_names_the_checkout_commit_and_the_full_config():
    rec = ledger.record("fiedler", "default", "gaussian-shift", 0, 9, 500, 0.05, dict(power=1.0),
                        dict(wall_seconds=0.1, cosine=1.0), command="python x")
    assert rec["commit"] == ledger._git("rev-parse", "HEAD").strip() and rec["commit_source"] == "rev-parse"
    assert isinstance(rec["dirty"], bool) and rec["config"] == dict(power=1.0)
    assert rec["config_hash"] == ledger.config_hash({"power": 1.0}) != ledger.config_hash({"power": 2.0})
    assert rec["machine"]["cpus"] and "commit" not in rec["machine"]
    with pytest.raises(ValueError, match="wall_seconds"):
        ledger.record("fiedler", "default", "gaussian-shift", 0, 9, 500, 0.05, {}, dict(cosine=1.0), command="x")


def test_git_state_ignores_the_ledger_but_not_other_changes(tmp_path):
    import subprocess

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "benchmarks" / "results" / "runs.jsonl").write_text("")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "one")
    clean = ledger.git_state(tmp_path)
    assert not clean["dirty"] and clean["diff_hash"] is None and len(clean["commit"]) == 40
    (tmp_path / "benchmarks" / "results" / "runs.jsonl").write_text("{}\n")  # appending records keeps it clean
    assert not ledger.git_state(tmp_path)["dirty"]
    (tmp_path / "a.py").write_text("x = 2\n")
    dirty = ledger.git_state(tmp_path)
    assert dirty["dirty"] and dirty["commit"] == clean["commit"] and dirty["diff_hash"]
    with pytest.raises(ledger.MissingSource, match="not a git checkout"):
        ledger.git_state(tmp_path / "benchmarks" / "nowhere")


def test_side_by_side_marks_missing_cells_and_refuses_a_missing_column(tmp_ledger):
    import side_by_side

    old, new = _two_commits()
    recs = [_ledger_rec("gaussian-shift", 0, 0.99, new, cosine_before_refine=0.95),
            _ledger_rec("gaussian-shift", 0, 0.999, new, tag="project")]
    recs += [_ledger_rec("gaussian-shift", 0, c, new, method=m) for m, c in
             (("spectral", 0.97), ("fiedler", 1.0), ("fiedler-sq", 1.0), ("symmetrygan", 0.2))]
    for rec in recs:
        ledger.append(rec)
    rows = {line.split(" | ")[0].strip("| "): line for line in side_by_side.side_by_side(ledger.load()).splitlines()}
    assert rows["gaussian-shift"] == ("| gaussian-shift | 1/1 (0.99) | 0/1 (0.95) | 1/1 (1.00) | 0/1 (0.97) | 1/1 (1.00) "
                                      "| 1/1 (1.00) | 0/1 (0.20) |")
    assert rows["gaussian-dst"].count("not run") == len(side_by_side.COLUMNS)
    assert side_by_side.main([]) == 0
    assert side_by_side.main(["--commit", old]) == 2  # nothing at the older commit: an error, not empty columns


def test_baselines_resume_from_the_ledger_and_keep_noise_levels_apart(tmp_ledger, capsys):
    common = ["--methods", "fiedler-sq", "--datasets", "gaussian-permuted", "--seeds", "0", "--d", "9", "--n", "500",
              "--backend", "pool", "--jobs", "1"]
    import baselines

    assert baselines.main([*common, "--noise", "0.5"]) == 0
    assert baselines.main(common) == 0  # paper noise: a different cell, so it runs too
    assert baselines.main(common) == 0  # and now it is skipped
    out = capsys.readouterr().out
    assert out.count("1 cells to run") == 2 and "0 cells to run" in out
    records = ledger.load()
    assert sorted(r["noise"] for r in records) == [0.05, 0.5]
    assert {r["commit"] for r in records} == {ledger.git_state()["commit"]}
    assert all(r["config"] == {"method": "fiedler-sq", "power": 2.0} and r["tag"] == "default" for r in records)


@pytest.mark.parametrize("suite", ["quick", "full"])
def test_run_lists_the_grid_without_running(suite, capsys, tmp_ledger):
    assert run.main(["--suite", suite, "--list"]) == 0
    out = capsys.readouterr().out
    cells = run.quick_cells() if suite == "quick" else run.full_cells()
    assert f"grid: {len(cells)} cells" in out and "scaling.py" in out and "report.py" in out
    assert len({c.key() for c in cells}) == len(cells)  # every cell once
    assert not tmp_ledger.exists()


def test_refine_saved_reproduces_the_engines_refinement_from_the_trained_state(tmp_path, tmp_ledger, monkeypatch):
    import numpy as np
    import torch

    import refine_saved

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    threads = torch.get_num_threads()
    try:  # seed 0, 30 steps: a state the refinement changes (0.337 -> 0.364)
        res = recovery.run_one("gaussian-shift", 0, 9, 2000, _trained(tmp_path), 30, checkpoint_dir=str(tmp_path / "ck"))
        assert res["refined"]
        cell = {k: res.pop(k) for k in ("dataset", "seed", "d", "n", "noise")}
        ledger.append(ledger.record("symscope", "t", cell["dataset"], cell["seed"], cell["d"], cell["n"], cell["noise"],
                                    {"steps": 30}, res, command="test"))
        (ckpt,) = (tmp_path / "ck").glob("*.pt")
        assert refine_saved.main([str(ckpt), "--runs", "t", "--n", "2000"]) == 0
        assert refine_saved.main([str(ckpt), "--runs", "t", "--n", "2000"]) == 0  # done at this commit: skipped
        # the trained C exported to an .npz gives the same
        np.savez(tmp_path / "gaussian-shift-seed0.npz", C=refine_saved.learned_group_conv(ckpt, before_refine=True))
        assert refine_saved.main([str(tmp_path / "gaussian-shift-seed0.npz"), "--runs", "t", "--n", "2000"]) == 0
        # settings that keep the trained chain, on a run recorded refined: the record is the trained lens's
        (tmp_path / "keep.json").write_text('{"refine": {"min_similarity": 1.0}}')
        assert refine_saved.main([str(ckpt), "--runs", "t", "--n", "2000", "--config", str(tmp_path / "keep.json")]) == 0
    finally:
        torch.set_num_threads(threads)
    records = ledger.load()
    again = [r for r in records if r["tag"] == "default"]
    assert sorted(r["refine_source"] for r in again) == sorted([ckpt.name, "gaussian-shift-seed0.npz"])
    for r in again:
        assert r["refined_from_saved_state"] and r["refined"] and r["method"] == "symscope"
        assert r["cosine"] == pytest.approx(res["cosine"], abs=1e-9)  # exactly what fit() did
        assert r["cosine_before_refine"] == pytest.approx(res["cosine_before_refine"])
        assert r["trained_commit"] == records[0]["commit"]
    (kept,) = [r for r in records if r["tag"] == "keep"]
    assert not kept["refined"] and kept["refine_kept"] == "trained"
    assert kept["config"]["refine"]["min_similarity"] == 1.0
    assert abs(res["cosine"] - res["cosine_before_refine"]) > 1e-3  # the recorded run was changed by its refinement
    assert kept["cosine"] == pytest.approx(res["cosine_before_refine"], abs=1e-6)
    with pytest.raises(SystemExit):  # a file name without dataset and seed is one clear error
        refine_saved.main([str(tmp_path / "ck"), "--runs", "t"])
    np.savez(tmp_path / "gaussian-shift-seed0.npz", C=np.full((9, 9), np.nan))
    n = len(ledger.load())
    with pytest.raises(SystemExit):  # so is a non-finite matrix
        refine_saved.main([str(tmp_path / "gaussian-shift-seed0.npz"), "--runs", "t", "--n", "2000", "--config",
                           str(tmp_path / "keep.json")])
    assert len(ledger.load()) == n


def test_every_ledger_record_has_a_commit_and_the_docs_match_the_ledger():
    import report

    records = ledger.load()
    assert records and all(len(r["commit"]) == 40 and r["config_hash"] and "config" in r for r in records)
    assert not [p.name for p in ledger.RESULTS.iterdir() if p.name not in ("runs.jsonl", "scaling.png")]
    doc, headline = report.build(records)
    assert not [line for line in doc.splitlines() if line.startswith("#") and "version" in line.lower()]
    assert len(headline.splitlines()) <= 15 + 2  # the table and its source line, between the markers
    assert report.main(["--check"]) == 0, "docs/benchmarks.md or the README headline is stale: python benchmarks/report.py"


def test_candidates_prints_every_judged_candidate_with_its_cosine_and_the_truth(capsys):
    import candidates

    assert candidates.main(["gaussian-permuted", "--d", "9", "--n", "3000", "--set", "bandpass=False",
                            "polish_iters=5", "converge_iters=0"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("gaussian-permuted seed 0 d 9: kept ") and "seconds: trained" in lines[1]
    rows = {line.split()[0]: line.split()[1:] for line in lines[3:]}
    assert "trained" in rows and "spectral" in rows and "bandpass" not in rows and rows["truth"][0] == "1.0000"
    assert all(-1.0 <= float(v[0]) <= 1.0 for v in rows.values())
    assert all(len(v) == 4 for v in rows.values())  # cosine, judge, entropy, structure


@pytest.mark.parametrize("args, message", [(["no-such-dataset"], "dataset"), (["gaussian-shift", "--set", "polish=maybe"], "--set"),
                                           (["gaussian-shift", "--set", "no_field=1"], "--set")])
def test_candidates_refuses_bad_arguments_in_one_line(args, message, capsys):
    import candidates

    with pytest.raises(SystemExit) as exit_:
        candidates.main(args)
    assert exit_.value.code == 2 and message in capsys.readouterr().err
