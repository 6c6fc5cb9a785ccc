"""SymmetryLens API: sklearn contract, reproducibility, save/load, interrupt and resume, bad input."""

import dataclasses
import json
import signal

import numpy as np
import pytest
import torch

from symscope import LensConfig, SymmetryLens, SymscopeInputError, make_dataset
from symscope.cli import main
from symscope.training import Trainer

TINY = LensConfig(steps=12, batch_size=128, log_every=3, checkpoint_every=4)


@pytest.fixture(scope="module")
def data():
    return make_dataset("gaussian-shift", n=600, d=7, seed=0)


@pytest.fixture(scope="module")
def fitted(data):
    return SymmetryLens(TINY, seed=3, device="cpu", progress=False).fit(data.X)


def test_fit_sets_learned_attributes(fitted):
    assert fitted.generator_.shape == (7, 7) and fitted.group_conv_.shape == (7, 7)
    assert fitted.filter_.shape == (7,) and abs(np.linalg.norm(fitted.filter_) - 1) < 1e-6
    assert fitted.n_features_in_ == 7
    assert fitted.history_[-1]["step"] == 12
    assert {"seed", "torch", "device", "train_seconds", "steps"} <= set(fitted.run_record_)


def test_transform_is_the_group_convolution_of_standardised_data(fitted, data):
    y = fitted.transform(data.X[:5])
    expected = ((data.X[:5] - fitted.mean_) / fitted.scale_) @ fitted.group_conv_.T
    np.testing.assert_allclose(y, expected)


def test_same_seed_same_result_different_seed_differs(data, fitted):
    again = SymmetryLens(TINY, seed=3, device="cpu", progress=False).fit(data.X)
    np.testing.assert_array_equal(again.generator_, fitted.generator_)
    other = SymmetryLens(TINY, seed=4, device="cpu", progress=False).fit(data.X)
    assert not np.array_equal(other.generator_, fitted.generator_)


def test_save_load_round_trip(tmp_path, fitted, data):
    fitted.save(tmp_path / "lens.pt")
    back = SymmetryLens.load(tmp_path / "lens.pt")
    np.testing.assert_array_equal(back.generator_, fitted.generator_)
    np.testing.assert_array_equal(back.transform(data.X[:4]), fitted.transform(data.X[:4]))
    assert back.config == fitted.config and back.history_ == fitted.history_


def test_load_refuses_foreign_files(tmp_path):
    bad = tmp_path / "x.pt"
    torch.save({"weights": torch.zeros(2)}, bad)
    with pytest.raises(SymscopeInputError, match="not a symscope"):
        SymmetryLens.load(bad)
    with pytest.raises(SymscopeInputError, match="not found"):
        SymmetryLens.load(tmp_path / "missing.pt")


def test_interrupt_then_resume_equals_uninterrupted_run(tmp_path, data, fitted, monkeypatch):
    original = Trainer.step

    def interrupting_step(self, X):
        out = original(self, X)
        if self.state.step == 5:
            signal.raise_signal(signal.SIGINT)  # a Ctrl-C in the middle of training
        return out

    monkeypatch.setattr(Trainer, "step", interrupting_step)
    ckpt = tmp_path / "checkpoint.pt"
    with pytest.raises(KeyboardInterrupt):
        SymmetryLens(TINY, seed=3, device="cpu", progress=False).fit(data.X, checkpoint_path=ckpt)
    assert torch.load(ckpt, weights_only=True)["step"] == 5
    monkeypatch.setattr(Trainer, "step", original)
    resumed = SymmetryLens(seed=99, device="cpu", progress=False).fit(data.X, resume_from=ckpt)
    np.testing.assert_array_equal(resumed.generator_, fitted.generator_)
    np.testing.assert_array_equal(resumed.filter_, fitted.filter_)
    assert resumed.seed == 3 and resumed.run_record_["resumed"]


def test_resume_with_a_different_config_is_refused(tmp_path, data):
    ckpt = tmp_path / "c.pt"
    SymmetryLens(dataclasses.replace(TINY, steps=2), progress=False, device="cpu").fit(data.X, checkpoint_path=ckpt)
    with pytest.raises(SymscopeInputError, match=r"different config \(steps: 2 vs \d+: checkpoint vs now\)"):
        SymmetryLens(TINY, progress=False, device="cpu").fit(data.X, resume_from=ckpt)


