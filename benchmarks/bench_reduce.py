"""Reduction benchmark: the paper's four spaces on the small MCU, brute force, tree size, k-means.

Run: ``python benchmarks/bench_reduce.py`` (prints a Markdown table and updates README.md).
Targets (2-core CPU): DS-CNN <= 0.1 s and >= 5x faster than a vectorised brute force;
tree <= 10 kB (paper: 1.2 MB); counting the full ConvMixer space <= 1 s; 100-cluster k-means on
DS-CNN's X^f <= 0.1 s.
"""

from __future__ import annotations

import itertools
import time

import numpy as np
from _readme import machine, write_rows

from entronas.cost import CostOptions
from entronas.proxy import EntropyClusters, tree_entropies
from entronas.reduce import FeasibleTree, reduce_space
from entronas.reduce.tables import build_tables
from entronas.space import get_space
from entronas.targets import get_target

PAPER = {"dscnn-kws": ("167,714", "19 s", "1.2 MB"),
         "convmixer-cifar10": ("17,154", "2.5 min", "44 kB"),
         "autoencoder-ad": ("176,963", "-", "-"), "mobilenet-vww": ("-", "-", "-")}


def best_of(fn, repeat=5):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def brute_force_count(space, target, options) -> int:
    """Scan the whole box with numpy (no pruning), chunked over the first two layers."""
    total = 0
    for depth in space.depths:
        t = build_tables(space, depth, options)
        W = t.sizes
        rest = np.array(list(itertools.product(*[range(w) for w in W[2:]])), dtype=np.int64)
        for a0 in range(W[0]):
            for a1 in range(W[1]):
                n = len(rest)
                idx = np.concatenate([np.full((n, 1), a0), np.full((n, 1), a1), rest], axis=1)
                rom = t.rom[0][0, idx[:, 0]] + t.tail_rom[idx[:, -1]]
                flops = t.flops[0][0, idx[:, 0]] + t.tail_flops[idx[:, -1]]
                even = np.full(n, t.in_bytes)
                odd = t.out[0][idx[:, 0]].copy()
                for k in range(1, depth):
                    rom += t.rom[k][idx[:, k - 1], idx[:, k]]
                    flops += t.flops[k][idx[:, k - 1], idx[:, k]]
                    if (k + 1) % 2 == 0:
                        even = np.maximum(even, t.out[k][idx[:, k]])
                    else:
                        odd = np.maximum(odd, t.out[k][idx[:, k]])
                ok = np.ones(n, bool)
                if target.rom is not None:
                    ok &= rom <= target.rom
                if target.ram is not None:
                    ok &= even + odd <= target.ram
                total += int(ok.sum())
    return total


def traced(fn):
    """(result, peak bytes numpy and Python allocated while ``fn`` ran)."""
    import tracemalloc

    tracemalloc.start()
    try:
        out = fn()
        return out, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _enumerated(space, target, options):
    """The members listed level by level (the builder the DAG builder replaced here)."""
    from entronas.reduce.enumerate import enumerate_depth
    from entronas.reduce.tables import completion

    dags = {d: enumerate_depth(t, completion(t), target, options)
            for d in space.depths for t in [build_tables(space, d, options)]}
    return sum(g.size for g in dags.values() if g is not None)


def _dag_rows(space, options) -> list[str]:
    """dscnn-kws where X^f has millions of members but its DAG ~100 nodes: time and peak
    memory of the reduction (built as its DAG), of enumeration and of the brute force, in one
    run (issue target: <= 0.1 s, <= 100 MB, >= 20x the brute force)."""
    from entronas.targets import Target

    rows = []
    for label, tg in (("ROM 2,000,000 B / RAM 512 KiB", Target("x", 2_000_000, 524_288,
                                                                costs="paper")),
                      ("the full box (ROM 10^12 B, no RAM budget)", Target(
                          "box", 10**12, None, costs="paper"))):
        secs, (f, rep) = best_of(lambda: reduce_space(space, tg, options))
        _, peak = traced(lambda: reduce_space(space, tg, options))
        t_en, n_en = best_of(lambda: _enumerated(space, tg, options), repeat=3)
        _, peak_en = traced(lambda: _enumerated(space, tg, options))
        t_bf, n_bf = best_of(lambda: brute_force_count(space, tg, options), repeat=3)
        assert n_bf == n_en == len(f), (n_bf, n_en, len(f))
        rows.append(f"| reduce `dscnn-kws`, {label}: built as its DAG (min of 5) | "
                    f"{len(f):,} feasible ({rep.method}); {f.n_nodes} nodes; peak "
                    f"{peak / 2**20:.1f} MB | {secs:.3f} s | issue target <= 0.1 s, <= 100 MB; "
                    f"{t_bf / secs:.0f}x the brute force ({t_bf:.2f} s), {t_en / secs:.0f}x "
                    f"enumeration ({t_en:.2f} s, peak {peak_en / 2**20:.0f} MB), same run |")
        print(rows[-1])
    return rows


