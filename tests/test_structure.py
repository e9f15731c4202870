"""The structure the design promises, checked: one owner of the run directory's files, one
Optuna room, one lowering for counting and writing, registries as the plug-in points."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "entronas"
RUN_DIR_FILES = {"run.json", "study.journal", "arch.json", "resources.json", "model.pt",
                 "deployment.json", "darts.json", "candidates.bin", "metrics.json"}


def _string_constants(path: Path):
    tree = ast.parse(path.read_text())
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = getattr(node, "body", [])
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value,
                                                                     ast.Constant):
                docstrings.add(id(body[0].value))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and id(node) not in docstrings:
            yield node.value


def test_run_directory_file_names_live_in_one_module():
    owner = SRC / "runs" / "rundir.py"
    offenders = []
    for path in SRC.rglob("*.py"):
        if path == owner:
            continue
        for value in _string_constants(path):
            if value in RUN_DIR_FILES or any(value.endswith("/" + f) for f in RUN_DIR_FILES):
                offenders.append(f"{path.relative_to(SRC)}: {value!r}")
    assert not offenders, offenders


def test_optuna_is_imported_in_the_adapters_only():
    offenders = []
    for path in SRC.rglob("*.py"):
        if "adapters" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            if any(n == "optuna" or n.startswith("optuna.") for n in names):
                offenders.append(str(path.relative_to(SRC)))
        if '"optuna"' in path.read_text() and path.name != "_optuna.py":
            offenders.append(f"{path.relative_to(SRC)} (require)")
    assert not offenders, offenders


@pytest.mark.parametrize("name", ["mlp-digits", "dscnn-kws", "mobilenet-vww",
                                  "convmixer-cifar10", "autoencoder-ad"])
def test_the_writer_emits_the_graph_the_cost_model_counts(name):
    """One lowering: the file's operators and activation tensors are the counted ones."""
    pytest.importorskip("tflite_micro")
    from entronas.cost import costs
    from entronas.cost.ram import op_tensors
    from entronas.export.fbinspect import inspect_tflite
    from entronas.export.reference import random_weights
    from entronas.export.report import to_tflite
    from entronas.export.weights import space_ops
    from entronas.space import get_space
    from entronas.space.lowering import lower

    space = get_space(name)
    d = space.depth_min
    widths = [space.grid(d, i)[0] for i in range(d)]
    ops = space_ops(space, widths)
    graph = lower(ops)
    for dtype in ("float32", "int8"):
        info = inspect_tflite(to_tflite(random_weights(ops), space, dtype).data)
        assert info["ops"] == [op.code for op in graph.ops]
        assert len(info["activation_bytes"]) == len(graph.tensors) == \
            len(op_tensors(ops, costs("paper", dtype, ram_model="ops")))


def test_a_registered_strategy_and_evaluator_plug_in_without_other_code(tmp_path):
    """The registries are the plug-in points: a new strategy and a new evaluator run a
    search by name, with no change anywhere else."""
    pytest.importorskip("optuna")
    from entronas.search import SearchConfig, load_run, run_search
    from entronas.search.adapters import STRATEGIES, Strategy
    from entronas.search.adapters.samplers import FeasibleRandomSampler
    from entronas.search.evaluators import EVALUATORS, EvaluatorKind

    STRATEGIES.register("first", Strategy(
        "first", lambda c, p, key, seed: FeasibleRandomSampler(c, key=key, seed=seed)))
    EVALUATORS.register("const", EvaluatorKind(
        "const", lambda record, runtime: (lambda arch, seed: {"score": 0.5}, None)))
    try:
        cfg = SearchConfig(strategy="first", evaluator="const", trials=3,
                           run_dir=str(tmp_path / "r"))
        result = run_search(cfg, progress=False, log=lambda m: None)
        assert result.completed == 3 and load_run(tmp_path / "r").strategy == "first"
    finally:
        STRATEGIES._items.pop("first")
        EVALUATORS._items.pop("const")
