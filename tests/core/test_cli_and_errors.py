"""CLI commands and one-line errors with exit code 2."""

import json

import re

import pytest

from entronas.cli import main
from entronas.reduce import FeasibleTree


def run(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_reduce_and_sample_round_trip(tmp_path, capsys):
    tree_file = tmp_path / "d.tree"
    rc, out, _ = run(capsys, "reduce", "dscnn-kws", "--rom", "1000000", "--ram", "262144",
                     "--costs", "paper", "--out", str(tree_file))
    assert rc == 0 and "167,713" in out and "costs paper float32 (Eq. 4)" in out and "112,168,280,168,280,168,280,168" in out
    tree = FeasibleTree.load(tree_file)
    assert len(tree) == 167_713 and tree_file.stat().st_size < 10_000
    rc, out, _ = run(capsys, "sample", str(tree_file), "-n", "5", "--json", "--seed", "3")
    rows = [json.loads(line) for line in out.splitlines()]
    assert rc == 0 and len(rows) == 5 and len({tuple(r["widths"]) for r in rows}) == 5
    assert all(r["rom"] <= 1_000_000 and r["ram"] <= 262_144 for r in rows)
    rc2, out2, _ = run(capsys, "sample", str(tree_file), "-n", "5", "--json", "--seed", "3")
    assert out2 == out


def test_listing_commands(capsys):
    assert run(capsys, "spaces")[0] == 0
    rc, out, _ = run(capsys, "targets")
    assert rc == 0 and "stm32f412" in out and "stm32h743" in out


def test_references_lists_published_counts_and_deployed_size(capsys):
    from entronas.cost import costs, estimate
    from entronas.space.references import get_reference, list_references

    rc, out, _ = run(capsys, "references", "--dtype", "int8")
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert rc == 0 and sorted(rows) == sorted(list_references())
    assert rows["mlperf-dscnn"][2:4] == ["22,604", "2,656,768"]  # datasets.md 1.7
    space, arch = get_reference("micronet-kws-s")
    dep = estimate(space, arch, costs("tflm", "int8"))
    assert rows["micronet-kws-s"][4:7] == [f"{dep.rom:,}", f"{dep.ram:,}", arch.key()]


def test_space_file_toml_and_yaml(tmp_path, capsys):
    f = tmp_path / "s.toml"
    f.write_text('[space]\nname = "mine"\nbackbone = "mlp"\ndepth = [2, 2]\n'
                 'widths = { lo = 16, step = 16, count = 8 }\ninput_shape = [16]\n'
                 '[target]\nrom = 10240\nram = "448B"\n')
    rc, out, _ = run(capsys, "reduce", str(f), "--costs", "paper")
    assert rc == 0 and "total |X^f| = 14 " in out
    y = tmp_path / "s.yaml"
    y.write_text("space:\n  preset: dscnn-kws\n  depth: [6, 6]\n")
    rc, out, _ = run(capsys, "reduce", str(y), "-t", "paper-small")
    assert rc == 0 and "4,160" in out
    named = tmp_path / "named.toml"  # a preset under a name of its own
    named.write_text('[space]\npreset = "mlp-digits"\nname = "mlp-mine"\ndepth = [1, 2]\n')
    from entronas.space.config import load_space_file

    assert load_space_file(named)[0].name == "mlp-mine"
    rc, out, _ = run(capsys, "reduce", str(named), "--rom", "1MiB", "--ram", "1MiB")
    assert rc == 0 and "mlp-mine" in out


@pytest.mark.parametrize("argv, needle", [
    (["reduce", "dscnn-kwz", "-t", "stm32f412"], "did you mean 'dscnn-kws'"),
    (["reduce", "dscnn-kws", "-t", "stm32f41"], "did you mean 'stm32f412'"),
    (["reduce", "dscnn-kws", "--rom", "0"], "must be positive"),
    (["reduce", "dscnn-kws", "--rom", "-5"], "cannot read rom budget"),
    (["reduce", "dscnn-kws", "--ram", "lots"], "cannot read ram budget"),
    (["reduce", "dscnn-kws"], "no budget given"),
    (["reduce", "dscnn-kws", "-t", "stm32f412", "--ram", "10KiB"], "leaves nothing for the network after the reserve 16 KiB"),
    (["reduce", "dscnn-kws", "-t", "stm32f412", "--ram", "20KiB"], "needs RAM"),
    (["reduce", "dscnn-kws", "-t", "stm32f412", "--ram-model", "ops"], "belongs to the paper"),
    (["reduce", "dscnn-kws", "-t", "stm32f412", "--rom", "999999999999999999999GB"],
     "larger than any MCU"),
    (["reduce", "convmixer-cifar10", "-t", "stm32f412"], "no kernel for"),
    (["estimate", "dscnn-kws", "-a", "84,100"], "allows 6..8"),
    (["estimate", "dscnn-kws", "-a", "84,100,84,84,84,84"], "width 100 of layer 2 is not in space"),
])
def test_bad_input_one_line_exit_2(capsys, argv, needle):
    rc, out, err = run(capsys, *argv)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], err


