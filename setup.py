"""Packaging: the import package `papilla` is the file tree `papilla/` (no package mapping)."""
from setuptools import find_packages, setup

setup(packages=find_packages(include=["papilla", "papilla.*"]), package_data={"": ["*.json", "*.xsd"]})