def _named_rows() -> list[str]:
    """The 7-dimension space file (issue 9): the reduction against scanning the whole box,
    paper (vectorised factor tables) and tflm int8 (estimate() of every member), same run."""
    from entronas.cost import costs, estimate
    from entronas.reduce.dimensions import _bounds, _eq4_ram, factors
    from entronas.targets import Target

    space = get_space("ir7-cifar10")
    dims = space.backbone_impl.structure(space)[0]
    box = np.array(list(itertools.product(*[range(len(d.grid)) for d in dims])), np.int64)
    tg = Target("t", rom=64 * 1024, ram=32 * 1024)
    rows = []
    paper = CostOptions()

    def scan_paper():
        fs = factors(space, paper)
        rom, flops, _ = _bounds(fs, box, len(dims) - 1, paper)
        ram = _eq4_ram(fs, box, paper.input_bytes * int(np.prod(space.input_shape)))
        return int(((rom <= tg.rom) & (ram <= tg.ram)).sum())

    secs, (tree, rep) = best_of(lambda: reduce_space(space, tg, paper))
    t_bf, n_bf = best_of(scan_paper, repeat=3)
    assert n_bf == len(tree), (n_bf, len(tree))
    rows.append(f"| reduce `ir7-cifar10` (7 named dimensions, 4^7 = 16,384), ROM 64 KiB / RAM "
                f"32 KiB, paper float32 (min of 5) | {len(tree):,} feasible; {tree.nbytes:,} B "
                f"tree ({tree.n_nodes} nodes) | {secs:.3f} s | scanning the box with the same "
                f"factor tables {t_bf:.3f} s (min of 3), same run |")
    t8 = costs("tflm", "int8")
    secs8, (tree8, _) = best_of(lambda: reduce_space(space, tg, t8), repeat=3)
    t0 = time.perf_counter()
    n_est = 0
    for row in box:
        c = estimate(space, [d.grid[p] for d, p in zip(dims, row)], t8)
        n_est += tg.fits(c.rom, c.ram, c.flops)
    t_est = time.perf_counter() - t0
    assert n_est == len(tree8), (n_est, len(tree8))
    rows.append(f"| reduce `ir7-cifar10`, ROM 64 KiB / RAM 32 KiB, tflm int8 (every member "
                f"the bound keeps replayed; min of 3) | {len(tree8):,} feasible | "
                f"{secs8:.2f} s | estimate() of all 16,384: {t_est:.1f} s (once), same count |")
    mc, f412 = get_space("mcunet-vww"), get_target("stm32f412")
    secs_mc, (tree_mc, _) = best_of(lambda: reduce_space(mc, f412, t8), repeat=3)
    rows.append(f"| reduce `mcunet-vww` (13 named dimensions, {mc.size():,} networks), "
                f"stm32f412, tflm int8 (every kept member replayed; min of 3) | "
                f"{len(tree_mc):,} feasible; {tree_mc.n_nodes} nodes | {secs_mc:.1f} s | - |")
    # a named-dimension set far too large to list, built as its DAG (counting DP over the
    # frontier), against the chain counting DP on the same MLP written as a chain
    from entronas.space.config import space_from_dict

    widths, depth = list(range(8, 129, 8)), 9
    named = space_from_dict({
        "name": "mlp-named", "input_shape": [64], "num_classes": 10,
        "search": {f"w{i}": widths for i in range(depth)},
        "blocks": [{"block": "dense", "width": f"w{i}"} for i in range(depth)]})
    chain = get_space("mlp-digits", depth_min=depth, depth_max=depth, widths=tuple(widths))
    ram_chain = CostOptions(ram_model="chain")
    tg = Target("t", rom=200_000, ram=1_000)
    secs, (big, rep) = best_of(lambda: reduce_space(named, tg, ram_chain))
    t_dp, (counted, _) = best_of(lambda: reduce_space(chain, tg, ram_chain, method="count"))
    assert big.size == counted.size, (big.size, counted.size)
    rows.append(f"| reduce an MLP of 9 named widths (16 values each, 16^9 = 6.9e10), ROM "
                f"200,000 B / RAM 1,000 B, chain RAM: built as its DAG (min of 5) | "
                f"{big.size:,} feasible ({rep.method}); {big.n_nodes:,} nodes | {secs:.3f} s | "
                f"the chain counting DP on the same MLP: same count in {t_dp:.3f} s |")
    # Eq. 4 with a RAM budget: the relaxed DP plus the exact (even, odd, parity) state in the
    # class key, against the chain DP's partition by the even buffer (an independent count)
    eq4 = CostOptions(ram_model="eq4")
    tg = Target("t", rom=200_000, ram=600)
    secs, (big, rep) = best_of(lambda: reduce_space(named, tg, eq4), repeat=3)
    t_dp, (counted, _) = best_of(lambda: reduce_space(chain, tg, eq4, method="count"))
    assert big.size == counted.size, (big.size, counted.size)
    rows.append(f"| reduce the same MLP, ROM 200,000 B / RAM 600 B, Eq. 4 (binding): built as "
                f"its DAG (min of 3) | {big.size:,} feasible ({rep.method}); {big.n_nodes:,} "
                f"nodes | {secs:.3f} s | the chain counting DP: same count in {t_dp:.3f} s |")
    rows += _conv9_rows()
    for r in rows:
        print(r)
    return rows


