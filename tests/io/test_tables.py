from __future__ import annotations

import pandas as pd
import pytest

from planner.exceptions import DataValidationError
from planner.io import read_table


def write(tmp_path, text, name="t.csv", raw=None):
    path = tmp_path / name
    if raw is not None:
        path.write_bytes(raw)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_bom_is_accepted_and_columns_are_clean(tmp_path):
    path = write(tmp_path, "", raw="\ufeffid, x ,y\n1,2,3\n".encode())
    frame, info = read_table(path)
    assert list(frame.columns) == ["id", "x", "y"]
    assert info.had_bom


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_delimiter_is_detected(tmp_path, delimiter):
    path = write(tmp_path, delimiter.join(["a", "b"]) + "\n" + delimiter.join(["1.5", "x"]) + "\n")
    frame, info = read_table(path)
    assert info.delimiter == delimiter
    assert frame.loc[2, "a"] == 1.5


def test_wrong_delimiter_names_the_right_one(tmp_path):
    path = write(tmp_path, "a;b;c\n1;2;3\n")
    with pytest.raises(DataValidationError, match="semicolon"):
        read_table(path, delimiter=",")


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(DataValidationError, match="not found"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(DataValidationError, match="is empty"):
        read_table(write(tmp_path, "\n\n"))
    with pytest.raises(DataValidationError, match="no data rows"):
        read_table(write(tmp_path, "a,b\n", name="h.csv"))
    with pytest.raises(DataValidationError, match="directory"):
        read_table(tmp_path)
    with pytest.raises(DataValidationError, match="Export the sheet"):
        read_table(write(tmp_path, "x", name="book.xlsx"))


def test_ragged_row_names_the_line(tmp_path):
    path = write(tmp_path, "a,b\n1,2\n3,4,5\n")
    with pytest.raises(DataValidationError, match="line 3: has 3 fields but the header has 2"):
        read_table(path)


def test_repeated_header_names_are_rejected(tmp_path):
    with pytest.raises(DataValidationError, match=r"\['a'\] appear more than once"):
        read_table(write(tmp_path, "a,b,a\n1,2,3\n"))


def test_empty_rows_dropped_and_lines_kept(tmp_path):
    frame, info = read_table(write(tmp_path, "a,b\n1,2\n,\n,\n5,6\n"))
    assert info.n_empty_rows_dropped == 2
    assert list(frame.index) == [2, 5]  # line numbers in the file


def test_latin1_file_is_read_with_a_warning(tmp_path):
    path = write(tmp_path, "", raw="name,x\nCaf\xe9,1\n".encode("cp1252"))
    with pytest.warns(UserWarning, match="not valid UTF-8"):
        frame, info = read_table(path)
    assert frame.loc[2, "name"] == "Café"
    assert info.encoding == "cp1252"


def test_real_datasets_read(datasets_dir):
    frame, info = read_table(datasets_dir / "liverpool_li_ion_conductivity" / "LiIonDatabase.csv")
    assert frame.shape == (820, 8) and info.had_bom and frame.columns[0] == "ID"
    frame, info = read_table(datasets_dir / "llzo_doped_conductivity" / "llzo_dataset_clean.csv")
    assert len(frame) == 176 and info.n_empty_rows_dropped > 0
    assert frame["rel_dens_%"].isna().sum() == 63


def test_none_is_a_level_in_text_columns_and_missing_in_numeric_ones(tmp_path):
    path = write(tmp_path, "dopant,x,note,solvent2\nta,1.5,?,water\nnone,none,-,none\n-,-,n/a,ethanol\nga,2,ok,--\n")
    frame, _ = read_table(path)
    # text columns keep "none", "-", "--" as levels ...
    assert frame["dopant"].tolist() == ["ta", "none", "-", "ga"]
    assert frame["solvent2"].tolist() == ["water", "none", "ethanol", "--"]
    # ... but "?" and "n/a" are missing there, and every NA spelling is missing in a numeric column
    assert frame["note"].isna().tolist() == [True, False, True, False] and frame.loc[3, "note"] == "-"
    assert frame["x"].dtype == float and frame["x"].isna().tolist() == [False, True, True, False]


def test_a_column_of_only_none_stays_missing(tmp_path):
    frame, _ = read_table(write(tmp_path, "a,b\n1,none\n2,-\n"))
    assert frame["b"].isna().all()


def test_zero_padded_whole_numbers_are_codes_kept_as_written(tmp_path):
    # "002" is a sample id: read as the integer 2 it no longer matched the lab's labels.
    frame, _ = read_table(write(tmp_path, "id,batch,n,x\n001,7,0,0.5\n010,12,1,0.25\n2,03,-4,0.0\n"))
    assert frame["id"].tolist() == ["001", "010", "2"] and frame["batch"].tolist() == ["7", "12", "03"]
    assert frame["n"].tolist() == [0, 1, -4] and pd.api.types.is_integer_dtype(frame["n"])  # plain numbers stay numbers
    assert frame["x"].dtype == float


def test_campaign_keeps_zero_padded_ids_through_suggest_and_status(tmp_path, capsys):
    from planner.cli import main

    (tmp_path / "lab.csv").write_text("id,a,b,y\n001,0.1,1,3.0\n002,0.5,2,3.5\n003,0.9,3,2.0\n")
    (tmp_path / "pool.csv").write_text("id,a,b\n010,0.2,1.5\n011,0.3,1.7\n012,0.6,3.5\n")
    camp = tmp_path / "c"
    assert main(["init", str(camp), "--data", str(tmp_path / "lab.csv"), "--target", "y:max", "--id", "id"]) == 0
    yaml = camp / "campaign.yaml"
    yaml.write_text(yaml.read_text().replace("  pool: null", "  pool: ../pool.csv"))
    out = tmp_path / "s.csv"
    assert main(["suggest", str(camp), "-n", "2", "--surrogate", "gp", "-o", str(out)]) == 0
    assert set(pd.read_csv(out, dtype=str)["id"]) <= {"010", "011", "012"}
    from planner.campaign import Campaign

    assert set(Campaign.load(camp).suggestion_log()["id"]) <= {"010", "011", "012"}
    capsys.readouterr()
    assert main(["status", str(camp)]) == 0
    assert "best 3.5 at id=002" in capsys.readouterr().out


def test_declared_level_columns_keep_none_even_alone(tmp_path):
    path = write(tmp_path, "dopant,x\nnone,1\nnone,2\n")
    assert read_table(path)[0]["dopant"].isna().all()  # nothing says it is a level
    frame, _ = read_table(path, levels=["dopant", "absent_column"])
    assert frame["dopant"].tolist() == ["none", "none"] and frame["x"].tolist() == [1, 2]
