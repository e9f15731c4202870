"""Every bad input of the reliability issue, kept as a regression: one line on stderr, exit 2,
no traceback (an exception escaping ``main`` fails the test), and a finished run next to the
commands byte-identical afterwards, whether or not the command pointed at it."""

from __future__ import annotations

import hashlib
import json

import pytest

from entronas.cli import main

from .conftest import write_full_table

#: (files to write: name -> text; argv with {run}, {table} and {dir}; what the line must say)
SPACE = "[space]\npreset = 'mlp-digits'\n"
CASES = [
    # space files
    ({"s.toml": SPACE + "widths = [16, 1e20]\n"}, ["reduce", "{dir}/s.toml", "--rom", "1MB"],
     "widths has 1e+20"),
    ({"s.toml": SPACE + "widths = [16, inf]\n"}, ["reduce", "{dir}/s.toml", "--rom", "1MB"],
     "widths has inf"),
    ({"s.toml": SPACE + "depth = [1, nan]\n"}, ["reduce", "{dir}/s.toml", "--rom", "1MB"],
     "depth has nan"),
    ({"s.toml": SPACE + "widths = [8.5, 16]\n"}, ["search", "--space", "{dir}/s.toml", "-q"],
     "widths has 8.5"),
    ({"s.toml": SPACE + "input_shape = [64.0]\n"}, ["reduce", "{dir}/s.toml", "--rom", "1MB"],
     "input_shape has 64.0"),
    ({"s.toml": SPACE + "name = 'mine'\nwidths = [8, 16]\n"},
     ["reduce", "{dir}/s.toml", "--rom", "1MB", "--method", "nope"], "method"),
    ({"s.toml": "[space]\npreset = 'dscnn-digits'\n[space.options]\nfirst_stride = [2, 1]\n"},
     ["reduce", "{dir}/s.toml", "--rom", "1MB"], "option first_stride"),
    ({"s.toml": "[space]\npreset = 'dscnn-digits'\n[space.options]\nfirst_kernel = [10, 4, 3]\n"},
     ["reduce", "{dir}/s.toml", "--rom", "1MB"], "option first_kernel"),
    ({"s.json": json.dumps({"space": {"preset": "mlp-digits", "options": [1, 2]}})},
     ["reduce", "{dir}/s.json", "--rom", "1MB"], "options must be a table"),
    ({"s.toml": SPACE + "depth = [1, 1000]\n"}, ["search", "--space", "{dir}/s.toml", "-q"],
     "layer costs"),
    ({"s.toml": SPACE + "widths = { lo = 8, step = 8, count = 1000000000 }\n"},
     ["reduce", "{dir}/s.toml", "--rom", "1MB"], "widths.count has 1000000000"),
    # budgets and settings
    ({}, ["reduce", "mlp-digits", "--rom", "999999999999999999999GB"], "larger than any MCU"),
    ({}, ["search", "--rom", "999999999999999999999GB", "-q"], "larger than any MCU"),
    ({}, ["search", "--seed", "-1", "-q"], "'seed' parameter"),
    ({}, ["search", "--epochs", "0", "-q"], "'epochs' parameter"),
    ({}, ["search", "--n-clusters", "0", "-q"], "--n-clusters"),
    ({}, ["search", "--p", "2", "-q"], "--p"),
    # the finished run itself: other settings are refused, naming them
    ({}, ["search", "--evaluator", "table:{table}", "-k", "4", "-q", "--epochs", "5",
          "--run-dir", "{run}"], "epochs"),
    ({}, ["search", "--evaluator", "table:{table}", "-k", "4", "-q", "--seed", "7",
          "--run-dir", "{run}"], "seed"),
    # table evaluator
    ({"t.csv": "widths,accuracy\n16,nan\n"},
     ["search", "--evaluator", "table:{dir}/t.csv", "-k", "2", "-q", "--run-dir", "{dir}/r"],
     "finite"),
    ({"t.csv": "widths,accuracy\n16,inf\n"},
     ["search", "--evaluator", "table:{dir}/t.csv", "-k", "2", "-q", "--run-dir", "{dir}/r"],
     "finite"),
    ({"t.csv": "widths,accuracy\n16,0.5\n16,0.9\n"},
     ["search", "--evaluator", "table:{dir}/t.csv", "-k", "2", "-q", "--run-dir", "{dir}/r"],
     "appears twice"),
    # files that are not what they claim
    ({"x.tree": "hello"}, ["sample", "{dir}/x.tree"], "magic"),
    ({}, ["sample", "{dir}/missing.tree"], "does not exist"),
    ({}, ["report", "{dir}/no-such-run"], "no-such-run"),
]


def _digest(path):
    return {str(p.relative_to(path)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory, small_prepared):
    d = tmp_path_factory.mktemp("protected")
    table = write_full_table(d / "table.csv", small_prepared)
    rc = main(["search", "--space", "mlp-digits", "--rom", "24KiB", "--ram", "2KiB", "--costs",
               "paper", "--evaluator", f"table:{table}", "-k", "4", "-q", "--run-dir",
               str(d / "run")])
    assert rc == 0
    return d, table


@pytest.mark.parametrize("files, argv, needle", CASES,
                         ids=[f"{i}-{c[1][0]}-{c[2][:20]}" for i, c in enumerate(CASES)])
def test_bad_input_is_one_line_exit_2_and_touches_nothing(tmp_path, capsys, finished_run,
                                                          files, argv, needle):
    protected, table = finished_run
    if "{run}" in " ".join(argv):   # these resume the finished run: use its own settings
        argv = ["--space", "mlp-digits", "--rom", "24KiB", "--ram", "2KiB", "--costs", "paper",
                *argv[1:]]
        argv = ["search", *argv]
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    before = _digest(protected)
    capsys.readouterr()
    rc = main([a.format(run=protected / "run", table=table, dir=tmp_path) for a in argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2, err
    assert len(err) == 1 and needle in err[0], err
    assert "Traceback" not in err[0]
    assert _digest(protected) == before
