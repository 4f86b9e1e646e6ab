import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _run_in_temporary_directory(tmp_path_factory):
    """RecBole writes log/, log_tensorboard/ and saved/ into the working directory: keep them out of the repo."""
    previous = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))
    yield
    os.chdir(previous)
