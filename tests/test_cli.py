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
