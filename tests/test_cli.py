"""The command line as a user meets it: bad input gives one clear paragraph, exit 2, nothing changed."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from planner.cli import main

VERBS = ["init", "status", "observe", "run", "leaderboard", "suggest", "suggestions", "report", "backtest", "predict", "quality", "demo"]


def run_cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def files(directory):
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file() and p.name != ".planner.lock"}


@pytest.fixture
def cli_campaign(tmp_path, capsys):
    csv = tmp_path / "data.csv"
    pd.DataFrame(
        {
            "sample_id": ["a", "b", "c", "d", "e"],
            "x": [0.1, 0.5, 0.9, 0.3, 0.7],
            "salt": ["LiPF6", "LiFSI", "LiPF6", "LiFSI", "LiPF6"],
            "y": [1.0, 2.0, 1.5, 0.5, 2.5],
        }
    ).to_csv(csv, index=False)
    code, out, err = run_cli(capsys, "init", tmp_path / "camp", "--data", csv, "--target", "y:max", "--id", "sample_id")
    assert code == 0, err
    return tmp_path / "camp"


def test_help_lists_every_verb(capsys):
    code, out, _ = run_cli(capsys, "--help")
    assert code == 0
    for verb in VERBS:
        assert f"  {verb} " in out
    for verb in VERBS:
        code, out, _ = run_cli(capsys, verb, "--help")
        assert code == 0 and "Usage: planner " + verb in out


def test_help_lists_the_verbs_in_a_campaigns_order(capsys):
    """planner.cli registers the verbs of three modules in one place; --help keeps the order it had."""
    _, out, _ = run_cli(capsys, "--help")
    commands = out[out.index("Commands:"):].splitlines()[1:]
    listed = [line.split()[0] for line in commands if line.startswith("  ") and line.split()[0] in VERBS]
    assert listed == ["init", "status", "observe", "demo", "run", "leaderboard", "predict", "quality", "suggest",
                      "suggestions", "backtest", "report"]


def test_init_status_observe(capsys, cli_campaign, tmp_path):
    new = tmp_path / "new.csv"
    new.write_text("sample_id,x,salt,y\nf,0.2,LiFSI,3.5\n")
    code, out, err = run_cli(capsys, "observe", cli_campaign, new)
    assert code == 0 and "added 1" in out
    code, out, err = run_cli(capsys, "observe", cli_campaign, new)
    assert code == 0 and "added 0, skipped 1 already stored" in out
    code, out, _ = run_cli(capsys, "status", cli_campaign)
    assert "6 (5 from data sources, 1 observed here)" in out
    assert "best 3.5 at sample_id=f" in out
    code, out, _ = run_cli(capsys, "status", cli_campaign, "--json")
    assert '"n_observed": 1' in out


BAD_OBSERVATIONS = [
    pytest.param(None, "not found", id="missing-file"),
    pytest.param("", "is empty", id="empty-file"),
    pytest.param("sample_id;x;salt;y\nf;0.2;LiFSI;3\n", None, id="semicolons-detected"),
    pytest.param("sample_id,x,salt\nf,0.2,LiFSI\n", r"target column\(s\) \['y'\] are missing", id="target-missing"),
    pytest.param("sample_id,x,salt,y\nf,0.2,LiFSI,high\n", r"target 'y' must be numeric but has text at line 2 \('high'\)", id="non-numeric-target"),
    pytest.param("sample_id,x,salt,y\nf,0.2,LiFSI,inf\n", "infinite at line 2", id="inf-target"),
    pytest.param("sample_id,x,salt,y\nf,0.2,LiFSI,\n", r"no value for target\(s\) \['y'\] at line 2", id="nan-target"),
    pytest.param("sample_id,x,salt,y\nf,0.2,LiFSI,1\nf,0.3,LiFSI,2\n", r"'f' at lines \[2, 3\]", id="duplicate-ids"),
    pytest.param("sample_id,x,salt,y,colour\nf,0.2,LiFSI,1,red\n", r"unknown column\(s\) \['colour'\].*--allow-extra", id="unknown-columns"),
    pytest.param("sample_id,x,salt,y\nf,abc,LiFSI,1\n", r"numeric input 'x' has text at line 2", id="non-numeric-input"),
    pytest.param("sample_id,x,salt,y\nf,0.2,LiFSI,1,9\n", "line 2: has 5 fields but the header has 4", id="ragged-row"),
]


@pytest.mark.parametrize(("content", "match"), BAD_OBSERVATIONS)
def test_bad_observations(capsys, cli_campaign, tmp_path, content, match):
    path = tmp_path / "obs.csv"
    if content is not None:
        path.write_text(content)
    before = files(cli_campaign)
    code, out, err = run_cli(capsys, "observe", cli_campaign, path)
    if match is None:  # a file with another delimiter just works
        assert code == 0 and "added 1" in out
        return
    assert code == 2, out
    assert err.startswith("error: ") and "Traceback" not in err
    assert pytest.importorskip("re").search(match, err), err
    assert files(cli_campaign) == before


def test_wrong_explicit_delimiter(capsys, cli_campaign, tmp_path):
    path = tmp_path / "obs.csv"
    path.write_text("sample_id;x;salt;y\nf;0.2;LiFSI;3\n")
    code, _, err = run_cli(capsys, "observe", cli_campaign, path, "--delimiter", ",")
    assert code == 2 and "uses another delimiter" in err and "semicolon" in err


def test_bom_file_just_works(capsys, cli_campaign, tmp_path):
    path = tmp_path / "obs.csv"
    path.write_bytes("\ufeffsample_id,x,salt,y\ng,0.4,LiPF6,1.25\n".encode())
    code, out, err = run_cli(capsys, "observe", cli_campaign, path)
    assert code == 0 and "added 1" in out, err


def test_outside_design_space_warns_and_keeps(capsys, tmp_path):
    csv = tmp_path / "d.csv"
    csv.write_text("x,y\n0.1,1\n0.5,2\n0.9,3\n")
    assert run_cli(capsys, "init", tmp_path / "c", "--data", csv, "--target", "y:min")[0] == 0
    spec = (tmp_path / "c" / "campaign.yaml").read_text()
    (tmp_path / "c" / "campaign.yaml").write_text(spec.replace("ranges: {}", "ranges:\n    x: [0.0, 1.0]"))
    obs = tmp_path / "o.csv"
    obs.write_text("x,y\n1.7,0.2\n")
    code, out, err = run_cli(capsys, "observe", tmp_path / "c", obs)
    assert code == 0 and "added 1" in out
    assert "outside the design space [0.0, 1.0] at line 2 (1.7)" in out


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        pytest.param(lambda t: t + "colour: red\n", "unknown key 'colour'", id="unknown-key"),
        pytest.param(lambda t: t.replace("seed: 0", "seed: many"), r"'seed'.*got 'many'", id="wrong-type"),
        pytest.param(
            lambda t: t.replace("fraction_groups: []", "fraction_groups:\n- {name: mix, columns: [x, nope]}"),
            r"column\(s\) \['nope'\] are not inputs",
            id="fraction-group-missing-columns",
        ),
        pytest.param(lambda t: t.replace("inputs:", "inputs:\n\t- oops"), "not valid YAML", id="yaml-syntax"),
    ],
)
def test_malformed_campaign_yaml(capsys, cli_campaign, tmp_path, edit, match):
    path = cli_campaign / "campaign.yaml"
    path.write_text(edit(path.read_text()))
    new = tmp_path / "n.csv"
    new.write_text("sample_id,x,salt,y\nz,0.2,LiFSI,3.5\n")
    for args in (("status", cli_campaign), ("observe", cli_campaign, new)):
        code, out, err = run_cli(capsys, *args)
        assert code == 2 and "Traceback" not in err
        assert pytest.importorskip("re").search(match, err), err
    assert not (cli_campaign / "observations.csv").exists()


def test_init_errors(capsys, tmp_path):
    csv = tmp_path / "d.csv"
    csv.write_text("x,y\n1,2\n3,4\n")
    code, _, err = run_cli(capsys, "init", tmp_path / "c", "--data", csv, "--target", "nope:max")
    assert code == 2 and "target column 'nope' is not in the file" in err
    code, _, err = run_cli(capsys, "init", tmp_path / "c", "--data", csv, "--target", "y")
    assert code == 2 and "NAME:max or NAME:min" in err
    assert not (tmp_path / "c").exists()
    assert run_cli(capsys, "init", tmp_path / "c", "--data", csv, "--target", "y:max")[0] == 0
    code, _, err = run_cli(capsys, "init", tmp_path / "c", "--data", csv, "--target", "y:max")
    assert code == 2 and "already exists" in err


def test_debug_shows_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "planner.cli", "--debug", "status", str(tmp_path / "none")],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and "Traceback" in result.stderr and "CampaignNotFoundError" in result.stderr


def test_console_script_exit_code(tmp_path):
    exe = [sys.executable, "-c", "import sys; from planner.cli import _script; sys.argv=['planner', *sys.argv[1:]]; _script()"]
    result = subprocess.run([*exe, "status", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 2 and result.stderr.startswith("error: no campaign") and "Traceback" not in result.stderr


def test_quality_verb_saves_the_report_and_strict_exits_2(capsys, cli_campaign):
    """`planner quality` goes through the campaign's QualitySpec: the roles reach the saved report."""
    import json

    code, out, err = run_cli(capsys, "quality", cli_campaign)
    assert code == 0, err
    assert out.startswith("Data-quality report: ") and "UNIQUENESS" in out
    saved = cli_campaign / "quality"
    names = {p.name for p in saved.iterdir()}
    assert {"quality_report.json", "quality_report.txt", "quality_summary.csv", "quality_issues.csv", "quality_actions.csv"} <= names
    settings = json.loads((saved / "quality_report.json").read_text())["settings"]
    assert settings["id_column"] == "sample_id" and settings["target_columns"] == ["y"]
    assert settings["source_column"] == "_source"
    code, out, err = run_cli(capsys, "quality", cli_campaign, "--json")
    assert code == 0 and json.loads(out)["type"] == "QualityReport"


