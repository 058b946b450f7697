"""Copy a finished run folder without what export does not need, to carry it off a machine.

Keeps the run's files (config, split, metrics, validation scores, threshold) and the best
epoch's checkpoint without its optimizer state, with that checkpoint's checksum record
narrowed to the files kept (each kept file is checked against it first). `cataract export`
reads the copy as it reads the run.

    python scripts/slim_run.py RUN COPY
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from train_jax.training.run_folder import RunPaths, checkpoint_file_digests  # noqa: E402


def slim_copy(run: Path, copy: Path) -> int:
    source, target = RunPaths(run), RunPaths(copy)
    best = json.loads(source.threshold.read_text())["best_epoch"]
    copy.mkdir(parents=True)
    for path in (source.config, source.split, source.epoch_metrics, source.validation_predictions, source.threshold):
        shutil.copy2(path, copy / path.name)
    shutil.copytree(source.checkpoints / str(best), target.checkpoints / str(best), ignore=shutil.ignore_patterns("optimizer"))
    recorded = json.loads((source.checksums / f"{best}.json").read_text())
    kept = checkpoint_file_digests(target, best)
    changed = sorted(name for name, digest in kept.items() if recorded.get(name) != digest)
    if changed:
        raise SystemExit(f"slim_run: {len(changed)} files of checkpoint {best} differ from their record, e.g. {changed[0]}")
    target.checksums.mkdir()
    (target.checksums / f"{best}.json").write_text(json.dumps(kept, indent=2, sort_keys=True) + "\n")
    return best


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    print(f"slim copy of {sys.argv[1]} (best epoch {slim_copy(Path(sys.argv[1]), Path(sys.argv[2]))}) in {sys.argv[2]}")
