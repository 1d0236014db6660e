"""`planner init` on raw tables as users bring them: groups, identifiers, bookkeeping, constants,
censored targets, near-duplicates of the target."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from planner.campaign import Campaign
from planner.campaign._infer import infer_columns
from planner.exceptions import DataValidationError


def _conductor_table(n: int = 120, seed: int = 0) -> pd.DataFrame:
    """Shaped like a public Li-ion conductor database export (identifiers, references, limits)."""
    rng = np.random.default_rng(seed)
    logc = rng.uniform(-10, -2, n)
    ic = [f"{10 ** v:.3E}" for v in logc]
    for i in range(12):
        ic[i] = "<1E-10" if i % 2 else "< 1e-8"
    return pd.DataFrame({
        "ICSD ID": rng.integers(1000, 99999, n), "Laskowski ID": [f"L{i}" for i in range(n)],
        "Liion ID": rng.integers(1, 9999, n),
        "Reduced Composition": rng.choice(["Li7La3Zr2O12", "Li3PS4", "LiTi2(PO4)3", "Li6PS5Cl"], n),
        "a": rng.uniform(5, 13, n), "Temperature (K)": rng.choice([298, 300, 373], n),
        "IC (Bulk)": [f"{10 ** (v + rng.normal(0, 0.2)):.3E}" if rng.random() < 0.4 else "" for v in logc],
        "Ionic conductivity (S cm-1)": ic, "Checked": rng.choice(["yes", "no"], n),
        "Ref": [f"ref{i % 20}" for i in range(n)], "Cif ID": [f"cif{i}" for i in range(n)],
        "note": ["" if rng.random() < 0.95 else "odd" for _ in range(n)], "Lab": ["Liverpool"] * n,
    })


def test_database_export_roles(tmp_path):
    path = tmp_path / "conductors.csv"
    _conductor_table().to_csv(path, index=False)
    camp = Campaign.from_csv(tmp_path / "camp", path, ["Ionic conductivity (S cm-1):max"])
    spec = camp.spec
    assert spec.task == "regression"
    roles = {i.name: i.role for i in spec.inputs}
    assert roles == {"Reduced Composition": "composition", "a": "numeric", "Temperature (K)": "numeric"}
    for name in ("ICSD ID", "Laskowski ID", "Liion ID", "Cif ID", "Checked", "Ref", "note", "Lab", "IC (Bulk)"):
        assert name in spec.data.ignore, name
    text = (tmp_path / "camp" / "campaign.yaml").read_text()
    assert "12 value(s) are written as limits" in text and "orders of magnitude" in text and "log10(" in text
    assert "Lab: constant ('Liverpool' in every row)" in text
    # The censored rows are left out of training, with the rule stated once.
    table = camp.source_table()
    assert any("written as limits" in w and "left out of training" in w for w in table.warnings)
    assert not any("have no value for target" in w for w in table.warnings)
    assert camp.labelled_data()["Ionic conductivity (S cm-1)"].notna().sum() == 108


def test_group_column_is_not_an_input_and_observe_does_not_need_it(tmp_path, capsys):
    rng = np.random.default_rng(1)
    n = 40
    frame = pd.DataFrame({"sample_id": [f"s{i}" for i in range(n)], "x1": rng.uniform(0, 1, n),
                          "Electrolyte": [f"electrolyte {i % 8}" for i in range(n)], "y": rng.normal(size=n)})
    frame.to_csv(tmp_path / "data.csv", index=False)
    camp = Campaign.from_csv(tmp_path / "camp", tmp_path / "data.csv", ["y:max"], id_column="sample_id",
                             group_column="Electrolyte")
    assert [i.name for i in camp.spec.inputs] == ["x1"] and "Electrolyte" not in camp.spec.data.ignore
    assert "the CV group column (--group)" in (tmp_path / "camp" / "campaign.yaml").read_text()
    report = camp.observe(pd.DataFrame({"sample_id": ["n1"], "x1": [0.5], "y": [0.3]}))
    assert report.n_added == 1 and any("each new row is its own group" in note for note in report.notes)
    groups = camp.training_data("y").groups
    assert groups.notna().all() and groups.nunique() == 9  # 8 electrolytes + the new row alone


def test_a_provenance_group_is_not_an_entity_in_quality(tmp_path):
    rng = np.random.default_rng(2)
    n = 40
    pd.DataFrame({"x1": rng.uniform(0, 1, n), "source": [f"10.1000/paper{i % 5}" for i in range(n)],
                  "y": rng.normal(size=n)}).to_csv(tmp_path / "d.csv", index=False)
    camp = Campaign.from_csv(tmp_path / "camp", tmp_path / "d.csv", ["y:max"], group_column="source")
    text = camp.assess_quality(save=False).to_text()
    assert "repeated entities (same 'source') disagree" not in text


@pytest.mark.parametrize("values", [[3.0] * 12, ["a"] * 12], ids=["number", "label"])
def test_constant_target_is_refused(values):
    frame = pd.DataFrame({"x": np.arange(12.0), "y": values})
    with pytest.raises(DataValidationError, match=r"target 'y' takes a single value \((3.0|'a')\) .* nothing to learn"):
        infer_columns(frame, targets=["y"])


def test_constant_text_column_is_flagged():
    frame = pd.DataFrame({"x": np.arange(12.0), "lab": ["A"] * 12, "y": np.arange(12.0) ** 2})
    out = infer_columns(frame, targets=["y"])
    assert "lab" in out.ignore and out.notes["lab"].startswith("constant")


def test_space_groups_and_almost_empty_text_are_not_molecules():
    rng = np.random.default_rng(4)
    n = 60
    frame = pd.DataFrame({
        "x": rng.uniform(0, 1, n),
        "Space group": rng.choice(["P -1", "I a -3 d", "P 42/n m c", "C2/c", "P1"], n),
        "misc": [None if i % 20 else s for i, s in zip(range(n), ["CO", "CCO", "C"] * 20, strict=False)],
        "y": rng.normal(size=n),
    })
    out = infer_columns(frame, targets=["y"])
    roles = {i.name: i.role for i in out.inputs}
    assert roles["Space group"] == "categorical"
    assert "misc" in out.ignore and out.notes["misc"].startswith("almost empty (57 of 60 values missing)")


def test_a_typo_in_a_numeric_column_is_pointed_out(tmp_path):
    # One text cell made the whole column categorical without a word.
    frame = pd.DataFrame({"x_li": ["6.4", "6.6", "seven", "6.5", "7.0", "6.9"], "t": [1, 2, 3, 4, 5, 6],
                          "y": [1.0, 2.0, 1.5, 3.0, 2.5, 2.2]})
    frame.index = pd.RangeIndex(2, 2 + len(frame))  # file lines, as read_table gives them
    with pytest.warns(UserWarning, match=r"'x_li' is read as categorical, but 5 of 6 values are numbers and line 4 "
                      r"holds 'seven': if 'x_li' is numeric, fix the text cell"):
        out = infer_columns(frame, targets=["y"])
    assert {i.name: i.role for i in out.inputs}["x_li"] == "categorical"
    levels = pd.DataFrame({"salt": ["LiPF6", "LiFSI", "LiPF6", "none"], "y": [1.0, 2.0, 3.0, 4.0]})
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # text levels: nothing to point out
        infer_columns(levels, targets=["y"])


def test_a_cold_start_file_is_the_candidate_pool(tmp_path, capsys):
    """Nothing measured yet: init makes the file the pool (regression), suggest gives a
    space-filling first batch named by the id column, and the measured rows then drive a model."""
    from planner.cli import main

    rng = np.random.default_rng(0)
    pool = pd.DataFrame({"id": [f"C{i:02d}" for i in range(30)], "x": rng.uniform(0, 1, 30), "z": rng.uniform(0, 1, 30)})
    pool.assign(y="").to_csv(tmp_path / "pool.csv", index=False)
    camp = tmp_path / "camp"
    assert main(["init", str(camp), "--data", str(tmp_path / "pool.csv"), "--target", "y:max", "--id", "id"]) == 0
    out = capsys.readouterr().out
    assert "cold start" in out and f"planner suggest {camp}" in out
    spec = Campaign.load(camp).spec
    assert spec.task == "regression" and spec.design_space.pool == "../pool.csv"
    assert "observations  30 (30 from data sources, 0 observed here); 30 not measured yet" in Campaign.load(camp).status().to_text()
    first = tmp_path / "first.csv"
    assert main(["suggest", str(camp), "-n", "3", "-o", str(first)]) == 0
    out, err = capsys.readouterr()
    assert "strategy space_filling" in out and "note: space-filling suggestions: no observation yet" in out
    assert "no observation yet" not in err  # the fallback is said once, with the batch
    batch = pd.read_csv(first)
    assert batch["id"].isin(pool["id"]).all() and batch["id"].nunique() == 3
    batch.assign(y=batch["x"] - batch["z"])[["suggestion_id", "id", "x", "z", "y"]].to_csv(tmp_path / "m.csv", index=False)
    assert main(["observe", str(camp), str(tmp_path / "m.csv")]) == 0
    second = tmp_path / "second.csv"
    assert main(["suggest", str(camp), "-n", "2", "--surrogate", "gp", "-o", str(second)]) == 0
    assert "strategy qlognei" in capsys.readouterr().out
    assert not pd.read_csv(second)["id"].isin(batch["id"]).any()  # measured candidates are not suggested again


def test_two_identical_target_values_are_still_refused_but_one_is_a_start():
    frame = pd.DataFrame({"x": np.arange(12.0), "y": [np.nan] * 11 + [3.0]})
    assert infer_columns(frame, targets=["y"]).task == "regression"
    with pytest.raises(DataValidationError, match="takes a single value"):
        infer_columns(frame.assign(y=[np.nan] * 10 + [3.0, 3.0]), targets=["y"])


def test_unmeasured_rows_are_the_pool_and_limits_count_as_measured(tmp_path, capsys):
    """Mostly unmeasured: the file is the pool; suggest leaves out the measured rows, including
    one measured as a limit (not trained on, but not to be made again). A backtest before any
    measurement says why it cannot run."""
    from planner.cli import main

    rows = ["id,x,z,y", "A,1.5,2,3", "B,2.25,3,<0.5", "C,3.75,1,4"] + [f"U{i},{0.3 + i ** 1.5:.2f},{i % 3}," for i in range(6)]
    (tmp_path / "plan.csv").write_text("\n".join(rows) + "\n")
    camp = tmp_path / "camp"
    assert main(["init", str(camp), "--data", str(tmp_path / "plan.csv"), "--target", "y:max", "--id", "id"]) == 0
    assert "2 row(s) are measured; design_space.pool is ../plan.csv" in capsys.readouterr().out
    out = tmp_path / "s.csv"
    assert main(["suggest", str(camp), "-n", "9", "--strategy", "random", "-o", str(out)]) == 0
    assert sorted(pd.read_csv(out)["id"]) == [f"U{i}" for i in range(6)]
    (tmp_path / "again.csv").write_text("id,x,z,y\nB,2.25,3,7\n")  # B was measured as a limit
    assert main(["observe", str(camp), str(tmp_path / "again.csv")]) == 2
    assert "id(s) already stored with different values (line 2: id 'B')" in capsys.readouterr().err
    (tmp_path / "empty.csv").write_text("id,x,z,y\nA,1,2,\nB,2,3,\n")
    assert main(["init", str(tmp_path / "cold"), "--data", str(tmp_path / "empty.csv"), "--target", "y:max"]) == 0
    capsys.readouterr()
    assert main(["backtest", str(tmp_path / "cold"), "--seeds", "1"]) == 2
    assert "has none yet" in capsys.readouterr().err


def test_results_by_suggestion_id_or_id_take_the_inputs_from_the_suggestion(tmp_path, capsys):
    from planner.cli import main

    rng = np.random.default_rng(1)
    pool = pd.DataFrame({"id": [f"C{i:02d}" for i in range(20)], "x": rng.uniform(0, 1, 20).round(4),
                         "salt": rng.choice(["LiFSI", "none", "None"], 20), "y": np.nan})  # None: pandas' NA spelling
    pool.to_csv(tmp_path / "pool.csv", index=False)
    camp = tmp_path / "camp"
    assert main(["init", str(camp), "--data", str(tmp_path / "pool.csv"), "--target", "y:max", "--id", "id"]) == 0
    first = tmp_path / "first.csv"
    assert main(["suggest", str(camp), "-n", "3", "-o", str(first)]) == 0
    batch = pd.read_csv(first, keep_default_na=False)
    (tmp_path / "r1.csv").write_text(f"suggestion_id,y\n{batch['suggestion_id'][0]},1.5\n")
    (tmp_path / "r2.csv").write_text(f"id,y\n{batch['id'][1]},2.5\n")
    capsys.readouterr()
    assert main(["observe", str(camp), str(tmp_path / "r1.csv")]) == 0
    assert main(["observe", str(camp), str(tmp_path / "r2.csv")]) == 0
    assert capsys.readouterr().out.count("1 pending suggestion(s) now observed") == 2
    stored = Campaign.load(camp).observations()
    assert stored[["x", "salt"]].astype(str).values.tolist() == batch.loc[:1, ["x", "salt"]].astype(str).values.tolist()
    assert "None" in set(stored["salt"])  # kept through suggestions.csv, not read back as missing
    # a mixed file: one row by suggestion_id alone, one with its inputs and no suggestion
    other = pool[~pool["id"].isin(batch["id"])].iloc[0]
    (tmp_path / "r4.csv").write_text(
        f"suggestion_id,id,x,salt,y\n{batch['suggestion_id'][2]},,,,4.5\n,{other['id']},{other['x']},{other['salt']},0.5\n"
    )
    assert main(["observe", str(camp), str(tmp_path / "r4.csv")]) == 0, capsys.readouterr().err
    assert "1 pending suggestion(s) now observed" in capsys.readouterr().out
    stored = Campaign.load(camp).observations().set_index("id")
    assert str(stored.at[batch["id"][2], "salt"]) == str(batch["salt"][2]) and stored.at[other["id"], "y"] == 0.5
    # by the id of a listed candidate never suggested: its inputs come from the data file
    listed = pool[~pool["id"].isin(list(batch["id"]) + [other["id"]])].iloc[0]
    (tmp_path / "r5.csv").write_text(f"id,y\n{listed['id']},9.5\n")
    assert main(["observe", str(camp), str(tmp_path / "r5.csv")]) == 0, capsys.readouterr().err
    capsys.readouterr()
    stored = Campaign.load(camp).observations().set_index("id")
    assert stored.at[listed["id"], "x"] == listed["x"] and str(stored.at[listed["id"], "salt"]) == str(listed["salt"])
    (tmp_path / "r3.csv").write_text("id,y\nC99,1.0\n")
    assert main(["observe", str(camp), str(tmp_path / "r3.csv")]) == 2
    err = capsys.readouterr().err
    assert "line 2: the file has no column(s) ['x', 'salt']" in err and "Nothing was stored" in err


def test_observing_a_listed_id_with_other_inputs_is_said(tmp_path, capsys):
    from planner.cli import main

    (tmp_path / "plan.csv").write_text("id,x,dopant,y\nA,0.5,none,\nB,1.25,ga,\nC,2.5,al,\n")
    camp = tmp_path / "camp"
    assert main(["init", str(camp), "--data", str(tmp_path / "plan.csv"), "--target", "y:max", "--id", "id"]) == 0
    (tmp_path / "r.csv").write_text("id,x,dopant,y\nA,0.5,ga,1.0\nB,1.25,ga,2.0\n")
    capsys.readouterr()
    assert main(["observe", str(camp), str(tmp_path / "r.csv")]) == 0
    out = capsys.readouterr().out
    assert "1 row(s) carry the id of a listed candidate but other inputs: line 2 (id 'A': dopant 'ga' where the listed row has 'none')" in out, out


def test_results_by_id_alone_before_any_suggestion_twice_and_with_booleans(tmp_path, capsys):
    """Review cases: an id-only results file before any suggest (the log has no id column yet),
    the same file observed again (a no-op, not an error), and a boolean input taken from the
    named experiment as it is (not True for every row)."""
    from planner.cli import main

    plan = pd.DataFrame({"sid": [1, 2, 3, 4, 5, 6], "x": [0.1, 0.35, 0.5, 0.7, 0.85, 0.95],
                         "coated": [True, False, True, False, True, False], "y": np.nan})
    plan.to_csv(tmp_path / "plan.csv", index=False)
    camp = tmp_path / "camp"
    assert main(["init", str(camp), "--data", str(tmp_path / "plan.csv"), "--target", "y:max", "--id", "sid"]) == 0
    (tmp_path / "r.csv").write_text("sid,y\n2,1.5\n3,2.5\n")
    capsys.readouterr()
    assert main(["observe", str(camp), str(tmp_path / "r.csv")]) == 0, capsys.readouterr().err
    assert main(["observe", str(camp), str(tmp_path / "r.csv")]) == 0, capsys.readouterr().err
    assert "added 0, skipped 2 already stored" in capsys.readouterr().out
    stored = Campaign.load(camp).observations().set_index("sid")
    assert stored["x"].tolist() == [0.35, 0.5] and [str(v) for v in stored["coated"]] == ["False", "True"]
