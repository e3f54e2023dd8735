"""cffi builder for ``neural_trader._native_sim`` (discovered by setup.py)."""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
from _build_common import make_ffibuilder

# The batch computes SMAs with the indicators family's exact prefix sums.
ffibuilder = make_ffibuilder("sim", uses=("indicators",))

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
