"""The README's Python API example runs as written."""

import re
from pathlib import Path


def test_readme_python_api_block_runs(tmp_path, monkeypatch):
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = re.search(r"## Python API\n\n```python\n(.*?)```", text, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    assert len(namespace["tree"]) == 167_713
    assert (tmp_path / "dscnn.tree").exists()