@pytest.mark.parametrize("content, needle", [
    ("[space]\nname = 'x'\n", "missing key"),
    ("[space]\nname = 'x'\nbackbone = 'mlp'\ndepth = [3, 2]\nwidths = [8]\ninput_shape = [4]\n",
     "depth range [3, 2] is empty"),
    ("[space]\nname = 'x'\nbackbone = 'mlp'\ndepth = [1, 2]\nwidths = [16, 8]\n"
     "input_shape = [4]\n", "ascending"),
    ("[space]\nname = 'x'\nbackbone = 'mlpp'\ndepth = [1, 2]\nwidths = [8]\ninput_shape = [4]\n",
     "did you mean 'mlp'"),
    ("[space]\nwidthz = 3\n", "unknown key"),
    ("[space\n", "not valid TOML"),
    ("[space]\npreset = 'dscnn-kws'\nwidths = { lo = 0, step = 1, count = 2 }\n",
     "widths.lo has 0"),
    ("[space]\npreset = 'mlp-digits'\nname = 5\n", "name must be a non-empty string"),
    # numbers that are not whole: refused, never cast (1e20 once overflowed in reduce/tables.py)
    ("[space]\npreset = 'mlp-digits'\nwidths = [16, 1e20]\n", "widths has 1e+20"),
    ("[space]\npreset = 'mlp-digits'\nwidths = [16, inf]\n", "widths has inf"),
    ("[space]\npreset = 'mlp-digits'\nwidths = [16, nan]\n", "widths has nan"),
    ("[space]\npreset = 'mlp-digits'\nwidths = [16.5, 32]\n", "widths has 16.5"),
    ("[space]\npreset = 'mlp-digits'\ninput_shape = [64.0]\n", "input_shape has 64.0"),
    ("[space]\npreset = 'mlp-digits'\nwidths = 16\n", "non-empty list"),
    # options: one check of name and shape for every backbone
    ("[space]\npreset = 'dscnn-digits'\n[space.options]\nfirst_stride = [2, 1]\n",
     "option first_stride is (2, 1); it must be a positive int"),
    ("[space]\npreset = 'dscnn-digits'\n[space.options]\nfirst_kernel = [10, 4, 3]\n",
     "option first_kernel is (10, 4, 3); it must be two positive ints"),
    ("[space]\npreset = 'dscnn-digits'\n[space.options]\nfirst_kernal = [3, 3]\n",
     "has no option 'first_kernal'"),
    ("[space]\npreset = 'mlp-digits'\noptions = [1, 2]\n", "options must be a table"),
    # oversized work: refused before it starts, naming the size
    ("[space]\npreset = 'mlp-digits'\ndepth = [1, 1000]\n", "needs 127,888,000 layer costs"),
    ("[space]\npreset = 'mlp-digits'\ndepth = [1, 5000]\n", "depth has 5000"),
    ("[space]\npreset = 'mlp-digits'\nwidths = { lo = 8, step = 8, count = 1000000000 }\n",
     "widths.count has 1000000000"),
])
def test_malformed_space_files(tmp_path, capsys, content, needle):
    f = tmp_path / "bad.toml"
    f.write_text(content)
    rc, _, err = run(capsys, "reduce", str(f), "--rom", "1MB")
    assert rc == 2 and len(err.strip().splitlines()) == 1 and needle in err, err


