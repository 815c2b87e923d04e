"""Packaging glue: the repository keeps the design card's layout (`shared/`,
`services/`) while everything installs under the single import package
`papilla` (`papilla.shared`, `papilla.services`), so nothing generic like
`shared` lands at the top of site-packages."""
from setuptools import find_packages, setup

ROOTS = {"papilla": "papilla", "papilla.shared": "shared", "papilla.services": "services"}
packages = ["papilla"] + [
    f"papilla.{name}" for name in find_packages(include=["papilla.*", "shared", "shared.*", "services", "services.*"])
    if not name.startswith("papilla")
] + [name for name in find_packages(include=["papilla.*"])]

setup(packages=sorted(set(packages)), package_dir=ROOTS, package_data={"": ["*.json"]})
