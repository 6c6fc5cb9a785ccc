"""The symscope command line: subcommands, JSON output, one-line errors with exit status 2."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import symscope
from symscope import DATASETS
from symscope.cli import main


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "demo.npz"
    assert main(["make-data", "gaussian-permuted", "--n", "50", "--dim", "9", "--seed", "1", "--out", str(out)]) == 0
    return out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"symscope {symscope.__version__}"


def test_datasets_lists_one_line_each(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["datasets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in lines] == list(DATASETS)
    assert all("signals" in ln for ln in lines)


def test_make_data_writes_x_and_the_true_generator(demo: Path) -> None:
    with np.load(demo) as z:
        assert z["X"].dtype == np.float32 and z["X"].shape == (50, 9)
        assert z["generator"].dtype == np.float64
        ds = symscope.make_dataset("gaussian-permuted", n=50, d=9, seed=1)
        np.testing.assert_array_equal(z["generator"], ds.generator)
        np.testing.assert_array_equal(z["X"], ds.X.astype(np.float32))


def test_evaluate_table_and_json(demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["evaluate", str(demo), "--truth", str(demo)]) == 0
    out = capsys.readouterr().out
    assert "verdict" in out and "minimal" in out and "1.0000" in out
    with np.load(demo) as z:
        g = z["generator"]
    np.save(tmp_path / "inverse.npy", g.T)
    assert main(["evaluate", str(tmp_path / "inverse.npy"), "--truth", str(demo), "--json"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["cosine"] == pytest.approx(1.0) and rep["inverse_matched"] is True and rep["minimal"] is True
    assert {"rmse", "interior_cosine", "power2_cosine", "identity_cosine", "verdict"} <= set(rep)
    run = tmp_path / "run"
    run.mkdir()
    np.save(run / "generator.npy", g @ g)
    np.save(tmp_path / "truth.npy", g)
    assert main(["evaluate", str(run), "--truth", str(tmp_path / "truth.npy"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] == "power 2"


@pytest.mark.parametrize(
    "argv, match",
    [
        (["evaluate", "{tmp}/missing.npy", "--truth", "{demo}"], "no such file: .*missing.npy"),
        (["evaluate", "{tmp}/eye4.npy", "--truth", "{demo}"], r"GENERATOR .*eye4.npy is 4x4 but TRUTH .* is 9x9"),
        (["evaluate", "{demo}", "--truth", "{tmp}"], "has no generator.npy"),
        (["make-data", "nope", "--out", "{tmp}/x.npz"], "unknown dataset 'nope'"),
        (["make-data", "gaussian-shift", "--dim", "3", "--out", "{tmp}/x.npz"], "d must be an integer >= 5"),
        (["make-data", "gaussian-shift", "--out", "{tmp}/x.csv"], "--out must end in .npz"),
    ],
)
def test_errors_are_one_line_with_status_2(
    argv: list[str], match: str, demo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    np.save(tmp_path / "eye4.npy", np.eye(4))
    argv = [a.format(tmp=tmp_path, demo=demo) for a in argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("symscope: error: ")
    assert re.search(match, err)


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert main(["evaluate", "g.npy"]) == 2  # --truth missing
    assert "Traceback" not in capsys.readouterr().err


def test_python_dash_m_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(Path(symscope.__file__).parents[1]), OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-m", "symscope", "evaluate", str(tmp_path / "none.npy"), "--truth", str(tmp_path / "t.npy")],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.splitlines() == [f"symscope: error: no such file: {tmp_path / 'none.npy'}"]


# -- every bad input: one line, exit status 2, no traceback; the table in docs/errors.md ----------
from bad_inputs import CASES, DOC, TINY_CONFIG, make_run, render, run_case  # noqa: E402


@pytest.fixture(scope="module")
def bad_results(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[int, str, str]]:
    """(status, stdout, stderr) of every case in ``bad_inputs.CASES``, each in its own folder."""
    root = tmp_path_factory.mktemp("bad")
    run = make_run(root / "_run")
    results = []
    for i, case in enumerate(CASES):
        (root / f"case{i}").mkdir()
        results.append(run_case(case, root / f"case{i}", run))
    return results


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c.what for c in CASES])
def test_bad_input_gets_one_clear_line(index: int, bad_results: list[tuple[int, str, str]]) -> None:
    case = CASES[index]
    status, _, err = bad_results[index]
    assert status == 2, err
    assert err.count("\n") == 1 and err.startswith("symscope: error: "), err
    assert re.search(case.match, err), err
    assert "Traceback" not in err
    assert not re.search(r"weights_only|allow_pickle|pickle\.load", err)  # never advise unsafe loading


def test_the_table_of_bad_inputs_is_current(bad_results: list[tuple[int, str, str]]) -> None:
    expected = render([(case, err.strip()) for case, (_, _, err) in zip(CASES, bad_results)])
    assert DOC.read_text() == expected, "docs/errors.md is stale: run `python tests/bad_inputs.py --write`"


# -- resume: the printed command continues the run; flags are checked against the checkpoint ----------
def _interrupt_at(monkeypatch: pytest.MonkeyPatch, step: int) -> None:
    import signal

    from symscope.training import Trainer

    original = Trainer.step

    def interrupting(self, X):  # noqa: ANN001, ANN202 - the patched method
        out = original(self, X)
        if self.state.step == step:
            signal.raise_signal(signal.SIGINT)
        return out

    monkeypatch.setattr(Trainer, "step", interrupting)


def test_continue_with_repeats_the_builtin_data_flags_and_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import shlex

    cfg = tmp_path / "tiny.json"
    cfg.write_text(TINY_CONFIG)
    common = ["builtin:gaussian-shift", "--n", "320", "--dim", "7", "--data-seed", "3", "--steps", "6",
              "--config", str(cfg), "--quiet"]
    assert main(["discover", *common, "--out", str(tmp_path / "whole")]) == 0
    _interrupt_at(monkeypatch, 3)
    assert main(["discover", *common, "--out", str(tmp_path / "cut")]) == 130
    err = capsys.readouterr().err
    assert "Continue with: " in err
    command = shlex.split(err.split("Continue with: ", 1)[1])
    assert command[:2] == ["symscope", "discover"]
    for flag in ("--n 320", "--dim 7", "--data-seed 3", "--resume", "--quiet"):
        assert flag in " ".join(command), flag
    monkeypatch.undo()
    assert main(command[1:]) == 0  # the command exactly as printed
    np.testing.assert_array_equal(np.load(tmp_path / "cut" / "generator.npy"),
                                  np.load(tmp_path / "whole" / "generator.npy"))
    # the checkpoint's own seed and steps may be repeated; --config is passed on and checked by the lens
    assert main(["discover", *common, "--seed", "0", "--out", str(tmp_path / "cut"), "--resume"]) == 0
    assert json.loads((tmp_path / "cut" / "run.json").read_text())["resumed"] is True


# -- transform writes exactly the file named ------------------------------------------------------
def test_transform_writes_exactly_the_named_file(tmp_path: Path) -> None:
    run = make_run(tmp_path)
    x = np.random.default_rng(1).standard_normal((6, 7))
    np.save(tmp_path / "x.npy", x)
    assert main(["transform", str(run), str(tmp_path / "x.npy"), "--out", str(tmp_path / "y.npy")]) == 0
    assert main(["transform", str(run), str(tmp_path / "x.npy"), "--out", str(tmp_path / "sub" / "Y.CSV")]) == 0
    y = np.load(tmp_path / "y.npy")
    np.testing.assert_allclose(np.loadtxt(tmp_path / "sub" / "Y.CSV", delimiter=","), y, rtol=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.lower().startswith("y")) == ["y.npy"]
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["Y.CSV"]
    assert main(["transform", str(run), str(tmp_path / "x.npy"), "--out", str(tmp_path / "z.txt")]) == 2
    assert not list(tmp_path.glob("z.txt*"))


# -- a failed fit says so, in the summary and in run.json ---------------------------------------------
def test_an_identity_collapse_is_reported_without_a_truth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "tiny.json"
    cfg.write_text(TINY_CONFIG)
    ds = symscope.make_dataset("gaussian-shift", n=300, d=9, seed=0)
    np.save(tmp_path / "x.npy", ds.X)
    assert main(["discover", str(tmp_path / "x.npy"), "--steps", "1", "--config", str(cfg), "--quiet",
                 "--out", str(tmp_path / "run")]) == 0
    captured = capsys.readouterr()
    assert "health: identity collapse: FAILED FIT: the generator is close to the identity" in captured.out
    assert "symscope: warning: this fit failed (identity collapse)" in captured.err
    health = json.loads((tmp_path / "run" / "run.json").read_text())["health"]
    assert health["failed"] is True and health["verdict"] == "identity collapse" and health["identity_cosine"] > 0.9


def test_no_result_is_written_from_non_finite_values() -> None:
    from types import SimpleNamespace

    from symscope.cli import _check_result

    good = dict(generator_=np.eye(3), filter_=np.ones(3), group_conv_=np.eye(3), mean_=0.0, scale_=1.0)
    _check_result(SimpleNamespace(**good))
    with pytest.raises(symscope.SymscopeTrainingError, match=r"non-finite values \(standardisation mean/scale\)"):
        _check_result(SimpleNamespace(**{**good, "scale_": float("inf")}))
    with pytest.raises(symscope.SymscopeTrainingError, match=r"\(generator\); no result was written"):
        _check_result(SimpleNamespace(**{**good, "generator_": np.full((3, 3), np.nan)}))


# -- threads and speed ------------------------------------------------------------------------------
def test_threads_flag_is_used_and_recorded(tmp_path: Path) -> None:
    import torch

    before = torch.get_num_threads()
    cfg = tmp_path / "tiny.json"
    cfg.write_text(TINY_CONFIG)
    out = tmp_path / "run"
    assert main(["discover", "builtin:gaussian-shift", "--n", "300", "--dim", "7", "--steps", "2", "--config", str(cfg),
                 "--threads", "2", "--quiet", "--out", str(out)]) == 0
    assert json.loads((out / "run.json").read_text())["torch_threads"] == 2
    assert torch.get_num_threads() == before  # restored after the fit
    with pytest.raises(symscope.SymscopeInputError, match=r"threads must be an integer >= 1 or None, got 0"):
        symscope.SymmetryLens(threads=0, progress=False).fit(np.random.default_rng(0).standard_normal((200, 5)))


def _cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    return dict(env, PYTHONPATH=str(Path(symscope.__file__).parents[1]))


@pytest.mark.slow
def test_two_runs_with_the_default_settings_give_the_same_bytes(tmp_path: Path) -> None:
    cfg = tmp_path / "tiny.json"
    cfg.write_text(TINY_CONFIG)
    outs = []
    for name in ("a", "b"):  # fresh processes, torch's thread count left at its default
        out = tmp_path / name
        subprocess.run([sys.executable, "-m", "symscope", "discover", "builtin:gaussian-shift", "--n", "2000", "--dim",
                        "9", "--steps", "30", "--config", str(cfg), "--quiet", "--out", str(out)],
                       check=True, capture_output=True, env=_cli_env(), timeout=300)
        outs.append(out)
    for name in ("generator.npy", "filter.npy", "group_conv.npy"):
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name


def test_help_does_not_import_torch_or_scipy() -> None:
    code = ("import sys, contextlib, io\nfrom symscope.cli import main\n"
            "for argv in (['--help'], ['discover', '--help'], ['transform', '--help']):\n"
            "    with contextlib.redirect_stdout(io.StringIO()):\n"
            "        assert main(argv) == 0\n"
            "print(sorted(m for m in ('torch', 'scipy', 'matplotlib') if m in sys.modules))\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_cli_env(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