def test_corrupt_and_foreign_tree_files(tmp_path, capsys):
    good = tmp_path / "g.tree"
    run(capsys, "reduce", "mlp-example", "--rom", "10240", "--ram", "448", "--costs", "paper",
        "--out", str(good))
    data = bytearray(good.read_bytes())
    data[40] ^= 0xFF
    bad = tmp_path / "b.tree"
    bad.write_bytes(bytes(data))
    rc, _, err = run(capsys, "sample", str(bad))
    assert rc == 2 and "checksum" in err
    foreign = tmp_path / "f.tree"
    foreign.write_text("hello")
    rc, _, err = run(capsys, "sample", str(foreign))
    assert rc == 2 and "magic" in err
    truncated = tmp_path / "t.tree"
    truncated.write_bytes(good.read_bytes()[:-10])
    rc, _, err = run(capsys, "sample", str(truncated))
    assert rc == 2 and "checksum" in err
    rc, _, err = run(capsys, "sample", str(tmp_path / "missing.tree"))
    assert rc == 2 and "does not exist" in err


def test_a_zlib_bomb_tree_file_is_refused_without_inflating_it(tmp_path, capsys):
    import hashlib
    import json
    import resource
    import struct
    import zlib

    from entronas.reduce.tree import MAGIC, VERSION

    head = json.dumps({"arrays": [["<u1", 16]], "kind": "tree"}).encode()
    co = zlib.compressobj(9)
    payload = co.compress(struct.pack("<I", len(head)) + head)
    zeros = bytes(1 << 20)
    payload += b"".join(co.compress(zeros) for _ in range(1024)) + co.flush()  # 1 MiB -> 1 GiB
    bomb = tmp_path / "bomb.tree"
    bomb.write_bytes(MAGIC + struct.pack("<HQ", VERSION, len(payload)) + payload
                     + hashlib.sha256(payload).digest())
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    rc, _, err = run(capsys, "sample", str(bomb))
    assert rc == 2 and "holds more than its header declares" in err
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 200, f"peak memory grew by {grown_mb:.0f} MB"


def test_a_search_with_a_bad_space_writes_nothing(tmp_path, capsys):
    f = tmp_path / "deep.toml"
    f.write_text("[space]\npreset = 'mlp-digits'\ndepth = [1, 1000]\n")
    rc, _, err = run(capsys, "search", "--space", str(f), "-q", "--run-dir",
                     str(tmp_path / "run"))
    assert rc == 2 and "layer costs" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "run").exists()


def test_huge_set_saves_its_dag_or_its_definition_and_samples(tmp_path, capsys):
    f, g = tmp_path / "c.tree", tmp_path / "d.tree"
    rc, out, _ = run(capsys, "reduce", "convmixer-cifar10", "-t", "paper-small", "--out", str(f))
    assert rc == 0 and "479,262,389,848" in out and "27,933 nodes" in out
    rc, out, _ = run(capsys, "reduce", "convmixer-cifar10", "-t", "paper-small", "--out", str(g),
                     "--method", "count")
    assert rc == 0 and "re-counted exactly" in out and g.stat().st_size < 2000
    for path, said in ((f, "over its DAG ..."), (g, "counted, not listed: built first")):
        rc, out, err = run(capsys, "sample", str(path), "-n", "3", "--json", "--clusters", "10")
        rows = [json.loads(line) for line in out.splitlines()]
        assert rc == 0, err
        assert "too many to list" in err and said in err   # said before the wait
        assert len(rows) == 3 and all(r["rom"] <= 1_000_000 and r["ram"] <= 262_144
                                      for r in rows)
    from entronas.reduce import CountedSpace, load_feasible

    counted = load_feasible(g)
    assert isinstance(counted, CountedSpace) and len(counted) == 479_262_389_848
    assert FeasibleTree.load(f).size == 479_262_389_848
    with pytest.raises(Exception, match="not a tree"):
        FeasibleTree.load(g)