def _conv9_rows() -> list[str]:
    """Nine stacked 3x3 convolutions of 8 named widths each (8^9): Eq. 4 with a binding RAM
    budget is built as its DAG (members checked against estimate() on random box points);
    tflm, which looks at whole networks, is refused before it allocates."""
    from entronas.cost import costs, estimate
    from entronas.reduce.count import NotCountableError
    from entronas.space.config import space_from_dict
    from entronas.targets import Target

    widths = [4, 8, 12, 16, 24, 32, 48, 64]
    space = space_from_dict({
        "name": "conv9", "input_shape": [1, 32, 32], "num_classes": 10,
        "search": {f"w{i}": widths for i in range(1, 10)},
        "blocks": [{"block": "conv", "width": f"w{i}", **({"stride": 2} if i in (1, 4, 7)
                                                            else {})} for i in range(1, 10)]})
    paper, tg = CostOptions(), Target("t", rom=1_000_000, ram=16 * 1024)
    secs, (tree, rep) = best_of(lambda: reduce_space(space, tg, paper), repeat=3)
    rng = np.random.default_rng(0)
    box = rng.choice(widths, size=(2000, 9))
    box[:1000] = [list(w) for w in tree.widths_of(rng.integers(0, len(tree), 1000))]
    for w in box.tolist():   # half members, half random box points
        c = estimate(space, w, paper)
        assert (w in tree) == tg.fits(c.rom, c.ram, c.flops), w
    t8 = costs("tflm", "int8")
    t0 = time.perf_counter()
    try:
        reduce_space(space, get_target("stm32f746"), t8)
        refused = "built"
    except NotCountableError:
        refused = "refused in one line"
    t_ref = time.perf_counter() - t0
    return [f"| reduce 9 stacked 3x3 convs of 8 named widths each (8^9 = 134,217,728), ROM "
            f"1,000,000 B / RAM 16 KiB, Eq. 4 (binding): built as its DAG (min of 3) | "
            f"{len(tree):,} feasible ({rep.method}); {tree.n_nodes} nodes | {secs:.3f} s | "
            f"2,000 members / box points against estimate(): all agree; the same space "
            f"under stm32f746 tflm int8 {refused} after {t_ref:.2f} s |"]


def _sample_cli_rows(tree) -> list[str]:
    """The README's `entronas sample cm.tree` as a user runs it: a new process that imports,
    loads the saved DAG, counts its exact entropy distribution and prints (min of 3)."""
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from entronas.reduce.storage import save_feasible

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "cm.tree"
        save_feasible(tree, path)
        for n in (5, 10_000):
            cmd = [sys.executable, "-m", "entronas", "sample", str(path), "-n", str(n), "--json"]
            secs, out = best_of(lambda: subprocess.run(cmd, check=True, capture_output=True),
                                repeat=3)
            assert len(out.stdout.splitlines()) == n
            rows.append(f"| `entronas sample cm.tree -n {n}` on the full ConvMixer X^f, end "
                        f"to end (new process, load the DAG, exact clusters, {n:,} rows with "
                        f"costs) | - | {secs:.2f} s | - |")
    return rows


