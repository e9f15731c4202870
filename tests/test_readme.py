"""The README runs as written: its Python API block, and every `entronas` command line.

Commands run in README order in one scratch directory (later ones use what earlier ones
wrote); ``<run>`` stands for the run directory the default search made. A command whose
comment says it needs a data set that is not here must fail with one line that says how to get
it. Only templates with "..." are not run.
"""

import glob
import re
import shlex
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_api_block_runs(tmp_path, monkeypatch):
    text = README.read_text()
    block = re.search(r"## Python API\n\n```python\n(.*?)```", text, re.S).group(1)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    assert len(namespace["tree"]) == 167_713
    assert (tmp_path / "dscnn.tree").exists()


def _commands() -> list[tuple[str, str]]:
    out = []
    for block in re.findall(r"```bash\n(.*?)```", README.read_text(), re.S):
        for line in block.splitlines():
            if line.startswith("entronas "):
                cmd, _, comment = line.partition("#")
                out.append((cmd.strip(), comment.strip()))
    return out


def test_every_readme_command_runs(tmp_path, monkeypatch, capsys):
    pytest.importorskip("torch")
    pytest.importorskip("optuna")
    pytest.importorskip("tflite_micro")
    from entronas.cli import main
    from entronas.reduce import reduce_space
    from entronas.search.table import write_table
    from entronas.space.config import load_space_file
    from entronas.cost import costs

    import shutil

    shutil.copytree(README.parent / "experiments", tmp_path / "experiments")  # as in the repo
    shutil.copytree(README.parent / "benchmarks" / "tables", tmp_path / "benchmarks" / "tables")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ENTRONAS_DATA", str(tmp_path / "no-data"))
    text = README.read_text()
    space_file = re.search(r"A space file \(TOML, YAML or JSON\):\n\n```toml\n(.*?)```", text,
                           re.S).group(1)
    (tmp_path / "my_space.toml").write_text(space_file)
    ir7 = re.search(r"inverted-residual space of 7 dimensions.*?```toml\n(.*?)```", text,
                    re.S).group(1)
    (tmp_path / "ir7.toml").write_text(ir7)   # the named-dimensions example file
    space, target = load_space_file(tmp_path / "my_space.toml")
    tree, _ = reduce_space(space, target, costs("tflm", "int8"))
    write_table(tmp_path / "results.csv",
                [(a.widths, {"accuracy": 0.5 + sum(a.widths) / 1e4}) for a in tree])
    ran, run_dir = [], None
    for cmd, comment in _commands():
        if "..." in cmd or cmd.startswith("entronas download"):
            continue  # a template, or a download from the internet
        if "<run>" in cmd:
            assert run_dir is not None, f"{cmd!r} needs a run made earlier in the README"
            cmd = cmd.replace("runs/<run>/", run_dir)
        argv = []
        for token in shlex.split(cmd)[1:]:
            argv += sorted(glob.glob(token)) if "*" in token else [token]
        rc = main(argv)
        out = capsys.readouterr()
        if "needs the" in comment and "data set" in comment:
            err = out.err.strip().splitlines()
            assert rc == 2 and len(err) == 1 and "download" in err[0], (cmd, out.err)
        else:
            assert rc == 0, (cmd, out.err[-800:])
        if cmd == "entronas search":
            run_dir = str(next((tmp_path / "runs").iterdir())) + "/"
        ran.append(cmd)
    assert len(ran) >= 25, ran