def test_sample_clusters_flag_is_the_one_its_error_names(tmp_path, capsys):
    """`sample` takes --n-clusters (as `search` does; --clusters stays an alias), so the
    k-means check's message, which names --n-clusters, names a flag the command has."""
    f = tmp_path / "e.tree"
    assert run(capsys, "reduce", "mlp-example", "-t", "stm32g071", "--out", str(f))[0] == 0
    rc, _, err = run(capsys, "sample", str(f), "--n-clusters", "0")
    assert rc == 2 and "--n-clusters" in err and len(err.strip().splitlines()) == 1
    for flag in ("--n-clusters", "--clusters"):
        rc, out, err = run(capsys, "sample", str(f), "-n", "2", "--json", flag, "3")
        assert rc == 0, err
        assert len(out.splitlines()) == 2


def test_cost_conventions_from_the_cli(capsys):
    """paper and tflm count the same budgets differently; every line names its convention."""
    demo = ["reduce", "mlp-digits", "-t", "stm32g071", "--rom", "24KiB", "--ram", "640B",
            "--rom-reserve", "0", "--ram-reserve", "0"]
    rc, plain, _ = run(capsys, *demo, "--costs", "paper")
    assert rc == 0 and "total |X^f| = 633 " in plain and "paper float32" in plain
    rc, _, err = run(capsys, *demo)  # the chip's default is tflm: 640 B is below TFLM's arena
    assert rc == 2 and "tflm float32" in err and re.search(r"needs RAM [\d,]+ B > 640 B", err)
    rc, tflm, _ = run(capsys, "reduce", "mlp-digits", "-t", "stm32g071", "--rom", "48KiB",
                      "--ram", "2304B", "--rom-reserve", "0", "--ram-reserve", "0",
                      "--tflm")  # the old flag spells --costs tflm
    assert rc == 0 and "tflm float32" in tflm and "total |X^f| = 189 " in tflm
    rc, out, _ = run(capsys, "estimate", "dscnn-kws", "-a", "84,112,84,84,84,196",
                     "--costs", "tflm", "--dtype", "int8", "-t", "stm32f412")
    assert rc == 0 and "counted as tflm int8" in out and "FITS stm32f412" in out
    rc, out, _ = run(capsys, "estimate", "dscnn-kws", "-a", "84,112,84,84,84,196",
                     "--costs", "paper")
    assert rc == 0 and "ROM 236,544 B" in out and "paper float32" in out


def test_datasets_lists_what_is_installed(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ENTRONAS_DATA", str(tmp_path))
    (tmp_path / "kws" / "raw").mkdir(parents=True)
    (tmp_path / "kws" / ".complete").write_text("{}")
    rc, out, _ = run(capsys, "datasets")
    lines = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert rc == 0 and "installed" in lines["kws"] and "missing" in lines["cifar10"]
    assert "bundled" in lines["digits"]
    rc, out, _ = run(capsys, "datasets", "--json")
    rows = {r["name"]: r for r in json.loads(out)["datasets"]}
    assert rows["kws"]["status"] == "installed" and rows["digits"]["status"] == "bundled"
    assert rows["cifar10"]["download_command"] == "entronas download cifar10"
