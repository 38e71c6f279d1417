import os
import pathlib
import shutil
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def convlab_bin():
    """The convlab command the Rust tests built (`cargo test --release`), or $CONVLAB_BIN."""
    path = os.environ.get("CONVLAB_BIN") or str(REPO / "target" / "release" / "convlab")
    if not os.path.exists(path):
        subprocess.run(["cargo", "build", "--release", "-q"], cwd=REPO, check=True)
    return path


@pytest.fixture
def cli(convlab_bin, tmp_path):
    """Runs convlab with a fresh HOME, as the Rust tests do; returns the completed process."""
    env = dict(os.environ, HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / "cache"), CONVLAB_DATA=str(tmp_path / "data"))

    def run(*args, check=True):
        p = subprocess.run([convlab_bin, *map(str, args)], env=env, capture_output=True, text=True)
        if check and p.returncode != 0:
            raise AssertionError(f"convlab {' '.join(map(str, args))} failed:\n{p.stdout}{p.stderr}")
        return p

    return run