def test_quality_strict_exits_2_on_a_failed_check(capsys, cli_campaign):
    """A target outside its declared physical range fails the bounds check: --strict exits 2 after saving."""
    yaml_path = cli_campaign / "campaign.yaml"
    text = yaml_path.read_text()
    assert "  upper: null\n" in text
    yaml_path.write_text(text.replace("  upper: null\n", "  upper: 2.0\n", 1))
    code, out, err = run_cli(capsys, "quality", cli_campaign, "--strict")
    assert code == 2 and "accuracy/bounds" in err and "Traceback" not in err
    assert "(id e) y=2.5; above the upper bound 2.0" in out
    assert (cli_campaign / "quality" / "quality_report.json").is_file()  # saved before exiting


def test_run_warns_when_the_saved_pipeline_does_not_beat_the_mean():
    """`planner run` names a saved model whose own CV score is no better than the mean predictor's
    on the same folds (a 12-row noise table did: RMSE 1.11 against the mean's 0.96, saved without a word)."""
    import pandas as pd

    from planner.cli._search import _behind_the_dummy

    base = pd.DataFrame({"baseline": ["mean", "random_forest"], "mean": [0.96, 1.0], "metric": ["rmse", "rmse"]})
    final = {"cv": {"mean": 1.11, "metric": "rmse"}}
    text = _behind_the_dummy("minimize", base, final)
    assert text is not None and "the saved model (1.11) does no better than predicting the mean (0.96, rmse on the same folds)" in text
    assert _behind_the_dummy("minimize", base.assign(mean=[1.5, 1.0]), final) is None
    assert _behind_the_dummy("minimize", base, None) is None
    majority = base.assign(baseline=["majority", "random_forest"], mean=[0.6, 0.5])
    assert _behind_the_dummy("maximize", majority, {"cv": {"mean": 0.4}})
    assert _behind_the_dummy("maximize", majority, {"cv": {"mean": 0.7}}) is None
