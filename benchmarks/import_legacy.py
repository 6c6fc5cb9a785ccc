"""One-off: convert the per-tag result files of earlier commits into the ledger (runs.jsonl).

    python benchmarks/import_legacy.py      # writes benchmarks/results/runs.jsonl (refuses to overwrite)

Each line of ``benchmarks/results/{recovery,baselines}-*.jsonl`` and ``scaling.jsonl`` becomes
one ledger record; its ``commit`` is the commit that added the line (``git blame``,
``commit_source: "git-blame"``), its ``machine`` and ``command`` those of the ``.md`` file of the
same tag (the last command that wrote the file), its ``config`` the ``LensConfig`` (default, or
the ``--config`` file of that command) as the source tree of that commit defines it. Tags become
names of settings: ``default`` or the config file's stem; the engine version the old tag named
(``-refined``, ``-polished``, ``-converged``, …) is the commit now. The rows of
``identifiability.md`` (no jsonl was kept) are parsed back from its tables, rounded as printed.
Records are written oldest commit first, then in file order.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tarfile
import io
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import ledger  # noqa: E402
from baselines import method_config  # noqa: E402

RES = ledger.RESULTS


def blame(path: Path) -> list[str]:
    """The commit that added each line of ``path``."""
    out = ledger._git("blame", "--line-porcelain", "--", str(path.relative_to(ledger.ROOT)))
    return [line.split()[0] for line in out.splitlines() if re.match(r"^[0-9a-f]{40} \d+ \d+", line)]


def md_meta(md: Path) -> tuple[str, dict]:
    if not md.exists():  # recovery-refine-v1 kept no .md
        return f"unknown (no {md.name} was kept)", {}
    text = md.read_text()
    command = re.search(r"^Command: `(.*)`$", text, re.M).group(1).strip()
    mach = json.loads(re.search(r"^Machine and versions: `(.*)`$", text, re.M).group(1))
    return command, mach


CACHE = Path(tempfile.gettempdir()) / "symscope-legacy-configs.json"
_configs: dict[str, dict] = json.loads(CACHE.read_text()) if CACHE.exists() else {}


def lens_config(commit: str, config_file: str | None) -> dict:
    """``LensConfig`` (default or from ``config_file``) as the tree at ``commit`` defines it."""
    key = f"{commit}:{config_file}"
    if key not in _configs:
        with tempfile.TemporaryDirectory() as tmp:
            blob = subprocess.run(["git", "archive", commit, "src", *([config_file] if config_file else [])],
                                  cwd=ledger.ROOT, capture_output=True, check=True).stdout
            tarfile.open(fileobj=io.BytesIO(blob)).extractall(tmp, filter="data")
            code = ("import sys, json; sys.path.insert(0, sys.argv[1] + '/src'); import symscope; "
                    "assert symscope.__file__.startswith(sys.argv[1]); from symscope import LensConfig; "
                    "c = LensConfig.from_file(sys.argv[1] + '/' + sys.argv[2]) if sys.argv[2] else LensConfig(); "
                    "print(json.dumps(c.to_dict()))")
            out = subprocess.run([sys.executable, "-c", code, tmp, config_file or ""], capture_output=True,
                                 text=True, check=True).stdout
        _configs[key] = json.loads(out)
        CACHE.write_text(json.dumps(_configs))
    return _configs[key]


def convert(path: Path) -> list[tuple[int, dict]]:
    prefix, _, tag = path.stem.partition("-")
    md = path.with_suffix(".md")
    command, mach = md_meta(md)
    commits = blame(path)
    lines = path.read_text().splitlines()
    assert len(commits) == len(lines), path
    cfg_file = (m.group(1) if (m := re.search(r"--config (\S+)", command)) else None)
    out = []
    for i, (commit, line) in enumerate(zip(commits, lines)):
        r = json.loads(line)
        r.setdefault("noise", 0.05)
        if prefix == "scaling":
            method, setting, cfg = "scaling", "default", dict(lens_config(commit, None), batch_size=r["batch"])
            r.update(dataset="gaussian-shift", seed=0, n=max(4 * r["batch"], 4 * r["d"]), wall_seconds=None)
        elif prefix == "baselines":
            method, setting = r.pop("method"), "default"
            cfg = method_config(method, (r.get("epochs"), r.get("steps_per_epoch"), None) if method == "symmetrygan"
                                else None)
            if method == "symmetrygan":
                cfg["time_budget"] = 180.0
        else:
            method = "symscope"
            cfg = lens_config(commit, cfg_file)
            setting = Path(cfg_file).stem if cfg_file else "default"
            if tag == "refine-v1":  # the first refinement, measured before its trust region (f892d1a) existed
                cfg, setting = lens_config(ledger._git("rev-parse", "f892d1a^").strip(), None), "no-trust-region"
            if r.get("steps") not in (None, cfg["steps"]):
                cfg, setting = dict(cfg, steps=r["steps"]), f"{setting}-steps{r['steps']}"
        head = dict(commit=commit, dirty=None, diff_hash=None, commit_source="git-blame", legacy_file=path.name,
                    method=method, tag=setting, dataset=r.pop("dataset"), seed=r.pop("seed"), d=r.pop("d"),
                    n=r.pop("n"), noise=r.pop("noise"), config_hash=ledger.config_hash(cfg), config=cfg, threads=1,
                    device=r.pop("device", "cpu"), command=command, machine=mach)
        out.append((i, {**head, **r}))
    return out


def identifiability() -> list[tuple[int, dict]]:
    md = RES / "identifiability.md"
    command, mach = md_meta(md)
    (commit,) = {ledger._git("log", "--diff-filter=A", "--format=%H", "--", str(md.relative_to(ledger.ROOT))).split()[-1]}
    text = md.read_text()
    num = lambda s: None if s in ("—", "–") else float(s)  # noqa: E731
    cfg = dict(ks=[3, 6, 9, 12], draws=2, resolve=1000)
    truth = {}
    for m in re.finditer(r"^\| ([a-z-]+) \| (\d) \| (-?[\d.]+) \| ([\d.]+) \| ([\d.—]+) \| ([\d.]+) / ([\d.]+) / ([\d.]+) "
                         r"\| ([\d. ]+) \|$", text, re.M):
        truth[(m[1], int(m[2]))] = dict(truth_judge=float(m[3]), truth_kurtosis=float(m[4]), truth_resolved=num(m[5]),
                                        halves=dict(judge=float(m[6]), kurtosis=float(m[7]), spread=float(m[8])),
                                        snr=[float(x) for x in m[9].split()])
    rows = []
    for i, m in enumerate(re.finditer(r"^\| ([a-z-]+) \| (\d) \| (\d+) \| (\d+) \| ([\d.]+) \| ([\d.—]+) \| ([+-][\d.]+) "
                                      r"\| ([+-][\d.]+) \| ([+-][\d.]+) \|$", text, re.M)):
        name, seed = m[1], int(m[2])
        rows.append((i, dict(commit=commit, dirty=None, diff_hash=None, commit_source="git-add",
                             legacy_file=md.name, parsed_from_markdown=True, method="identifiability", tag="default",
                             dataset=name, seed=seed, d=33, n=50_000, noise=0.05, config_hash=ledger.config_hash(cfg),
                             config=cfg, threads=1, device="cpu", command=command, machine=mach, wall_seconds=None,
                             draw=i, k=int(m[3]), flips=int(m[4]), cosine=float(m[5]), resolved=num(m[6]),
                             d_judge=float(m[7]), d_kurtosis=float(m[8]), d_spread=float(m[9]),
                             **truth[(name, seed)])))
    return rows


def main() -> int:
    if ledger.LEDGER.exists():
        print(f"{ledger.LEDGER} exists; not overwriting", file=sys.stderr)
        return 2
    recs = []
    for path in sorted(RES.glob("*.jsonl")):
        if path.name != ledger.LEDGER.name:
            recs += [(r["machine"].get("date", ""), path.name, i, r) for i, r in convert(path)]
    recs += [("", "identifiability.md", i, r) for i, r in identifiability()]
    order = ledger._commit_rank(str(ledger.ROOT))
    recs.sort(key=lambda t: (order[t[3]["commit"]], t[0], t[1], t[2]))
    for *_, r in recs:
        ledger.append(r)
    print(f"{len(recs)} records from {len({t[1] for t in recs})} files -> {ledger.LEDGER}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
