"""Every built-in preset is a space file read by the users' loader (one mechanism), and
`entronas spaces --show` prints it so a user can start from it."""

from __future__ import annotations

import pytest

from entronas._core.errors import InvalidSpaceError
from entronas.cli import main
from entronas.space import DESCRIPTIONS, get_space, list_spaces, register_space
from entronas.space.config import load_space_file, resolve_space
from entronas.space.presets import PRESET_DIR, SPACES, preset_file

SHIPPED = sorted(e.name[:-5] for e in PRESET_DIR.iterdir() if e.name.endswith(".toml"))


def test_the_registry_is_the_preset_directory():
    """No preset is written in Python: every registered built-in has a file of its name."""
    assert SHIPPED and set(SHIPPED) == set(list_spaces())
    for name in SHIPPED:
        path = preset_file(name)
        assert path is not None and path.name == f"{name}.toml"


@pytest.mark.parametrize("name", SHIPPED)
def test_a_preset_file_is_a_user_space_file(name):
    """Loading the shipped file as a user's ``--space FILE`` gives the preset exactly (same
    fingerprint, so runs and trees made under either name are interchangeable); its
    description is one line, shown by `entronas spaces`."""
    path = preset_file(name)
    space, target = load_space_file(path)
    assert target is None and space.name == name
    assert space == get_space(name) and space.fingerprint() == get_space(name).fingerprint()
    assert resolve_space(str(path))[0] == get_space(name)
    desc = DESCRIPTIONS[name]
    assert desc and "\n" not in desc and desc in path.read_text()


def test_overrides_of_a_preset_file():
    """Field and option overrides apply on top of the file (deep variants used by benchmarks)."""
    deep = get_space("mlp-digits", depth_min=18, depth_max=18)
    assert (deep.depth_min, deep.depth_max) == (18, 18)
    assert deep.widths == get_space("mlp-digits").widths
    strided = get_space("dscnn-kws", options={"first_stride": 2})
    assert dict(strided.options)["first_stride"] == 2 and get_space("dscnn-kws").options == ()


def test_spaces_show_prints_a_file_that_loads_as_the_preset(tmp_path, capsys):
    assert main(["spaces", "--show", "resnet8-cifar10"]) == 0
    text = capsys.readouterr().out
    (tmp_path / "mine.toml").write_text(text)
    assert load_space_file(tmp_path / "mine.toml")[0] == get_space("resnet8-cifar10")
    assert main(["spaces", "--show", "resnet8-cifar1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "did you mean 'resnet8-cifar10'" in err[0]


def test_spaces_show_of_a_python_plugin(capsys, monkeypatch):
    monkeypatch.setattr(SPACES, "_items", dict(SPACES._items))
    monkeypatch.setattr("entronas.space.presets.DESCRIPTIONS", dict(DESCRIPTIONS))
    register_space("plugin-mlp", "a plug-in")(lambda **kw: get_space("mlp-digits", **kw))
    assert main(["spaces", "--show", "plugin-mlp"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "registered in Python" in err[0]


@pytest.mark.parametrize("value", [3, "two\nlines"])
def test_a_bad_description_is_one_line_naming_it(tmp_path, value):
    import json

    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"space": {"preset": "mlp-digits", "description": value}}))
    with pytest.raises(InvalidSpaceError, match="description must be one line of text") as e:
        load_space_file(path)
    assert "\n" not in str(e.value)
