"""Benchmark: Magpie descriptors for N compositions, planner vs matminer, side by side.

Compositions are generated reproducibly from the Liverpool database's formulas (each one's
amounts perturbed at random and rounded), so they are realistic multi-element oxides and
sulfides, all distinct. Both sides start from formula *strings*:

* baseline: matminer's documented workflow, ``StrToComposition().featurize_dataframe`` then
  ``ElementProperty.from_preset("magpie").featurize_dataframe`` (``n_jobs=1``, no progress bar);
* planner: ``MagpieFeaturizer().fit_transform``, timed cold (element table and formula caches
  empty, including pymatgen's own parse cache) and warm (caches filled by the cold run, as
  when a pipeline is refitted on the same compositions inside cross-validation).

The two outputs are compared value by value (max abs difference is reported).

Usage::

    python benchmarks/featurize/bench_magpie.py --n 5000 --repeats 3 --out benchmarks/featurize/RESULTS.md
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[2]
DEFAULT_SOURCE = REPO.parent / "shared" / "datasets" / "liverpool_li_ion_conductivity" / "LiIonDatabase.csv"


def make_compositions(n: int, source: Path, seed: int = 0) -> list[str]:
    """``n`` distinct formula strings derived from the Liverpool compositions."""
    from planner.chem import parse_formula

    bases = []
    for formula in pd.read_csv(source, encoding="utf-8-sig")["composition"].unique():
        try:
            bases.append(parse_formula(formula))
        except ValueError:
            continue
    rng = np.random.default_rng(seed)
    out: list[str] = []
    seen: set[str] = set()
    while len(out) < n:
        base = bases[rng.integers(len(bases))]
        factors = rng.lognormal(0.0, 0.15, size=len(base))
        formula = "".join(f"{el}{amt * f:.3f}" for (el, amt), f in zip(base.items(), factors, strict=True))
        if formula not in seen:
            seen.add(formula)
            out.append(formula)
    return out


def _clear_pymatgen_cache() -> None:
    """pymatgen memoizes formula parsing; clear it so neither side profits from the other's run."""
    from pymatgen.core import composition

    cached = getattr(composition, "_parse_formula_cached", None)
    if cached is not None and hasattr(cached, "cache_clear"):
        cached.cache_clear()


def run_matminer(formulas: list[str]) -> tuple[float, pd.DataFrame]:
    from matminer.featurizers.composition import ElementProperty
    from matminer.featurizers.conversions import StrToComposition

    _clear_pymatgen_cache()
    frame = pd.DataFrame({"formula": formulas})
    start = time.perf_counter()
    to_comp = StrToComposition(target_col_id="composition_obj")
    to_comp.set_n_jobs(1)
    frame = to_comp.featurize_dataframe(frame, "formula", pbar=False)
    featurizer = ElementProperty.from_preset("magpie")
    featurizer.set_n_jobs(1)
    frame = featurizer.featurize_dataframe(frame, "composition_obj", pbar=False)
    elapsed = time.perf_counter() - start
    return elapsed, frame[featurizer.feature_labels()]


def run_planner(formulas: list[str], *, cold: bool) -> tuple[float, pd.DataFrame]:
    from planner.chem._formula import _parse_cached
    from planner.steps import MagpieFeaturizer
    from planner.steps._composition import _magpie_data, element_property_table

    if cold:
        _clear_pymatgen_cache()
        _parse_cached.cache_clear()
        element_property_table.cache_clear()
        _magpie_data.cache_clear()  # re-read matminer's 22 .table files
    frame = pd.DataFrame({"formula": formulas})
    start = time.perf_counter()
    out = MagpieFeaturizer(composition_column="formula").fit_transform(frame)
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=None, help="write a markdown results table here")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")

    formulas = make_compositions(args.n, args.source)
    # Import both libraries before timing: import cost is not featurization cost.
    import matminer.featurizers.composition  # noqa: F401
    import pymatgen.core  # noqa: F401

    base_times, cold_times, warm_times = [], [], []
    reference = ours = None
    for _ in range(args.repeats):  # interleaved, so machine load affects both sides alike
        t, reference = run_matminer(formulas)
        base_times.append(t)
        t, ours = run_planner(formulas, cold=True)
        cold_times.append(t)
        t, ours = run_planner(formulas, cold=False)
        warm_times.append(t)
    diff = float(np.nanmax(np.abs(ours.to_numpy() - reference.to_numpy())))
    base, cold, warm = (statistics.median(x) for x in (base_times, cold_times, warm_times))

    import matminer

    command = "python " + " ".join(
        [str(Path(sys.argv[0]).relative_to(REPO)) if Path(sys.argv[0]).is_absolute() else sys.argv[0], *sys.argv[1:]]
    )
    rows = [
        ("matminer StrToComposition + ElementProperty(magpie), n_jobs=1", base, 1.0),
        ("planner MagpieFeaturizer, cold (element tables re-read, parse caches empty)", cold, base / cold),
        ("planner MagpieFeaturizer, warm (same process, cached)", warm, base / warm),
    ]
    lines = [
        "# Magpie featurization benchmark",
        "",
        f"{args.n} distinct compositions (generated from the Liverpool formulas, seed 0), 132 descriptors "
        f"(22 properties x 6 statistics). Median of {args.repeats} interleaved runs.",
        "",
        "| method | seconds | speed-up vs matminer |",
        "|---|---:|---:|",
        *(f"| {name} | {sec:.3f} | {ratio:.1f}x |" for name, sec, ratio in rows),
        "",
        f"Max abs difference between planner and matminer outputs: {diff:.2e} (values agree).",
        f"All runs (s): matminer {[round(t, 3) for t in base_times]}, cold {[round(t, 3) for t in cold_times]}, "
        f"warm {[round(t, 3) for t in warm_times]}.",
        "",
        "Command (from the repository root, in the project virtualenv):",
        "",
        "```",
        command,
        "```",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPU(s) (shared), "
        f"Python {platform.python_version()}, matminer {matminer.__version__ if hasattr(matminer, '__version__') else '?'}, "
        f"pymatgen {_version('pymatgen')}, numpy {np.__version__}, pandas {pd.__version__}. "
        f"Run {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


def _version(package: str) -> str:
    from importlib.metadata import version

    try:
        return version(package)
    except Exception:  # pragma: no cover
        return "?"


if __name__ == "__main__":
    main()
