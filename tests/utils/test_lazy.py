"""Package front doors: every exported name is its module's object, and importing a door imports no module."""

import importlib
import json
import subprocess
import sys

import pytest

from colliderflow.utils.lazy import lazy_exports

PACKAGES = ("generate", "simulate", "target", "dataset", "pf", "mlpf", "physics", "evaluate", "nano", "flashsim",
            "utils", "schema")


@pytest.mark.parametrize("package", PACKAGES)
def test_front_door_exports_its_modules_objects(package):
    if package in ("mlpf", "flashsim"):
        pytest.importorskip("torch")
    door = importlib.import_module(f"colliderflow.{package}")
    assert door.__all__ and set(door.__all__) <= set(dir(door))
    for name in door.__all__:
        value = getattr(door, name)
        homes = [m for n, m in sys.modules.items() if n.startswith(f"{door.__name__}.") and getattr(m, name, None) is value]
        assert homes, f"{door.__name__}.{name} is no module's {name}"
    with pytest.raises(AttributeError, match="no attribute"):
        getattr(door, "no_such_name")


def test_front_doors_import_no_module():
    """Importing every front door loads none of their modules, torch or pyarrow (a subprocess: a fresh interpreter)."""
    code = ("import sys\n"
            f"for p in {PACKAGES!r}: __import__('colliderflow.' + p)\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.startswith('colliderflow') or m in ('torch', 'pyarrow'))))")
    loaded = subprocess.run([sys.executable, "-c", "import json\n" + code], capture_output=True, text=True, check=True)
    assert json.loads(loaded.stdout) == sorted(["colliderflow", "colliderflow.utils.lazy",
                                                *(f"colliderflow.{p}" for p in PACKAGES)])


def test_submodule_stays_a_module():
    """A package attribute named like a module is that module (``from colliderflow.physics import met``)."""
    from colliderflow.physics import met

    assert met.__name__ == "colliderflow.physics.met"


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    (tmp_path / "met.py").write_text("def met():\n    return 1\n")
    (tmp_path / "jets.py").write_text("def cluster_jets():\n    return 2\n")
    package = type(sys)("fake_package")
    package.__path__ = [str(tmp_path)]
    monkeypatch.setitem(sys.modules, "fake_package", package)
    monkeypatch.syspath_prepend(str(tmp_path.parent))
    return package


def test_lazy_exports_imports_on_first_use(fake_package, monkeypatch):
    monkeypatch.delitem(sys.modules, "fake_package.jets", raising=False)
    getattr_, dir_, all_ = lazy_exports("fake_package", {"jets": ["cluster_jets"]})
    assert all_ == ["cluster_jets"] and "cluster_jets" in dir_()
    assert "fake_package.jets" not in sys.modules
    assert getattr_("cluster_jets")() == 2
    assert "fake_package.jets" in sys.modules and fake_package.cluster_jets() == 2


def test_lazy_exports_refuses_shadowing_and_duplicates(fake_package):
    with pytest.raises(ValueError, match="'met' is also a module"):
        lazy_exports("fake_package", {"met": ["met"]})
    with pytest.raises(ValueError, match="'cluster_jets' exported from both 'jets' and 'met'"):
        lazy_exports("fake_package", {"jets": ["cluster_jets"], "met": ["cluster_jets"]})
