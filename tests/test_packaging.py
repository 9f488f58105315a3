"""The package list in pyproject.toml names every package folder: a folder
left out works in the editable checkout and is missing from a real install."""
import pathlib

import pytest

tomllib = pytest.importorskip("tomllib")
ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_every_package_folder_is_installed():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    folders = {package: pathlib.Path(folder) for package, folder in config["package-dir"].items()}
    found = set()
    for package, folder in folders.items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder)
            found.add(".".join((package, *relative.parts)))
    assert found == listed


def test_top_level_ir_and_backends_are_not_installed_as_their_own_names():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert not any(name.split(".")[0] in ("ir", "backends") for name in config["packages"])