def _entropy_rows(counted) -> list[str]:
    """Entropy sampling of the counted ConvMixer X^f: exact (its DAG and the distribution of
    Eq. 6 over it) and the pool fallback, in the same run, each from the counted set (cold)."""
    import subprocess
    import sys

    from entronas.proxy import distribution
    from entronas.reduce.dag import counted_as_tree
    from entronas.sampling import Candidates

    def first_sample():
        c = Candidates.build(counted)
        c.policy("entropy", p=0.5).suggest(np.random.default_rng(0))
        return c

    t_dag, tree = best_of(lambda: counted_as_tree(counted), repeat=3)
    t_dist, dist = best_of(lambda: distribution.EntropyDistribution(tree), repeat=3)
    t_fit, _ = best_of(lambda: EntropyClusters(100).fit(dist.h, sample_weight=dist.weights),
                       repeat=3)
    t_exact, cands = best_of(first_sample, repeat=3)
    assert cands.distribution is not None
    data = tree.to_bytes()  # what `entronas reduce -o` writes for this set now

    def first_sample_saved():
        c = Candidates.build(FeasibleTree.from_bytes(data))
        c.policy("entropy", p=0.5).suggest(np.random.default_rng(0))
        return c

    t_saved, _ = best_of(first_sample_saved, repeat=3)
    kept = sum(x.h_val.nbytes + x.h_cnt.nbytes for x in dist.depths.values())
    probe = ("from entronas.reduce import reduce_space; "
             "from entronas.space import get_space; from entronas.targets import get_target; "
             "from entronas.sampling import Candidates; f, _ = reduce_space(get_space("
             "'convmixer-cifar10'), get_target('paper-small')); c = Candidates.build(f); "
             "c.policy('entropy').suggest(0); "  # VmHWM: ru_maxrss keeps the parent's at exec
             "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0])")
    peak = int(subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True,
                              text=True).stdout.split()[-2]) / 1024
    rows = [f"| exact entropy clusters of the counted ConvMixer X^f (all "
            f"{counted.size:,} networks; {dist.n_values:,} distinct entropies, 100 clusters): "
            f"time to the first entropy sample (min of 3) | DAG {tree.n_nodes:,} nodes "
            f"{t_dag:.2f} s, histograms {dist.entries:,} entries ({kept / 2**20:.0f} MB) "
            f"{t_dist:.2f} s, weighted k-means {t_fit:.2f} s; process peak {peak:.0f} MB | "
            f"{t_exact:.2f} s | issue target <= 1 s |",
            f"| the same from the saved tree (`entronas reduce -o`: {len(data):,} B, loaded, "
            f"histograms, k-means, first sample; min of 3) | - | {t_saved:.2f} s | issue "
            f"target <= 1 s |"]
    policy = cands.policy("entropy", p=0.5)
    t_draw, _ = best_of(lambda: policy.draws(np.random.default_rng(0), 10_000))
    rows.append(f"| 10,000 entropy draws without repetition from all of that X^f (exact "
                f"unranking inside a cluster, min of 5) | - | {t_draw:.2f} s | issue target "
                f"<= 1 s |")
    def pooled_first_sample():  # the fallback as a set without a DAG reaches it
        c = Candidates._pooled(counted, 100, "network", 200_000, 0, None, {})
        c.policy("entropy", p=0.5).suggest(np.random.default_rng(0))
        return c

    t_pool, pooled = best_of(pooled_first_sample, repeat=3)
    assert pooled.distribution is None
    rows.append(f"| the fallback where no distribution fits (e.g. counts above int64): clusters "
                f"of a uniform pool of {pooled.n_candidates:,}, time to the first entropy "
                f"sample (min of 3) | estimated cluster edges | {t_pool:.2f} s | - |")
    pol = pooled.policy("entropy", p=0.5)
    t_pd, _ = best_of(lambda: pol.draws(np.random.default_rng(0), 10_000))
    rows.append(f"| 10,000 entropy draws without repetition from that pool | - | "
                f"{t_pd:.2f} s | - |")
    return rows


