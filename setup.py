"""Build hook: the course notebooks (``tutorials/``) travel inside the wheel.

Everything else about the package is in ``pyproject.toml``. The notebooks stay at the top of
the repository, where students browsing it find them; ``build_py`` copies them to
``resnetlab/tutorials/<lang>/`` so that ``resnetlab tutorials copy`` works from a pip install.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent


class BuildWithTutorials(build_py):
    """``build_py`` plus the ``tutorials/<lang>/NN-*.py`` sources as package data."""

    def run(self) -> None:
        super().run()
        for source in sorted((HERE / "tutorials").glob("*/[0-9][0-9]-*.py")):
            target = Path(self.build_lib) / "resnetlab" / "tutorials" / source.parent.name
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / source.name)


setup(cmdclass={"build_py": BuildWithTutorials})
