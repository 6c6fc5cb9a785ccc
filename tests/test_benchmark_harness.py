"""The benchmark scripts' bookkeeping: result cells, resuming, merging tags, the suite lists."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import recovery  # noqa: E402
import run  # noqa: E402


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


def test_old_records_read_as_paper_noise(tmp_path):
    log = tmp_path / "r.jsonl"
    log.write_text(json.dumps(_rec("gaussian-dst", 0, 0.9, False)) + "\n")
    assert recovery.load_log(log)[0]["noise"] == 0.05
    assert recovery.load_log(tmp_path / "missing.jsonl") == []


def test_combine_merges_tags_into_one_table(tmp_path, monkeypatch):
    monkeypatch.setattr(recovery, "RESULTS", tmp_path)
    for tag, seed, cos, ok in (("a", 0, 0.99, True), ("b", 1, 0.90, False)):
        (tmp_path / f"recovery-{tag}.jsonl").write_text(json.dumps(_rec("gaussian-shift", seed, cos, ok)) + "\n")
    assert recovery.main(["--combine", "a", "b", "--tag", "ab"]) == 0
    text = (tmp_path / "recovery-ab.md").read_text()
    assert "| gaussian-shift | 33 | 50000 | 0.05 | 2 | 0.945 | 1/2 |" in text
    assert "--combine a b --tag ab" in text  # the command that made it
    assert recovery.main(["--combine", "a", "nope"]) == 2  # a missing tag is an error, not a silent skip


@pytest.mark.parametrize("suite", ["quick", "full"])
def test_run_lists_every_step_without_running(suite, capsys):
    assert run.main(["--suite", suite, "--list"]) == 0
    out = capsys.readouterr().out
    steps = run.QUICK if suite == "quick" else run.FULL
    assert out.count("python benchmarks/") == len(steps)
    assert "scaling.py" in out and "baselines.py --suite fiedler" in out


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


def test_run_one_checkpoints_and_resumes_a_cell(tmp_path, monkeypatch):
    import torch

    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    threads = torch.get_num_threads()  # run_one pins one thread; later tests must keep theirs
    try:
        first = recovery.run_one("gaussian-shift", 0, 9, 2000, None, 30, checkpoint_dir=str(tmp_path))
        again = recovery.run_one("gaussian-shift", 0, 9, 2000, None, 30, checkpoint_dir=str(tmp_path))
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


def test_side_by_side_counts_each_run_once_and_marks_missing_cells(tmp_path, monkeypatch):
    import side_by_side

    monkeypatch.setattr(recovery, "RESULTS", tmp_path)
    run_a = _rec("gaussian-shift", 0, 0.99, True, noise=0.05)
    other_setting = _rec("gaussian-shift", 1, 0.10, False, n=2000, noise=0.05)
    (tmp_path / "recovery-a.jsonl").write_text(json.dumps(run_a) + "\n" + json.dumps(other_setting) + "\n")
    (tmp_path / "recovery-b.jsonl").write_text(json.dumps(run_a) + "\n")  # the same run under a second tag
    gan = dict(_rec("gaussian-shift", 0, 0.2, False, noise=0.05), method="symmetrygan")
    (tmp_path / "baselines-g.jsonl").write_text(json.dumps(gan) + "\n")
    rows = {line.split(" | ")[0].strip("| "): line for line in side_by_side.side_by_side(["a", "b", "missing"], ["g"]).splitlines()}
    assert "| 1/1 (0.99) |" in rows["gaussian-shift"]  # counted once; the n = 2000 run is another setting
    assert "0/1 (0.20) |" in rows["gaussian-shift"]
    assert rows["gaussian-dst"].count("not run") == 5
    with_pre = side_by_side.side_by_side(["b"], ["g"], unrefined_tags=["a"]).splitlines()
    assert "| symscope (default) | symscope without refine |" in with_pre[0]
    assert any(line.startswith("| gaussian-shift | 1/1 (0.99) | 1/1 (0.99) | not run") for line in with_pre)
    both = side_by_side.side_by_side(["b"], ["g"], unrefined_tags=["missing"], project_tags=["a"]).splitlines()
    assert "| symscope (default) | symscope without refine | symscope + rounding (experimental) |" in both[0]
    assert any(line.startswith("| gaussian-shift | 1/1 (0.99) | not run | 1/1 (0.99) | not run") for line in both)
    assert side_by_side.main(["--symscope-tags", "a", "--baseline-tags", "g", "--unrefined-tags",
                              "--project-tags"]) == 0
    assert "side_by_side.py --symscope-tags a" in (tmp_path / "side-by-side.md").read_text()
    assert "without refine" not in (tmp_path / "side-by-side.md").read_text()


def test_suite_table_keeps_runs_of_earlier_commands_with_the_same_tag(tmp_path, monkeypatch):
    monkeypatch.setattr(recovery, "RESULTS", tmp_path)
    log = tmp_path / "recovery-t.jsonl"
    log.write_text(json.dumps(_rec("gaussian-orthogonal", 0, 0.88, False)) + "\n"
                   + json.dumps(_rec("legendre-orthogonal", 0, 0.70, False)) + "\n")
    # every asked-for cell is already done: nothing runs, the table is rewritten from the log
    assert recovery.main(["--datasets", "legendre-orthogonal", "--seeds", "0", "--dims", "33", "--tag", "t", "--jobs", "1"]) == 0
    text = (tmp_path / "recovery-t.md").read_text()
    assert "| gaussian-orthogonal | 33 |" in text and "| legendre-orthogonal | 33 |" in text


def test_cuda_device_without_cuda_is_a_clear_error(tmp_path, monkeypatch, capsys):
    import torch

    monkeypatch.setattr(recovery, "RESULTS", tmp_path)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit) as exc:
        recovery.main(["--device", "cuda", "--datasets", "gaussian-shift", "--seeds", "0", "--tag", "x"])
    assert exc.value.code == 2
    assert "no CUDA device" in capsys.readouterr().err
    assert not (tmp_path / "recovery-x.jsonl").exists()


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


def test_baselines_keep_noise_levels_apart(tmp_path, monkeypatch):
    import torch

    import baselines

    monkeypatch.setattr(recovery, "RESULTS", tmp_path)
    threads = torch.get_num_threads()
    common = ["--methods", "fiedler-sq", "--datasets", "gaussian-permuted", "--seeds", "0", "--d", "9", "--n", "500",
              "--tag", "nz"]
    try:
        assert baselines.main([*common, "--noise", "0.5"]) == 0
        assert baselines.main(common) == 0  # paper noise: a different cell, so it runs too
        assert baselines.main(common) == 0  # and now it is skipped
    finally:
        torch.set_num_threads(threads)
    records = recovery.load_log(tmp_path / "baselines-nz.jsonl")
    assert sorted(r["noise"] for r in records) == [0.05, 0.5]
    assert "noise = 0.05" in (tmp_path / "baselines-nz.md").read_text()


def test_diagnose_rejects_zero_refine_rounds(tmp_path, capsys):
    import numpy as np

    import diagnose_sites

    np.save(tmp_path / "group_conv.npy", np.eye(9))
    with pytest.raises(SystemExit) as exc:
        diagnose_sites.main([str(tmp_path), "gaussian-shift", "--refine", "0"])
    assert exc.value.code == 2 and "--refine needs at least 1 round" in capsys.readouterr().err


def test_refine_saved_reproduces_the_engines_refinement_from_the_trained_state(tmp_path, monkeypatch):
    import numpy as np
    import torch

    import refine_saved

    monkeypatch.setattr(recovery, "RESULTS", tmp_path)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    threads = torch.get_num_threads()
    try:  # seed 0, 30 steps: a state the refinement changes (0.337 -> 0.364)
        rec = recovery.run_one("gaussian-shift", 0, 9, 2000, None, 30, checkpoint_dir=str(tmp_path / "ck"))
        assert rec["refined"]
        recovery.append_log(tmp_path / "recovery-t.jsonl", rec)
        (ckpt,) = (tmp_path / "ck").glob("*.pt")
        assert refine_saved.main([str(ckpt), "--runs", "t", "--tag", "again", "--n", "2000"]) == 0
        # the trained C exported to an .npz gives the same
        np.savez(tmp_path / "gaussian-shift-seed0.npz", C=refine_saved.learned_group_conv(ckpt, before_refine=True))
        assert refine_saved.main([str(tmp_path / "gaussian-shift-seed0.npz"), "--runs", "t", "--tag", "npz", "--n",
                                  "2000"]) == 0
        # settings that keep the trained chain, on a run recorded refined: the record is the trained lens's
        (tmp_path / "keep.json").write_text('{"refine": {"min_similarity": 1.0}}')
        assert refine_saved.main([str(ckpt), "--runs", "t", "--tag", "kept", "--n", "2000", "--config",
                                  str(tmp_path / "keep.json")]) == 0
    finally:
        torch.set_num_threads(threads)
    for tag in ("again", "npz"):
        (again,) = recovery.load_log(tmp_path / f"recovery-{tag}.jsonl")
        assert again["refined_from_saved_state"] and again["refined"]
        assert again["cosine"] == pytest.approx(rec["cosine"], abs=1e-9)  # exactly what fit() did
        assert again["cosine_before_refine"] == pytest.approx(rec["cosine_before_refine"])
    (kept,) = recovery.load_log(tmp_path / "recovery-kept.jsonl")
    assert not kept["refined"] and kept["refine_kept"] == "trained"
    assert abs(rec["cosine"] - rec["cosine_before_refine"]) > 1e-3  # the recorded run was changed by its refinement
    assert kept["cosine"] == pytest.approx(rec["cosine_before_refine"], abs=1e-6)
    with pytest.raises(SystemExit):  # a file name without dataset and seed is one clear error
        refine_saved.main([str(tmp_path / "ck"), "--runs", "t", "--tag", "x"])
    np.savez(tmp_path / "gaussian-shift-seed0.npz", C=np.full((9, 9), np.nan))
    with pytest.raises(SystemExit):  # so is a non-finite matrix
        refine_saved.main([str(tmp_path / "gaussian-shift-seed0.npz"), "--runs", "t", "--tag", "x", "--n", "2000"])
    assert not (tmp_path / "recovery-x.jsonl").exists()



def test_identifiability_flips_move_the_generator_and_gaussian_bumps_show_it():
    import identifiability

    rows = identifiability.flips("gaussian-shift", 0, [0, 3], 1, 4000, 0.05, 17)
    truth, flipped = rows
    assert truth["k"] == 0 and truth["flips"] == 0 and truth["cosine"] > 0.9999 and abs(truth["d_judge"]) < 1e-12
    assert flipped["flips"] >= 1 and flipped["cosine"] < 0.999  # the flip changes the generator...
    assert flipped["d_kurtosis"] < 0 and flipped["d_judge"] > 0  # ...and spiky bumps lose locality
    assert len(flipped["snr"]) == 3 and min(flipped["snr"]) == 1.0  # the noise floor is the smallest eigenvalue
