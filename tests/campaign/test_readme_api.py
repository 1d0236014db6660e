"""The README's "Python API" section runs as written (a whole campaign without the command line)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def python_api_example() -> str:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Python API\n"):]
    section = section[: section.index("\n## ", 1)]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


def test_the_example_is_a_whole_campaign():
    code = python_api_example()
    for verb in ("Campaign.create(", ".assess_quality(", ".search(", ".predict(", ".suggest(", ".observe(", ".report("):
        assert verb in code, f"the README's Python API example does not call {verb}"
    assert "planner." not in code.replace("from planner import", "").replace("from planner.spec import", ""), (
        "the example uses only the public facade and spec"
    )


@pytest.mark.slow
def test_the_readme_python_api_example_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(python_api_example(), str(README), "exec"), {"__name__": "readme_example"})  # noqa: S102
    out = capsys.readouterr().out
    assert "3 pending suggestion(s) now observed" in out
    assert (tmp_path / "my_campaign" / "reports" / "report.html").is_file()
    assert (tmp_path / "my_campaign" / "quality" / "quality_report.json").is_file()
