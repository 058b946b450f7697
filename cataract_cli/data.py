"""`cataract synth` and `cataract audit`: the photos before training."""

from __future__ import annotations

from cataract_cli.commands import add_command
from cataract_cli.options import AuditSettings, JsonOutput, SynthSettings


def add_commands(commands) -> None:
    add_command(
        commands, "audit", run_audit, [AuditSettings, JsonOutput],
        help="check a photo folder: counts, bad files, copies, leakage, label conflicts",
        description=(
            "Read every photo of DATA (train/ and test/ splits, or a flat folder): counts per split and class, "
            "sizes, modes and formats, unreadable files with the reason, exact and near copies of one photo as "
            "groups, copies shared by train and test (leakage) and copies labelled both ways; per class, samples "
            "with Otsu threshold masks and edge maps. Prints a summary; writes HTML and JSON on request."
        ),
    )
    add_command(
        commands, "synth", run_synth, [SynthSettings],
        help="draw synthetic eye photos in the train/test folder layout",
        description="Draw N procedural eye photos (cataract = lens opacity) into OUT/{train,test}/{cataract,normal}/.",
    )


def run_synth(settings: SynthSettings) -> int:
    from train_jax.data.synth import generate

    counts = generate(settings.out, settings.n, seed=settings.seed, test_fraction=settings.test_fraction,
                      height=settings.height)
    for split, per_class in counts.items():
        print(f"{settings.out}/{split}: " + ", ".join(f"{n} {name}" for name, n in sorted(per_class.items())))
    return 0


def run_audit(settings: AuditSettings, output: JsonOutput) -> int:
    from train_jax.data.audit import audit, summary_lines, write_html

    report = audit(settings.data, cache=settings.cache, workers=settings.workers)
    print("\n".join(summary_lines(report)))
    output.write(report.to_json())
    if settings.html:
        write_html(report, settings.html)
        print(f"written: {settings.html}")
    return 0
