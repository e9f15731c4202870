"""The paper's exact figures (Fig. 3, Sec. IV-1/3, Table I ROMs)."""

from entronas.cost import CostOptions, estimate
from entronas.reduce import reduce_space
from entronas.space import get_space
from entronas.targets import Target, get_target


def test_fig3_running_example_has_the_14_configurations():
    tree, report = reduce_space(get_space("mlp-example"), Target("fig3", 10_240, 448,
        costs="paper"))
    expected = ([(16, m) for m in range(16, 97, 16)] + [(32, m) for m in range(16, 65, 16)]
                + [(48, 16), (48, 32), (64, 16), (80, 16)])
    assert [a.widths for a in tree] == expected
    assert report.depths[0].m_red == (80, 96)


def test_dscnn_kws_reduction_counts_and_reduced_bounds():
    space = get_space("dscnn-kws")
    tree, report = reduce_space(space, Target("small", 1_000_000, 262_144, costs="paper"))
    assert report.size == 19_136_512 == space.size()
    assert [d.feasible for d in report.depths] == [4_160, 33_268, 130_285]
    assert len(tree) == 167_713
    assert report.depths[-1].m_red == (112, 168, 280, 168, 280, 168, 280, 168)


def test_paper_small_target_preset_is_the_paper_budget():
    tree, _ = reduce_space(get_space("dscnn-kws"), get_target("paper-small"))
    assert len(tree) == 167_713


def test_autoencoder_count():
    tree, report = reduce_space(get_space("autoencoder-ad"), Target("rom-only", 1_000_000, None,
        costs="paper"))
    assert len(tree) == 155_787
    assert report.size == get_space("autoencoder-ad").size()


def test_micronet_reference_roms_no_bias():
    s = get_space("dscnn-kws")
    assert estimate(s, (84, 112, 84, 84, 84, 196), CostOptions()).rom == 236_544
    big = s.with_options(widths=tuple(range(4, 300, 4)), depth_max=8)
    widths = (276, 248, 276, 276, 248, 248, 248, 248)
    assert estimate(big, widths, CostOptions()).rom == 1_985_712


def test_micronet_s_ram_and_flops_by_hand():
    """Eq. 4 and Eq. 5 worked out by hand for conv 84 + DS 112,84,84,84,196 (first stride 1)."""
    c = estimate(get_space("dscnn-kws"), (84, 112, 84, 84, 84, 196))
    even = max(49 * 10, 125 * 112, 125 * 84, 125 * 196)        # input, l2, l4, l6
    odd = max(490 * 84, 125 * 84, 125 * 84)                     # l1, l3, l5
    assert c.ram == 4 * (even + odd) == 262_640
    macs = (490 * 84 * 40                                        # conv 10x4
            + 125 * 84 * 9 + 125 * 84 * 112                      # ds2 (stride 2)
            + 125 * 112 * 9 + 125 * 112 * 84
            + 2 * (125 * 84 * 9 + 125 * 84 * 84)
            + 125 * 84 * 9 + 125 * 84 * 196
            + 196 * 12)                                          # classifier
    assert c.flops == 2 * macs
