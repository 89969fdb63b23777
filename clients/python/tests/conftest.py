"""A real clipguard server (target/release/clipguard) for the client's tests, with Eileen
Collins registered, and clips made with ffmpeg; see tests/api/harness.py."""

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "clients/python"))
sys.path.insert(0, str(REPO / "tests/api"))

import harness  # noqa: E402


@pytest.fixture(scope="session")
def clips(tmp_path_factory):
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="session")
def server(clips):
    srv = harness.Server({"CLIPGUARD_SERVER__FILE_ROOTS": str(clips)})
    try:
        srv.enrol_collins()
        yield srv
    finally:
        srv.stop()


@pytest.fixture(scope="session")
def coffee(clips):
    return harness.still_clip("coffee.png", 2, clips / "coffee.mp4")


@pytest.fixture(scope="session")
def astronaut(clips):
    return harness.astronaut_zoom(90, clips / "astronaut-zoom-3s.mp4")
