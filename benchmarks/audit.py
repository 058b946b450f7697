"""`cataract bench audit`: copy detection on a synthetic collection with planted copies.

Draws N photos (data/planted.py: originals, copies of eight kinds, look-alikes), audits
them from a cold feature cache with the audit's own functions, and prints photos/s per
stage, the total, recall and precision per kind of copy, the false groups, a re-read
with the cache warm, peak memory, and the time for --extrapolate-to photos estimated
from the stage rates measured here (reading and describing and verification grow
linearly, the candidate search as n log n). Drawing the collection is not timed.
"""

from __future__ import annotations

import dataclasses
import math
import os
import resource
import tempfile
import time
from pathlib import Path

from benchmarks.configs import AuditBenchConfig
from train_jax.data.feature_store import FeatureStore
from train_jax.data.grouping import duplicate_groups
from train_jax.data.planted import COPY_KINDS, CollectionPlan, PlantedScore, build_collection, score
from train_jax.data.scan import discover, read_photos
from train_jax.data.workers import Stopwatch, cpu_seconds, default_workers


class OtherLoad:
    """The CPU time other processes took while the benchmark ran (from /proc/stat): the
    figures are this machine's only when its cores were otherwise idle."""

    def __init__(self):
        self.started, self.busy, self.ours = time.perf_counter(), _busy_cpu_seconds(), cpu_seconds()

    def share(self) -> float | None:
        """Share of all cores' time the other processes used; None where unknown."""
        busy = _busy_cpu_seconds()
        if busy is None or self.busy is None:
            return None
        others = (busy - self.busy) - (cpu_seconds() - self.ours)
        return max(0.0, others / ((time.perf_counter() - self.started) * (os.cpu_count() or 1)))


def _busy_cpu_seconds() -> float | None:
    try:
        fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def run_audit_benchmark(config: AuditBenchConfig) -> dict:
    workers = default_workers() if config.workers is None else config.workers
    plan = CollectionPlan(config.n, config.seed, config.photo_height, config.copy_share, config.look_alike_share)
    with tempfile.TemporaryDirectory(prefix="cataract-bench-audit-") as scratch:
        folder = Path(config.collection) if config.collection else Path(scratch) / "collection"
        stopwatch = Stopwatch()
        photos = build_collection(folder, plan, workers)
        print(f"collection: {folder} ({stopwatch.cost().wall:.0f} s to draw or find, not timed below)", flush=True)
        records = discover(folder)["train"]
        store = FeatureStore.in_cache(Path(scratch) / "cache")  # cold: every photo is read and described

        others, stopwatch = OtherLoad(), Stopwatch()
        read = read_photos(records, "reading and describing photos", store=store, workers=workers)
        read_cost = stopwatch.cost()
        scanned = read.scanned
        grouping = duplicate_groups([image.content_hash for image in scanned], [image.thumbnail for image in scanned],
                                    [image.features for image in scanned], workers=workers, progress=True)
        other_share = others.share()

        stopwatch = Stopwatch()
        again = read_photos(records, "reading again, features cached", store=store, workers=workers)
        warm_cost = stopwatch.cost()

    relative = {image.record.path: str(Path(image.record.path).relative_to(folder)) for image in scanned}
    found = score(photos, {relative[image.record.path]: int(group) for image, group in zip(scanned, grouping.ids)})
    count = len(scanned)
    stages = {"read_and_describe": read_cost, "candidates": grouping.candidate_cost, "verification": grouping.verification_cost}
    growth = {"read_and_describe": config.extrapolate_to / count, "verification": config.extrapolate_to / count,
              "candidates": config.extrapolate_to * math.log(config.extrapolate_to) / (count * math.log(count))}
    # On idle cores a stage would take its CPU time spread over the workers (the index is
    # built on one thread, so the candidate search keeps its measured time).
    idle = {stage: cost.wall if stage == "candidates" else cost.cpu / max(1, min(workers, os.cpu_count() or 1))
            for stage, cost in stages.items()}
    report = {
        "photos": count, "unreadable": len(read.unreadable), "photo_height": config.photo_height, "workers": workers,
        "cpu_cores": os.cpu_count(), "other_processes_cpu_share": other_share,
        "seconds": {stage: cost.wall for stage, cost in stages.items()} | {"total": sum(c.wall for c in stages.values())},
        "cpu_seconds": {stage: cost.cpu for stage, cost in stages.items()},
        "cpu_ms_per_photo": {"read_and_decode": 1e3 * read.read_seconds / count, "describe": 1e3 * read.describe_seconds / count},
        "candidate_pairs": grouping.candidate_pairs, "verified_pairs": grouping.verified_pairs,
        "recall": {kind: found.recall(kind) for kind in COPY_KINDS},
        "precision": {kind: found.precision(kind) for kind in COPY_KINDS},
        "score": dataclasses.asdict(found),
        "warm_read_seconds": warm_cost.wall, "warm_described": again.described,
        "peak_memory_mib": {"main": _peak_mib(resource.RUSAGE_SELF), "largest_worker": _peak_mib(resource.RUSAGE_CHILDREN)},
        "extrapolated_to": config.extrapolate_to,
        "extrapolated_seconds": {stage: stages[stage].wall * growth[stage] for stage in stages},
        "extrapolated_seconds_on_idle_cores": {stage: idle[stage] * growth[stage] for stage in stages},
    }
    print("\n".join(report_lines(report, found)))
    return report


