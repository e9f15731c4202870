"""The DAG builder (reduce/dag.py) builds, node for node, the DAG that enumeration builds."""

import numpy as np
import pytest
from hypothesis import given

from entronas.cost import CostOptions
from entronas.reduce import reduce_space
from entronas.reduce.count import NotCountableError, choose_axis
from entronas.reduce.dag import build_dag, dag_applies
from entronas.reduce.enumerate import enumerate_depth
from entronas.reduce.reduce import _net_budgets
from entronas.reduce.tables import build_tables, completion
from entronas.space import get_space
from entronas.targets import Target, get_target

from .test_reduce_bruteforce import SETTINGS, small_problems

BUILT = {"dag": 0, "other": 0}


def same_dag(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return all(len(x) == len(y) and all(np.array_equal(u, v) for u, v in zip(x, y))
               for x, y in ((a.cnt, b.cnt), (a.pos, b.pos), (a.child, b.child)))


@SETTINGS
@given(small_problems())
def test_dag_equals_enumeration_node_for_node(problem):
    space, target, options = problem
    net = _net_budgets(target, options)
    tables = {d: build_tables(space, d, options) for d in space.depths}
    try:
        axis = choose_axis(list(tables.values()), net)
    except NotCountableError:  # two binding budgets: the reduction enumerates instead
        BUILT["other"] += 1
        return
    for t in tables.values():
        if not dag_applies(t, axis):
            BUILT["other"] += 1
            continue
        comp = completion(t)
        BUILT["dag"] += 1
        assert same_dag(build_dag(t, comp, net, options, axis),
                        enumerate_depth(t, comp, net, options))


def test_the_property_test_built_dags():
    """The property test above is not vacuous: many of its depths took the DAG path (the
    others have two binding budgets, which the reduction enumerates)."""
    if not BUILT["dag"] + BUILT["other"]:
        pytest.skip("run together with test_dag_equals_enumeration_node_for_node")
    assert BUILT["dag"] >= 10


@pytest.mark.parametrize("target", [Target("x", rom=2_000_000, ram=524_288, costs="paper"),
                                    Target("box", rom=10**9, ram=None, costs="paper"),
                                    Target("small", rom=1_000_000, ram=262_144, costs="paper")])
def test_dag_work_follows_the_dag_not_the_members(target):
    """dscnn-kws keeps millions of feasible prefixes per level (enumeration needs more than
    10,000 cells a level) but only hundreds of classes of them: the DAG builder fits in 10,000."""
    space, options = get_space("dscnn-kws"), CostOptions()
    t = build_tables(space, 8, options)
    comp = completion(t)
    axis = choose_axis([t], target)
    assert dag_applies(t, axis)
    dag = build_dag(t, comp, target, options, axis, max_cells=10_000)
    with pytest.raises(MemoryError):
        enumerate_depth(t, comp, target, options, max_cells=10_000)
    ref = enumerate_depth(t, comp, target, options)
    assert same_dag(dag, ref) and dag.size == ref.size > 100_000


def test_reduce_reports_how_the_tree_was_made():
    space = get_space("dscnn-kws")
    _, rep = reduce_space(space, Target("x", rom=2_000_000, ram=524_288, costs="paper"),
                          CostOptions())
    assert rep.method == "dag" and rep.feasible == 12_127_917
    # tflm: the exact planner replay looks at whole networks, so the members are listed
    tree, rep = reduce_space(get_space("mlp-digits"), get_target("stm32g071"))
    assert rep.method == "enumerate" and len(tree) > 0