def main() -> None:
    target = get_target("paper-small")
    options = CostOptions()  # the paper convention, as the paper counts
    rows = []
    for name in ("dscnn-kws", "convmixer-cifar10", "autoencoder-ad", "mobilenet-vww"):
        space = get_space(name)
        secs, (feasible, rep) = best_of(lambda: reduce_space(space, target, options))
        size = f"{feasible.nbytes:,} B tree" if isinstance(feasible, FeasibleTree) else \
            "counted (not listed)"
        p = PAPER[name]
        rows.append(f"| reduce `{name}`, paper-small | {len(feasible):,} feasible ({rep.method}); "
                    f"{size} | {secs:.3f} s | paper: {p[0]} in {p[1]}, {p[2]} |")
        print(rows[-1])
    space = get_space("dscnn-kws")
    t_bf, n_bf = best_of(lambda: brute_force_count(space, target, options), repeat=3)
    t_red, (tree, _) = best_of(lambda: reduce_space(space, target, options))
    assert n_bf == len(tree), (n_bf, len(tree))
    flat = sum(tree.count(d) * d * 4 for d in tree.depths)
    rows.append(f"| DS-CNN: vectorised numpy brute force over all 19,136,512 | same count "
                f"{n_bf:,} | {t_bf:.2f} s | reduction is {t_bf / t_red:.0f}x faster |")
    rows.extend(_dag_rows(space, options))
    rows.append(f"| DS-CNN X^f storage | tree {tree.nbytes:,} B ({tree.n_nodes} nodes) vs flat "
                f"int32 list {flat:,} B | - | paper: 1.2 MB tree, 5 MB list |")
    h = tree_entropies(tree)
    t_km, km = best_of(lambda: EntropyClusters(100).fit(h))
    rows.append(f"| exact 1-D k-means, 100 clusters on DS-CNN X^f ({len(h):,} values, "
                f"{len(np.unique(h)):,} distinct) | {km.n_clusters_} clusters | {t_km:.3f} s | "
                f"target <= 0.1 s |")
    t_ent, _ = best_of(lambda: tree_entropies(tree))
    rows.append(f"| entropies (Eq. 6) of all DS-CNN X^f | {len(h):,} values | {t_ent:.3f} s | - |")
    cm = get_space("convmixer-cifar10")
    t_cnt, (counted, _) = best_of(lambda: reduce_space(cm, target, options, method="count"))
    rows.append(f"| count the full ConvMixer X^f exactly (L 8..16) | {len(counted):,} | "
                f"{t_cnt:.3f} s | target <= 1 s |")
    deep = {"MLP, L = 24, 32 widths 8..256": get_space(
                "mlp-digits", depth_min=24, depth_max=24, widths=tuple(range(8, 257, 8))),
            "DS-CNN, L = 16, 8 widths 64..288": get_space(
                "dscnn-kws", depth_min=16, depth_max=16, widths=tuple(range(64, 289, 32)))}
    for label, sp in deep.items():
        t_deep, (f, _) = best_of(lambda: reduce_space(sp, target, options, method="count"),
                                 repeat=3)
        how = "counts above 2^62: modulo primes, CRT" if f.big else "int64"
        rows.append(f"| count {label} exactly ({how}) | {f.size:,} | {t_deep:.3f} s | "
                    "issue target <= 1 s |")
    t_smp, _ = best_of(lambda: counted.widths_of(counted.sample(1000, seed=0)), repeat=1)
    rows.append(f"| 1,000 uniform ConvMixer X^f samples (exact unrank, cold tables) | - | "
                f"{t_smp:.2f} s | - |")
    rows.extend(_entropy_rows(counted))
    rows.extend(_sample_cli_rows(reduce_space(cm, target, options)[0]))
    # the deployed convention: exact under TFLM's planner (lower bound, window bound, replay)
    import entronas.reduce.enumerate as enum

    replayed = [0]
    real = enum.greedy_plan_batch

    def counting(sizes, life):
        replayed[0] += len(sizes)
        return real(sizes, life)

    enum.greedy_plan_batch = counting
    for name, tname, dtype in (("dscnn-kws", "stm32f412", "float32"),
                               ("autoencoder-ad", "stm32f412", "int8"),
                               ("mlp-digits", "stm32g071", "float32")):
        from entronas.cost import costs

        sp, tg = get_space(name), get_target(tname)
        replayed[0] = 0
        reduce_space(sp, tg, costs("tflm", dtype))
        n_replayed = replayed[0]
        secs, (f, rep) = best_of(lambda: reduce_space(sp, tg, costs("tflm", dtype)), repeat=3)
        rows.append(f"| reduce `{name}`, {tname}, tflm {dtype} (exact under TFLM's planner) | "
                    f"{len(f):,} feasible; {n_replayed:,} replayed | {secs:.3f} s | - |")
    enum.greedy_plan_batch = real
    rows.extend(_named_rows())
    for r in rows[-8:]:
        print(r)
    write_rows("reduce", [f"| *machine: {machine()}* | | | |"] + rows)


if __name__ == "__main__":
    main()
