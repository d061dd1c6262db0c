"""The one thing pyproject.toml cannot say: the package list.

Every package under ``src/`` is found (a new subpackage needs no edit here),
plus ``skylet.services``, which lives at the top level (``services/``) where
skynet users look for it. setuptools' ``packages.find`` cannot put a folder
outside ``where`` under a package name, hence this file; everything else,
including the ``skylet.services`` folder mapping, is in pyproject.toml.
"""

from setuptools import find_packages, setup

setup(packages=[*find_packages("src", include=["skylet", "skylet.*"]), "skylet.services"])
