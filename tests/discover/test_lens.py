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

TINY = LensConfig(steps=12, staged=False, batch_size=128, log_every=3, checkpoint_every=4)  # training tests: no first stage


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
    assert torch.load(ckpt, weights_only=True)["training"]["step"] == 5
    monkeypatch.setattr(Trainer, "step", original)
    resumed = SymmetryLens(device="cpu", progress=False).fit(data.X, resume_from=ckpt)
    np.testing.assert_array_equal(resumed.generator_, fitted.generator_)
    np.testing.assert_array_equal(resumed.filter_, fitted.filter_)
    assert resumed.seed is None and resumed.seed_ == 3 and resumed.run_record_["resumed"]
    with pytest.raises(SymscopeInputError, match=r"different config \(seed: 3 vs 99: checkpoint vs now\)"):
        SymmetryLens(seed=99, device="cpu", progress=False).fit(data.X, resume_from=ckpt)


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
    assert "recovery:" in printed and "stage: kept the " in printed and "cosine before" in printed and "verdict: " in printed
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


def test_a_non_finite_loss_stops_with_a_clear_error_and_a_finite_checkpoint(tmp_path, data):
    from symscope import SymscopeTrainingError
    from symscope.callbacks import Callback

    class PoisonAtStep6(Callback):  # from step 6 the marginal estimator answers NaN (its parameters stay finite)
        def on_step_start(self, trainer, step):
            if step == 6:
                trainer.mods.marginal.log_prob = lambda y, shift=0: torch.full_like(y, float("nan"))

    ckpt = tmp_path / "c.pt"
    lens = SymmetryLens(TINY, progress=False, device="cpu")
    with pytest.raises(SymscopeTrainingError, match=r"diverged at step 6: non-finite loss term \(loss, uniformity, marginal_entropy, estimator_nll\)"):
        lens.fit(data.X, checkpoint_path=ckpt, callbacks=[PoisonAtStep6()])
    saved = torch.load(ckpt, weights_only=True)
    assert saved["training"]["step"] == 6  # the last completed step, parameters untouched by the failed one
    assert all(torch.isfinite(v).all() for v in saved["modules"].values() if v.is_floating_point())


# -- the scikit-learn estimator contract -----------------------------------------------------
def test_get_params_set_params_repr_and_clone(fitted):
    lens = SymmetryLens(TINY, seed=3, device="cpu", progress=False)
    assert lens.get_params() == dict(config=TINY, seed=3, device="cpu", progress=False, threads=1, restarts=1)
    assert repr(SymmetryLens()) == "SymmetryLens()"
    assert repr(SymmetryLens(seed=3, threads=None)) == "SymmetryLens(seed=3, threads=None)"
    assert lens.set_params(seed=4) is lens and lens.seed == 4
    with pytest.raises(SymscopeInputError, match="invalid parameter 'sed'"):
        lens.set_params(sed=1)
    sklearn_base = pytest.importorskip("sklearn.base")
    copy = sklearn_base.clone(fitted)
    assert copy.get_params() == fitted.get_params() and not hasattr(copy, "seed_")
    with pytest.raises(AttributeError):
        copy.generator_


def test_fit_takes_and_ignores_y_and_leaves_the_constructor_arguments_alone(data, fitted):
    lens = SymmetryLens(TINY, progress=False, device="cpu")
    y = np.arange(len(data.X))
    Y = lens.fit_transform(data.X, y)
    assert lens.config is TINY and lens.seed is None  # fit stores what it used in config_ / seed_
    assert lens.config_ == TINY and lens.seed_ == 0
    np.testing.assert_array_equal(Y, lens.transform(data.X))
    np.testing.assert_array_equal(SymmetryLens(TINY, progress=False, device="cpu").fit(data.X).generator_,
                                  lens.generator_)


@pytest.mark.slow
def test_the_default_one_thread_is_set_during_fit_and_restored_after(data):
    from symscope.callbacks import Callback

    seen = []

    class Threads(Callback):
        def on_step_end(self, trainer, step, terms):
            seen.append(torch.get_num_threads())

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        a = SymmetryLens(TINY, seed=3, progress=False, device="cpu").fit(data.X, callbacks=[Threads()])
        assert set(seen) == {1} and torch.get_num_threads() == 2
        b = SymmetryLens(TINY, seed=3, progress=False, device="cpu").fit(data.X)
        assert a.generator_.tobytes() == b.generator_.tobytes()  # default settings: the seed fixes the bytes
        seen.clear()
        SymmetryLens(TINY, seed=3, progress=False, device="cpu", threads=None).fit(data.X, callbacks=[Threads()])
        assert set(seen) == {2}
    finally:
        torch.set_num_threads(before)
    with pytest.raises(SymscopeInputError, match="threads must be an integer >= 1 or None"):
        SymmetryLens(TINY, threads=0).fit(data.X)


