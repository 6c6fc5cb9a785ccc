"""Loading and validating user data: every bad input gets one clear line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from symscope import SymscopeInputError, check_data, load_data
from symscope.data import load_generator

GOOD = np.random.default_rng(0).standard_normal((6, 4))


def test_loads_npy_npz_and_csv(tmp_path: Path) -> None:
    np.save(tmp_path / "a.npy", GOOD.astype(np.float32))
    np.savez(tmp_path / "b.npz", X=GOOD, generator=np.eye(4))
    np.savez(tmp_path / "c.npz", samples=GOOD)
    np.savetxt(tmp_path / "d.csv", GOOD, delimiter=",", header="a,b,c,d", comments="")
    np.savetxt(tmp_path / "e.CSV", GOOD, delimiter=",")
    for name in ("a.npy", "b.npz", "c.npz", "d.csv", "e.CSV"):
        x = load_data(tmp_path / name)
        assert x.dtype == np.float64 and x.shape == (6, 4)
        np.testing.assert_allclose(x, GOOD, rtol=1e-6)


def _write(tmp_path: Path, name: str, content: str | np.ndarray | dict) -> Path:
    p = tmp_path / name
    if isinstance(content, str):
        p.write_text(content)
    elif isinstance(content, dict):
        np.savez(p, **content)
    else:
        np.save(p, content)
    return p


@pytest.mark.parametrize(
    "name, content, match",
    [
        ("x.txt", "1,2,3\n", r"unsupported file type '\.txt'"),
        ("x", "1,2,3\n", r"unsupported file type '\(none\)'"),
        ("x.npy", "not numpy", r"cannot read .*x\.npy as \.npy: the file is a text file \(for a table of numbers use \.csv\)$"),
        ("x.npz", "not a zip", r"cannot read .*x\.npz as \.npz: the file is a text file"),
        ("x.npy", "", r"cannot read .*x\.npy as \.npy: the file is empty$"),
        ("x.npz", {"a": GOOD, "b": GOOD}, r"holds a, b; expected an array named 'X' \(or a single array\)"),
        ("x.npy", np.arange(5.0), r"must be 2-D .* got 1-D shape \(5,\)"),
        ("x.npy", np.zeros((2, 3, 4)), r"got 3-D shape \(2, 3, 4\)"),
        ("x.npy", np.array([["a", "b", "c"]] * 3), "non-numeric dtype <U1"),
        ("x.npy", GOOD + 1j, "non-numeric dtype complex128"),
        ("x.npy", GOOD[:, :2], "d=2 features; at least 3 are needed"),
        ("x.npy", GOOD[:1], "1 samples; at least 2 are needed"),
        ("x.npy", np.ones((5, 4)), r"constant \(all entries are equal\)"),
        ("x.npy", np.tile(GOOD[:1], (5, 1)), r"constant \(all 5 samples are identical\)"),
        ("x.csv", "", "no data rows"),
        ("x.csv", "a,b,c\n", "no data rows"),
        ("x.csv", "a,b,c\n1,2,3\n4,oops,6\n", r"row 3, column 2: 'oops' is not a number"),
        ("x.csv", "1,2,3\n4,,6\n", r"row 2, column 2: '' is not a number"),
        ("x.csv", "1,2,3\n4,5\n", "row 2 has 2 columns, expected 3"),
        ("x.csv", "1,2,3\nnan,5,6\n1,2,3\n7,inf,9\n", r"NaN or inf in 2 of 4 rows \(0-based rows: 1, 3\)"),
    ],
)
def test_bad_files(tmp_path: Path, name: str, content: str | np.ndarray | dict, match: str) -> None:
    p = _write(tmp_path, name, content)
    with pytest.raises(SymscopeInputError, match=match) as info:
        load_data(p)
    assert "\n" not in str(info.value)


def test_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(SymscopeInputError, match="no such file: .*nope.npy"):
        load_data(tmp_path / "nope.npy")
    with pytest.raises(SymscopeInputError, match="is a folder"):
        load_data(tmp_path)


def test_object_array_npy_is_refused_without_pickle(tmp_path: Path) -> None:
    np.save(tmp_path / "o.npy", np.array([[1, "a", None]] * 3, dtype=object), allow_pickle=True)
    np.savez(tmp_path / "o.npz", X=np.array([[1, "a", None]] * 3, dtype=object))
    for name in ("o.npy", "o.npz"):
        with pytest.raises(SymscopeInputError, match=r"cannot read .* as .np[yz]: it holds an array of Python objects") as info:
            load_data(tmp_path / name)
        assert "allow_pickle" not in str(info.value) and "pickle.load" not in str(info.value)


def test_mislabelled_numpy_files_are_named_for_what_they_are(tmp_path: Path) -> None:
    """A text file or an .npz named .npy never gets numpy's unpickling advice or a dtype <U1 complaint."""
    np.savez(tmp_path / "a.npz", X=GOOD)
    (tmp_path / "a.npy").write_bytes((tmp_path / "a.npz").read_bytes())
    np.save(tmp_path / "b.npy", GOOD)
    (tmp_path / "b.npz").write_bytes((tmp_path / "b.npy").read_bytes())
    (tmp_path / "c.npy").write_text("1,2,3\n4,5,6\n")
    (tmp_path / "d.npy").write_bytes(bytes(range(256)))
    cases = {"a.npy": r"the file is an \.npz archive \(rename it to \.npz\)$",
             "b.npz": r"the file is an \.npy array \(rename it to \.npy\)$",
             "c.npy": r"the file is a text file", "d.npy": r"the file is neither \.npy nor \.npz$"}
    for name, match in cases.items():
        with pytest.raises(SymscopeInputError, match=match) as info:
            load_data(tmp_path / name)
        assert not any(w in str(info.value) for w in ("allow_pickle", "pickle", "<U1")), name
    with pytest.raises(SymscopeInputError, match=r"the file is an \.npz archive"):
        load_generator(tmp_path / "a.npy")


