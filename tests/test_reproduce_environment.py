"""environment.yml (conda, GPU machines and clusters) agrees with constraints.txt (the pins of the pip path): torch
pinned to the same version, every package both name at the same version, and a single OpenCV build."""
from __future__ import annotations

import re
import tomllib

import yaml

from sam_repro.paths import REPO_ROOT

#: conda-forge names of packages whose pip distribution has another name
CONDA_TO_PIP = {"pytorch": "torch", "pytorch-gpu": "torch", "pytorch-cpu": "torch", "py-opencv": "opencv",
                "libopencv": "opencv"}
#: every distribution that ships a cv2 module: at most one of them may be installed
OPENCV = {"opencv", "opencv-python", "opencv-python-headless", "opencv-contrib-python",
          "opencv-contrib-python-headless"}


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text.strip().lower())


def _constraints() -> dict[str, str]:
    pins = {}
    for line in (REPO_ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, sep, version = line.partition("==")
            assert sep, f"constraints.txt: {line!r} is not an exact pin"
            pins[_name(name)] = version.strip()
    return pins


def _environment() -> tuple[dict[str, str | None], dict[str, str | None], list[str]]:
    """(conda packages -> exact version or None, pip packages -> exact version or None, pip option lines)."""
    data = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    conda, pip, options = {}, {}, []
    for entry in data["dependencies"]:
        if isinstance(entry, dict):
            for line in entry["pip"]:
                line = line.split(" #", 1)[0].strip()
                if line.startswith("-"):
                    options.append(line)
                    continue
                name, sep, version = re.split(r"(==)", line, maxsplit=1) if "==" in line else (line, "", "")
                pip[_name(re.split(r"[<>=!~\[ ]", name)[0])] = version.strip() if sep else None
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*(=|==)?\s*([^<>=!\s]*)?(.*)", entry.strip())
        assert match, entry
        name = CONDA_TO_PIP.get(_name(match.group(1)), _name(match.group(1)))
        exact = match.group(2) and match.group(3) and not match.group(4).strip()
        conda[name + ("" if name not in conda else f"#{len(conda)}")] = match.group(3) if exact else None
    return conda, pip, options


def test_torch_is_pinned_to_the_same_version() -> None:
    pins = _constraints()
    conda, _, _ = _environment()
    torches = {version for name, version in conda.items() if name.split("#")[0] == "torch"}
    assert torches == {pins["torch"]}, f"environment.yml pins torch to {torches}, constraints.txt to {pins['torch']}"
    assert conda["torchvision"] == pins["torchvision"]


def test_every_package_both_name_has_the_same_version() -> None:
    pins = _constraints()
    conda, pip, _ = _environment()
    for source, packages in (("conda", conda), ("pip", pip)):
        for name, version in packages.items():
            name = name.split("#")[0]
            if name in pins:
                assert version == pins[name], (f"environment.yml ({source}) has {name} "
                                               f"{version or 'unpinned'}, constraints.txt {pins[name]}")


def test_pip_installs_under_the_constraints_and_one_opencv_build() -> None:
    conda, pip, options = _environment()
    assert "-c constraints.txt" in options  # whatever pip pulls in (the package's own dependencies) is pinned too
    assert any(option.startswith("-e .") for option in options)
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    declared = [_name(re.split(r"[<>=!~\[ ;]", dep)[0]) for dep in project["dependencies"]]
    builds = ({n.split("#")[0] for n in conda} | set(pip) | set(declared)) & OPENCV
    assert len(builds) == 1, f"more than one OpenCV build would be installed: {sorted(builds)}"
    assert builds <= set(_constraints()), "the OpenCV build is not pinned in constraints.txt"


def test_the_cluster_extra_is_pinned() -> None:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    cluster = [_name(re.split(r"[<>=!~\[ ;]", dep)[0]) for dep in project["optional-dependencies"]["cluster"]]
    assert cluster == ["submitit"] and "submitit" in _constraints()
    assert "cluster" in project["optional-dependencies"]["all"][0]
