"""End to end from the command line on BTZ: init -> run -> suggest (new solvents) -> observe -> report."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from planner.cli import main

TARGET = "BTZ_molar_conc_20Celcius(M)"


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.slow
def test_btz_campaign_end_to_end(datasets_dir, tmp_path, capsys):
    from planner.steps._molecules import mixture_grid

    camp = tmp_path / "btz"
    data = datasets_dir / "cobol_btz_solubility" / "btz_pool_all_218.csv"
    code, out, err = run_cli(capsys, "init", camp, "--data", data, "--target", f"{TARGET}:max")
    assert code == 0, err
    assert "smiles inputs (2): SMILES1, SMILES2" in out
    spec = yaml.safe_load((camp / "campaign.yaml").read_text())
    assert spec["fraction_groups"][0]["molecules"] == ["SMILES1", "SMILES2"]  # no hand edits

    code, out, err = run_cli(capsys, "run", camp, "--trials", "3")
    assert code == 0, err
    assert "solvent:" in out or (camp / "models").exists()

    # the design space: three solvents never measured (and one typo) x a fraction grid
    pool, problems = mixture_grid(
        {"THF": "C1CCOC1", "sulfolane": "O=S1(=O)CCCC1", "diglyme": "COCCOCCOC", "DME": "COCCOC", "typo": "C1CC(O"},
        smiles_columns=["SMILES1", "SMILES2"], fraction_columns=["Solvent1_volFraction", "Solvent2_volFraction"], step=0.2,
    )
    assert len(problems) == 1 and "typo" in problems[0]
    pool.to_csv(camp / "pool.csv", index=False)
    spec["design_space"]["pool"] = "pool.csv"
    (camp / "campaign.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))

    code, out, err = run_cli(capsys, "suggest", camp, "-n", "2")
    assert code == 0, err
    suggested = pd.read_csv(camp / "suggestions.csv")
    assert len(suggested) == 2
    measured = set(pd.read_csv(data)[["SMILES1", "SMILES2"]].stack().str.strip())
    new_solvents = {"C1CCOC1", "O=S1(=O)CCCC1", "COCCOCCOC"}
    assert all(({r.SMILES1, r.SMILES2} & new_solvents) for r in suggested.itertuples())
    assert not new_solvents & measured

    results = suggested[["SMILES1", "Solvent1_volFraction", "SMILES2", "Solvent2_volFraction"]].copy()
    results[TARGET] = [5.1, 4.7]
    results.to_csv(tmp_path / "measured.csv", index=False)
    code, out, err = run_cli(capsys, "observe", camp, tmp_path / "measured.csv")
    assert code == 0 and "added 2" in out, err

    code, out, err = run_cli(capsys, "report", camp, "--no-recompute")
    assert code == 0, err
    html = next((camp / "reports").glob("*.html")).read_text()
    assert "SMILES1" in html

    # an invalid SMILES in new measurements: exit 2, file, line, column and RDKit's reason
    (tmp_path / "bad.csv").write_text(f"SMILES1,Solvent1_volFraction,SMILES2,Solvent2_volFraction,{TARGET}\nC1CCOC1,0.5,CC(,0.5,4.0\n")
    code, out, err = run_cli(capsys, "observe", camp, tmp_path / "bad.csv")
    assert code == 2 and "Traceback" not in err
    assert "bad.csv: column 'SMILES2' has invalid SMILES at line 2 ('CC(': SMILES parse error: syntax error" in err