@pytest.mark.parametrize("scale, size", [(1e300, "large"), (1e-320, "small")])
def test_data_the_standardisation_overflows_for_is_refused(scale: float, size: str) -> None:
    with pytest.raises(SymscopeInputError, match=rf"cannot be standardised in float64: its values are too {size}"):
        check_data(GOOD * scale)


def test_large_but_standardisable_data_is_accepted() -> None:
    x = check_data(GOOD * 1e150)
    z = (x - x.mean()) / x.std()
    assert np.all(np.isfinite(z)) and z.std() == pytest.approx(1.0)
    assert check_data(np.zeros((1, 4)), min_samples=1, allow_constant=True).shape == (1, 4)


@pytest.mark.parametrize(
    "x, match",
    [
        (np.array([[1, "a", 3]] * 3, dtype=object), "non-numeric dtype object"),
        ([[1, 2, 3], [4, 5]], "cannot be read as an array"),
        (
            np.where(np.arange(40).reshape(10, 4) % 7 == 0, np.nan, 1.0),  # rows 0, 1, 3, 5, 7, 8
            r"NaN or inf in 6 of 10 rows \(0-based rows: 0, 1, 3, 5, 7, \.\.\.\)",
        ),
        (GOOD, "6 samples; at least 100 are needed"),
    ],
)
def test_check_data_rejects(x: object, match: str) -> None:
    with pytest.raises(SymscopeInputError, match=match):
        check_data(x, min_samples=100 if x is GOOD else 2)


def test_check_data_accepts_lists_and_ints() -> None:
    x = check_data([[1, 2, 3], [3, 2, 1]], name="data")
    assert x.dtype == np.float64 and x.flags.c_contiguous and x.shape == (2, 3)
    assert check_data(np.asfortranarray(GOOD)).flags.c_contiguous


def test_error_is_a_value_error() -> None:
    assert issubclass(SymscopeInputError, ValueError)


def test_load_generator_forms(tmp_path: Path) -> None:
    g = np.eye(5, k=-1)
    np.save(tmp_path / "g.npy", g)
    np.savez(tmp_path / "g.npz", X=GOOD, generator=g)
    run = tmp_path / "run"
    run.mkdir()
    np.save(run / "generator.npy", g)
    for p in (tmp_path / "g.npy", tmp_path / "g.npz", run):
        np.testing.assert_array_equal(load_generator(p), g)
    with pytest.raises(SymscopeInputError, match="has no generator.npy"):
        load_generator(tmp_path)
    np.savez(tmp_path / "h.npz", X=GOOD)
    with pytest.raises(SymscopeInputError, match=r"holds X; expected an array named 'generator'$"):
        load_generator(tmp_path / "h.npz")
    np.save(tmp_path / "r.npy", GOOD)
    with pytest.raises(SymscopeInputError, match=r"square matrix, got shape \(6, 4\)"):
        load_generator(tmp_path / "r.npy")
