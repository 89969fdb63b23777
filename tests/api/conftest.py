"""One S3 server and one clipguard server for the API tests, with Eileen Collins registered and
a clip in the bucket at the key the OpenAPI document's example names."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import harness  # noqa: E402


@pytest.fixture(scope="session")
def clips(tmp_path_factory):
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="session")
def s3(clips):
    s = harness.S3("clips")
    try:
        s.put("gen-42.mp4", harness.still_clip("coffee.png", 2, clips / "gen-42.mp4"))
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="session")
def server(s3, clips):
    srv = harness.Server({**s3.env, "CLIPGUARD_SERVER__FILE_ROOTS": str(clips)})
    try:
        srv.collins = srv.enrol_collins()
        yield srv
    finally:
        srv.stop()