def _peak_mib(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # kilobytes on Linux


def report_lines(report: dict, found: PlantedScore) -> list[str]:
    count, workers, seconds, cpu = report["photos"], report["workers"], report["seconds"], report["cpu_seconds"]
    per_photo = report["cpu_ms_per_photo"]
    others = report["other_processes_cpu_share"]
    copies, look_alikes = sum(planted for _, planted in found.found.values()), found.look_alikes_grouped[1]
    lines = [
        f"audit benchmark | {count:,} photos {report['photo_height']} px high, JPEG: {count - copies - look_alikes:,} distinct, "
        f"{copies:,} copies of {len(found.found)} kinds, {look_alikes:,} look-alikes | {workers} worker processes, "
        f"{report['cpu_cores']} CPU cores, " + ("load of other processes unknown" if others is None else
                                                f"other processes used {100 * others:.0f}% of the cores meanwhile"),
        f"  {'stage':46s} {'photos/s':>9s} {'seconds':>8s} {'CPU s':>7s} {'CPU ms a photo':>15s}",
    ]
    # Reading and describing run together in the workers: each one's own rate is the one
    # its CPU time allows on all the workers.
    for label, stage in (("read, hash and decode", "read_and_decode"), ("describe: thumbnail, ORB both ways", "describe")):
        lines.append(f"  {'  ' + label:46s} {1e3 * max(1, workers) / per_photo[stage]:9.0f} {'':8s} {'':7s} {per_photo[stage]:15.2f}")
    rows = (("read, decode and describe, as run", "read_and_describe"),
            (f"candidates ({report['candidate_pairs']:,} pairs proposed)", "candidates"),
            (f"verification ({report['verified_pairs']:,} pairs verified)", "verification"))
    for label, stage in rows:
        lines.append(f"  {label:46s} {count / seconds[stage]:9.0f} {seconds[stage]:8.1f} {cpu[stage]:7.1f} "
                     f"{1e3 * cpu[stage] / count:15.2f}")
    lines.append(f"  {'total':46s} {count / seconds['total']:9.0f} {seconds['total']:8.1f} {sum(cpu.values()):7.1f} "
                 f"{1e3 * sum(cpu.values()) / count:15.2f}")
    lines.append(f"  {'kind of copy':28s} {'found':>13s} {'recall':>7s} {'precision':>9s}")
    for kind, (hits, planted) in found.found.items():
        lines.append(f"  {kind:28s} {hits:>6,} of {planted:<4,} {100 * found.recall(kind):6.1f}% {100 * found.precision(kind):8.1f}%")
    grouped, planted = found.look_alikes_grouped
    lines += [
        f"  look-alikes grouped with their original (false): {grouped} of {planted}",
        f"  false groups (files of two or more photos): {found.false_groups} of {found.groups} groups; "
        f"pairs in one group that are one photo: {100 * found.pair_precision:.2f}%",
        f"  read again with the features cached: {report['warm_read_seconds']:.1f} s, {report['warm_described']} photos described",
        f"  peak memory: {report['peak_memory_mib']['main']:.0f} MiB main process, "
        f"{report['peak_memory_mib']['largest_worker']:.0f} MiB largest worker",
    ]
    for title, key in (("as measured", "extrapolated_seconds"), ("on idle cores (CPU time / workers)", "extrapolated_seconds_on_idle_cores")):
        estimate = report[key]
        lines.append(f"  {report['extrapolated_to']:,} photos, {title}: read and describe {estimate['read_and_describe']:.0f} s "
                     f"(linear) + candidates {estimate['candidates']:.0f} s (n log n) + verification "
                     f"{estimate['verification']:.0f} s (linear) = {sum(estimate.values()) / 60:.1f} min")
    return lines
