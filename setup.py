"""Packaging is in setup.cfg; this file only adds what setup.cfg cannot say: the YAML files live in properties/ at the
repository's top level (the project's layout) and ship inside the wheel as the package ``recbole_intent.properties``
(recbole_intent/paths.py finds them in both places)."""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["recbole_intent", "recbole_intent.*"]) + ["recbole_intent.properties"],
    package_dir={"recbole_intent.properties": "properties"},
    package_data={"recbole_intent.properties": ["*.yaml", "*/*.yaml", "hyper/*.hyper"]},
)
