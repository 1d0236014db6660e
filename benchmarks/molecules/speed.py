"""Featurization speed: molecules per second for 10,000 distinct SMILES, cold and cached.

The SMILES are generated (fragment x linker x fragment, canonical, distinct, fixed seed): no
public list of 10,000 electrolyte molecules ships with the project. Cold = empty cache (parse +
compute); cached = the same table again (the once-per-dataset cache every CV fold and trial hits).

    OMP_NUM_THREADS=1 taskset -c 0 python benchmarks/molecules/speed.py
"""

from __future__ import annotations

import itertools
import json
import shlex
import sys
import time

import numpy as np
import pandas as pd
from common import HERE

from planner.steps._molecules import MoleculeFeaturizer, canonical_smiles, clear_molecule_cache

GROUPS = ["C", "CC", "CCC", "CC(C)", "CCCC", "CC(C)(C)", "c1ccccc1", "C1CC1", "C1CCCC1", "C1CCCCC1", "C(F)(F)F", "CCl", "CCF",
          "c1ccncc1", "C1CCOC1", "CCOCC", "COC", "CC#N", "C=C", "CCCCCC", "c1ccc(F)cc1", "c1ccc(C)cc1", "C1COCCO1", "CC(F)(F)", "CCOC"]
LINKERS = ["O", "OC(=O)", "C(=O)", "N(C)", "S", "S(=O)(=O)", "C#C", "C=C", "OCCO", "N", "C(=O)N", "OC(=O)O", "OCC", "C(=O)OC", "NC(=O)N", "P(=O)(OC)O"]


def molecules(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    seen: dict[str, None] = {}
    for a, x, b in itertools.product(GROUPS, LINKERS, GROUPS):
        c = canonical_smiles(a + x + b)
        if c:
            seen.setdefault(c)
    while len(seen) < n:
        a, b, c = rng.choice(GROUPS, 3)
        x, z = rng.choice(LINKERS, 2)
        s = canonical_smiles(a + x + b + z + c)
        if s:
            seen.setdefault(s)
    return list(seen)[:n]


def main() -> None:
    out = HERE / "results" / "speed"
    out.mkdir(parents=True, exist_ok=True)
    smiles = molecules(10_000)
    frame = pd.DataFrame({"smiles": smiles})
    rows = []
    for kind in ("descriptors", "compact", "morgan"):
        clear_molecule_cache()
        featurizer = MoleculeFeaturizer(columns="smiles", kind=kind).fit(frame.iloc[:2])
        t = time.perf_counter()
        cold = featurizer.transform(frame)
        cold_s = time.perf_counter() - t
        t = time.perf_counter()
        cached = featurizer.transform(frame)
        cached_s = time.perf_counter() - t
        assert np.array_equal(cold.to_numpy(), cached.to_numpy(), equal_nan=True)
        rows.append({"kind": kind, "n_molecules": len(smiles), "n_features": cold.shape[1], "cold_s": round(cold_s, 2), "cold_mol_per_s": round(len(smiles) / cold_s, 1),
                     "cached_s": round(cached_s, 3), "cached_mol_per_s": round(len(smiles) / cached_s, 1)})
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows)
    table.to_csv(out / "speed.csv", index=False)
    meta = {"command": "OMP_NUM_THREADS=1 taskset -c 0 python " + " ".join(shlex.quote(a) for a in sys.argv), "note": "shared, loaded 2-core machine; one core"}
    (out / "metadata.json").write_text(json.dumps(meta, indent=2))
    (out / "SUMMARY.md").write_text(table.to_string(index=False) + "\n")


if __name__ == "__main__":
    main()
