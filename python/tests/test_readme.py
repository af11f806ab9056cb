"""The README's Python example runs as written (from the repository root)."""
import re

from conftest import ROOT


def test_readme_python_example_runs(monkeypatch, capsys):
    text = (ROOT / "README.md").read_text()
    section = text[text.index("## Python: notebooks and scripts"):text.index("## Scaling out: Spark")]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) <= 6, "a five-line example (and its import)"
    monkeypatch.chdir(ROOT)
    exec(compile(code, "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert "Registration R01" in out and "'fail':" in out
