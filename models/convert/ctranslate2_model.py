"""Reader for CTranslate2's `model.bin` (binary format versions 4 to 6), numpy only.

Layout (little-endian): u32 version; string spec name; u32 revision; u32 variable count; per
variable: string name, u8 rank, rank x u32 dims, u8 dtype, u32 byte length, raw bytes; then u32
alias count and (alias, target) string pairs. A string is a u16 length that counts a trailing
NUL, then the bytes.
"""
import struct
from pathlib import Path

import numpy as np

DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


class ModelBinError(Exception):
    pass


def read(path: Path) -> tuple[str, dict[str, np.ndarray]]:
    """The spec name and every variable (aliases resolved), as numpy arrays."""
    data = memoryview(Path(path).read_bytes())
    pos = 0

    def take(fmt):
        nonlocal pos
        values = struct.unpack_from("<" + fmt, data, pos)
        pos += struct.calcsize("<" + fmt)
        return values

    def string():
        nonlocal pos
        (n,) = take("H")
        s = bytes(data[pos:pos + n]).rstrip(b"\0").decode()
        pos += n
        return s

    (version,) = take("I")
    if not 4 <= version <= 6:
        raise ModelBinError(f"binary format version {version} (known: 4 to 6)")
    spec = string()
    take("I")  # spec revision
    (count,) = take("I")
    variables = {}
    for _ in range(count):
        name = string()
        (rank,) = take("B")
        dims = take("I" * rank)
        (dtype,) = take("B")
        (nbytes,) = take("I")
        if dtype not in DTYPES:
            raise ModelBinError(f"{name}: dtype {dtype} is not supported")
        arr = np.frombuffer(data[pos:pos + nbytes], dtype=DTYPES[dtype]).reshape(dims)
        pos += nbytes
        variables[name] = arr
    (aliases,) = take("I")
    for _ in range(aliases):
        alias, target = string(), string()
        variables[alias] = variables[target]
    if pos != len(data):
        raise ModelBinError(f"{len(data) - pos} trailing bytes")
    return spec, variables