# -- checkpoints: one format, a data fingerprint, Ctrl-C at any moment -------------------------
def test_resume_refuses_other_data_with_one_line(tmp_path, data):
    ckpt = tmp_path / "c.pt"
    SymmetryLens(dataclasses.replace(TINY, steps=2), progress=False, device="cpu").fit(data.X, checkpoint_path=ckpt)
    other = make_dataset("gaussian-shift", n=600, d=7, seed=1).X  # same shape, other samples
    with pytest.raises(SymscopeInputError, match=r"was trained on other data \(shape \(600, 7\)") as exc:
        SymmetryLens(progress=False, device="cpu").fit(other, resume_from=ckpt)
    assert "\n" not in str(exc.value)
    with pytest.raises(SymscopeInputError, match="other data"):
        SymmetryLens(progress=False, device="cpu").fit(data.X[:500], resume_from=ckpt)


def test_a_checkpoint_is_a_lens_file(tmp_path, data, fitted):
    ckpt = tmp_path / "c.pt"
    lens = SymmetryLens(TINY, seed=3, progress=False, device="cpu").fit(data.X, checkpoint_path=ckpt)
    back = SymmetryLens.load(ckpt)
    np.testing.assert_array_equal(back.generator_, lens.generator_)
    assert torch.load(ckpt, weights_only=True)["format"] == "symscope-lens-1"
    fitted.save(tmp_path / "lens.pt")
    with pytest.raises(SymscopeInputError, match="is a saved lens, not a checkpoint"):
        SymmetryLens(progress=False).fit(data.X, resume_from=tmp_path / "lens.pt")


def test_ctrl_c_in_the_refinement_resumes_with_the_refinement_only(tmp_path, data, monkeypatch):
    import symscope.lens

    cfg = dataclasses.replace(TINY, steps=6)  # not a multiple of checkpoint_every = 4
    ref = SymmetryLens(cfg, seed=3, progress=False, device="cpu").fit(data.X)
    original = symscope.lens.refine_modules

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(symscope.lens, "refine_modules", interrupted)
    ckpt = tmp_path / "c.pt"
    with pytest.raises(KeyboardInterrupt):
        SymmetryLens(cfg, seed=3, progress=False, device="cpu").fit(data.X, checkpoint_path=ckpt)
    saved = torch.load(ckpt, weights_only=True)
    assert saved["training"]["step"] == 6 and not [e for e in saved["events"] if e["event"] == "refine"]
    monkeypatch.setattr(symscope.lens, "refine_modules", original)
    steps = []

    from symscope.callbacks import Callback

    class Count(Callback):
        def on_step_end(self, trainer, step, terms):
            steps.append(step)

    resumed = SymmetryLens(progress=False, device="cpu").fit(data.X, resume_from=ckpt, checkpoint_path=ckpt,
                                                           callbacks=[Count()])
    assert steps == []  # training is not redone
    assert [e["event"] for e in resumed.events_].count("refine") == 1
    np.testing.assert_array_equal(resumed.generator_, ref.generator_)
    assert [e for e in torch.load(ckpt, weights_only=True)["events"] if e["event"] == "refine"]


@pytest.mark.parametrize("damage, message", [
    (lambda c: c.pop("modules"), "the key 'modules' is missing"),
    (lambda c: c.pop("mean"), "the key 'mean' is missing"),
    (lambda c: c.update(seed="three"), "'seed' should be int, got str"),
    (lambda c: c["modules"].update({"generator.P": torch.zeros(3, 3)}), r"generator.P'\] should have shape \(21, 21\)"),
    (lambda c: c["modules"].pop("filter.psi"), "has no filter"),
    (lambda c: c["modules"].update({"extra": torch.zeros(1)}), "unexpected entries"),
    (lambda c: c.update(config={"stepz": 1}), "unknown key"),
])
def test_crafted_lens_files_and_checkpoints_are_refused_with_one_line(tmp_path, data, damage, message):
    ckpt = tmp_path / "c.pt"
    SymmetryLens(dataclasses.replace(TINY, steps=2), progress=False, device="cpu").fit(data.X, checkpoint_path=ckpt)
    obj = torch.load(ckpt, weights_only=True)
    damage(obj)
    torch.save(obj, ckpt)
    for call in (lambda: SymmetryLens.load(ckpt),
                 lambda: SymmetryLens(progress=False).fit(data.X, resume_from=ckpt)):
        with pytest.raises(SymscopeInputError, match=message) as exc:
            call()
        assert "\n" not in str(exc.value)


def test_a_damaged_training_state_is_refused_with_one_line(tmp_path, data):
    ckpt = tmp_path / "c.pt"
    SymmetryLens(dataclasses.replace(TINY, steps=2), progress=False, device="cpu").fit(data.X, checkpoint_path=ckpt)
    obj = torch.load(ckpt, weights_only=True)
    obj["training"].pop("rng")
    torch.save(obj, ckpt)
    with pytest.raises(SymscopeInputError, match="the key 'rng' is missing"):
        SymmetryLens(progress=False).fit(data.X, resume_from=ckpt)