@pytest.mark.parametrize(
    "X, message",
    [
        (np.zeros(10), "2-D"),
        (np.full((300, 5), np.nan), "NaN"),
        (np.random.default_rng(0).standard_normal((20, 7)), "too few samples"),
        (np.ones((300, 5)), "constant"),
        (np.array([["a"] * 5] * 300), "dtype"),
    ],
)
def test_fit_rejects_bad_input_with_a_clear_message(X, message):
    with pytest.raises(SymscopeInputError, match=message):
        SymmetryLens(TINY, progress=False).fit(X)


def test_transform_checks_fitted_and_width(fitted):
    with pytest.raises(SymscopeInputError, match="not fitted"):
        SymmetryLens().transform(np.zeros((2, 7)))
    with pytest.raises(SymscopeInputError, match="features"):
        fitted.transform(np.ones((3, 6)))
    assert fitted.transform(np.ones((1, 7))).shape == (1, 7)  # applying a lens to one (constant) sample is fine


def test_config_round_trip_and_unknown_keys(tmp_path):
    cfg = LensConfig(steps=7)
    assert LensConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    with pytest.raises(SymscopeInputError, match="unknown key"):
        LensConfig.from_dict({"stepz": 3})
    with pytest.raises(SymscopeInputError, match="steps must be > 0"):
        LensConfig(steps=0)
    f = tmp_path / "c.toml"
    f.write_text("steps = 9\n[weights]\nalignment = 0.5\n")
    assert LensConfig.from_file(f).weights.alignment == 0.5


def test_cli_discover_writes_a_run_folder_and_transform_applies_it(tmp_path, capsys):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"batch_size": 128, "log_every": 2}))
    out = tmp_path / "run"
    assert main(["discover", "builtin:gaussian-permuted", "--dim", "7", "--n", "400", "--steps", "4",
                 "--config", str(cfg), "--out", str(out), "--quiet"]) == 0
    for name in ["generator.npy", "filter.npy", "group_conv.npy", "config.json", "history.csv", "run.json",
                 "metrics.json", "generator.png", "group_conv.png", "filter.png", "losses.png", "lens.pt"]:
        assert (out / name).is_file(), name
    printed = capsys.readouterr().out
    assert "recovery:" in printed and "final refinement: " in printed and "cosine before" in printed
    assert json.loads((out / "config.json").read_text())["steps"] == 4
    np.save(tmp_path / "x.npy", np.random.default_rng(0).standard_normal((10, 7)))
    assert main(["transform", str(out), str(tmp_path / "x.npy"), "--out", str(tmp_path / "y.npy")]) == 0
    assert np.load(tmp_path / "y.npy").shape == (10, 7)
    # a second discover into the same folder needs --resume
    assert main(["discover", "builtin:gaussian-permuted", "--out", str(out)]) == 2
    assert "--resume" in capsys.readouterr().err


def test_cli_discover_bad_input_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.npy"
    np.save(bad, np.full((500, 5), np.inf))
    assert main(["discover", str(bad), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("symscope: error:") and "inf" in err and err.count("\n") == 1
    assert main(["discover", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "r")]) == 2
    assert main(["discover", "builtin:nope", "--out", str(tmp_path / "r")]) == 2
    assert "unknown dataset" in capsys.readouterr().err


def test_a_non_finite_loss_stops_with_a_clear_error_and_a_finite_checkpoint(tmp_path, data, monkeypatch):
    from symscope import SymscopeTrainingError
    from symscope import training

    original = training.objectives

    def poisoned(mods, y, slot, t, cfg):
        terms = original(mods, y, slot, t, cfg)
        if training.Trainer.current_step == 6:
            terms["joint_entropy"] = terms["joint_entropy"] * float("nan")
        return terms

    original_step = training.Trainer.step

    def step(self, X):
        training.Trainer.current_step = self.state.step
        return original_step(self, X)

    monkeypatch.setattr(training.Trainer, "current_step", -1, raising=False)  # removed again after the test
    monkeypatch.setattr(training, "objectives", poisoned)
    monkeypatch.setattr(training.Trainer, "step", step)
    ckpt = tmp_path / "c.pt"
    with pytest.raises(SymscopeTrainingError, match=r"diverged at step 6: non-finite loss term \(joint_entropy\)"):
        SymmetryLens(TINY, progress=False, device="cpu").fit(data.X, checkpoint_path=ckpt)
    saved = torch.load(ckpt, weights_only=True)
    assert saved["step"] == 6  # the last completed step, parameters untouched by the failed one
    assert all(torch.isfinite(v).all() for v in saved["modules"].values() if v.is_floating_point())
