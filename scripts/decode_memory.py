"""Peak memory and time of decoding each file of the bad-input corpus (tests/bad_inputs.py).

    python scripts/decode_memory.py [--project DIR]

Each file is decoded in a fresh Python process, the way every door decodes it: read the
file, decode it to RGB, resize it to 224x224 (cataract_contract.model_input). The figure
is the growth of the process's peak resident memory (VmHWM) over its resident memory
just before decoding, so imports and the file's own bytes do not count. `--project`
picks the checkout whose cataract_contract does the decoding (default: this one), so
two checkouts can be compared on the same corpus.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE / "tests"))

# Runs in the child: the figures of one decode, as JSON on stdout.
CHILD = r"""
import json, sys, time
from cataract_contract import ImageError, model_input, read_image_bytes

def status(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) / 1024

try:
    data = read_image_bytes(sys.argv[1])
except ImageError as exc:
    data, outcome = None, str(exc)
before = status("VmRSS:")
started = time.perf_counter()
if data is not None:
    try:
        model_input(data, 224)
        outcome = "decoded"
    except ImageError as exc:
        outcome = str(exc)
print(json.dumps({"peak_mib": status("VmHWM:") - before, "seconds": time.perf_counter() - started, "outcome": outcome}))
"""


def measure(project: Path, path: Path) -> dict:
    result = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, cwd=project,
                            env={"PYTHONPATH": str(project), "PATH": "/usr/bin:/bin"})
    if result.returncode != 0:
        return {"peak_mib": float("nan"), "seconds": float("nan"), "outcome": f"crashed: {result.stderr.strip()[-200:]}"}
    return json.loads(result.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=HERE, help="checkout whose decoding is measured (default: this one)")
    args = parser.parse_args()
    from bad_inputs import write_corpus

    with tempfile.TemporaryDirectory() as folder:
        names = write_corpus(Path(folder))
        print(f"decoding memory | {args.project.resolve()} | peak resident memory growth per file")
        print(f"  {'file':28s} {'size KiB':>9s} {'peak MiB':>9s} {'seconds':>8s}  outcome")
        peaks = []
        for name in names:
            path = Path(folder) / name
            figures = measure(args.project, path)
            peaks.append(figures["peak_mib"])
            print(f"  {name:28s} {path.stat().st_size / 1024:9.0f} {figures['peak_mib']:9.0f} {figures['seconds']:8.2f}  "
                  f"{figures['outcome'][:90]}")
        print(f"  worst peak: {max(peaks):.0f} MiB")


if __name__ == "__main__":
    main()
