#!/usr/bin/env bash
# Run the native kernel tests once under valgrind's memcheck, with small inputs.
#
# The run fails if memcheck reports any error (invalid read or write, use of uninitialised memory,
# bad free) or definite leak whose stack passes through the kernels' own C (native/<family>/*.c);
# what CPython, numpy and cffi's one-time module set-up do is not under test here. Python allocates
# through malloc (PYTHONMALLOC=malloc) so memcheck sees every block; NT_VALGRIND=1 makes the
# property tests draw few, small examples and skips the tests that only time or replay Python.
#
#     tests/native/run_valgrind.sh                # with $PYTHON, else .venv/bin/python, else python
#     tests/native/run_valgrind.sh -k crossover   # extra pytest arguments
set -euo pipefail

cd "$(dirname "$0")/../.."
if [[ -n "${PYTHON:-}" ]]; then
    py="$PYTHON"
elif [[ -x .venv/bin/python ]]; then
    py=.venv/bin/python
else
    py=python
fi
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)" >&2; exit 2; }

xml="$(mktemp --suffix=.xml)"
trap 'rm -f "$xml"' EXIT
export PYTHONMALLOC=malloc NT_VALGRIND=1 NT_HYPOTHESIS_EXAMPLES="${NT_HYPOTHESIS_EXAMPLES:-5}"
set +e
valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite --track-origins=yes \
    --num-callers=40 --xml=yes --xml-file="$xml" \
    "$py" -m pytest -p no:cacheprovider -q \
    tests/native/test_indicators.py tests/native/test_simulate.py tests/native/test_oracles.py \
    tests/native/test_metrics.py tests/native/test_risk.py "$@"
status=$?
set -e

"$py" - "$xml" <<'PY'
import sys
import xml.etree.ElementTree as ET

errors = ET.parse(sys.argv[1]).getroot().findall("error")


def in_kernel(frame: ET.Element) -> bool:
    """A frame in native/<family>/<family>.c (not cffi's generated glue)."""
    file, folder = frame.findtext("file") or "", (frame.findtext("dir") or "").rstrip("/")
    return file.endswith(".c") and folder.endswith("native/" + file[:-2])


ours = []
for err in errors:
    frames = [f for f in err.findall("./stack/frame") if in_kernel(f)]
    if frames:
        ours.append(f"{err.findtext('kind')}: {err.findtext('what') or err.findtext('xwhat/text')} "
                    f"in {frames[0].findtext('fn')} ({frames[0].findtext('file')}:{frames[0].findtext('line')})")
print(f"valgrind: {len(errors)} reports in all, {len(ours)} in the native kernels")
for line in ours:
    print("  " + line)
sys.exit(1 if ours else 0)
PY
exit $status
