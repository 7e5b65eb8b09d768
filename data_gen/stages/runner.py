"""pipeline: every data stage in order from one config, with per-stage caching and a time breakdown.

Each stage writes `<output_dir>/<file>` and, when it finishes, `<file>.meta.json` holding a fingerprint of
its settings and of its input. A rerun skips a finished stage whose fingerprint still matches, resumes an
unfinished one, and refuses to mix outputs of different settings (it names the stage and the file to move).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from data_gen.backends.base import GenerationConfig
from data_gen.config import STAGE_OUTPUTS, PipelineConfig
from data_gen.row_shards import parse_shard
from data_gen.stages.streaming import StageStats, rejected_path
from executor.jsonl import JsonlError, loads_json

REPO_ROOT = Path(__file__).resolve().parents[2]


class PipelineError(ValueError):
    """The pipeline needs the user's decision to go on (e.g. settings changed under existing outputs)."""


@dataclasses.dataclass
class StageReport:
    """How one stage went: run or cached, its time and counts."""

    stage: str
    status: str  # ran | cached
    seconds: float
    written: int
    rejected: int
    output: Path


def resolve_path(path: str) -> Path:
    """A config path: as given (relative to the working directory), else relative to the repository root."""
    candidate = Path(path)
    if candidate.is_absolute() or candidate.exists():
        return candidate
    in_repo = REPO_ROOT / candidate
    return in_repo if in_repo.exists() else candidate


def file_fingerprint(path: Path) -> str:
    """sha256 of a file's bytes (streamed)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def stage_fingerprint(stage: str, settings: Any, upstream: str) -> str:
    """Fingerprint of a stage's settings and its input's fingerprint."""
    payload = json.dumps(
        {"stage": stage, "settings": settings, "upstream": upstream}, sort_keys=True, default=str
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _meta_path(output: Path) -> Path:
    return output.with_name(output.name + ".meta.json")


def _stage_settings(config: PipelineConfig, stage: str) -> dict[str, Any]:
    section = {
        "synth_tests": config.synth,
        "filter_tests": config.filter,
        "sample": config.sample,
        "score": config.score,
        "pairs": config.pairs,
        "hard_subset": config.hard_subset,
        "test_strength": config.test_strength,
        "contamination": config.contamination,
    }[stage]
    settings = dataclasses.asdict(section)
    if stage in ("filter_tests", "score", "test_strength"):
        # Workers and the Ray cluster change how fast, not what; timeouts/memory do change outcomes: kept.
        settings["executor"] = {
            k: v for k, v in dataclasses.asdict(config.executor).items() if k not in ("workers", "ray")
        }
    throughput = (
        "batch_size",
        "concurrency",
        "max_retries",
        "retry_base_s",
        "request_timeout_s",
        "ray",
        "replicas",
    )
    for key in throughput:
        for generation in ("generation", "oracle"):
            settings.get(generation, {}).pop(key, None)  # throughput knobs, not results
    settings["shard"] = config.shard
    return settings


def _input_for(stage: str, config: PipelineConfig, out: Path) -> Path:
    # Which earlier output each stage reads.
    source = {
        "synth_tests": None,
        "filter_tests": "synth_tests",
        "sample": "filter_tests",
        "score": "sample",
        "pairs": "score",
        "hard_subset": "score",
        "test_strength": "filter_tests",
        "contamination": "filter_tests",
    }[stage]
    return resolve_path(config.seeds) if source is None else out / STAGE_OUTPUTS[source]


def _resolved(generation: GenerationConfig) -> GenerationConfig:
    # A replay file named in a config is found from any working directory, like the seeds.
    if generation.replay_file is None:
        return generation
    return dataclasses.replace(generation, replay_file=str(resolve_path(generation.replay_file)))


def _runner(stage: str, config: PipelineConfig) -> Callable[[Path, Path], StageStats]:
    shard = parse_shard(config.shard)
    progress = config.progress
    if stage == "synth_tests":
        from data_gen.stages.synth_tests import run_synth_tests

        synth = _resolved(config.synth.generation)
        return lambda i, o: run_synth_tests(i, o, synth, config.synth, shard=shard, progress=progress)
    if stage == "filter_tests":
        from data_gen.stages.filter_tests import run_filter_tests

        oracle = None if config.filter.solution_field else _resolved(config.filter.oracle)
        return lambda i, o: run_filter_tests(
            i, o, config.filter, config.executor, oracle, shard=shard, progress=progress
        )
    if stage == "sample":
        from data_gen.stages.sample import run_sample

        sampler = _resolved(config.sample.generation)
        return lambda i, o: run_sample(i, o, sampler, config.sample, shard=shard, progress=progress)
    if stage == "score":
        from data_gen.stages.score import run_score

        return lambda i, o: run_score(i, o, config.executor, config.score, shard=shard, progress=progress)
    if stage == "pairs":
        from data_gen.stages.pairs import run_pairs

        return lambda i, o: run_pairs(i, o, config.pairs, shard=shard, progress=progress)
    if stage == "hard_subset":
        from data_gen.stages.hard_subset import run_hard_subset

        return lambda i, o: run_hard_subset(i, o, config.hard_subset, shard=shard, progress=progress)
    if stage == "test_strength":
        from data_gen.stages.test_strength import run_test_strength

        return lambda i, o: run_test_strength(
            i, o, config.executor, config.test_strength, shard=shard, progress=progress
        )
    from data_gen.stages.contamination_check import run_contamination

    benchmarks = [str(resolve_path(b)) for b in config.contamination.benchmarks]
    options = dataclasses.replace(config.contamination, benchmarks=benchmarks)
    return lambda i, o: run_contamination(i, o, options, shard=shard, progress=progress)


def run_pipeline(config: PipelineConfig, *, log: Callable[[str], None] | None = None) -> list[StageReport]:
    """Run the configured stages in order; returns one report per stage."""
    log = log or (lambda text: print(text, file=sys.stderr))
    if not config.seeds and "synth_tests" in config.stages:
        raise PipelineError("pipeline: no seeds file configured (seeds: PATH)")
    out = Path(config.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    order = [s for s in STAGE_OUTPUTS if s in config.stages]
    fingerprints: dict[str, str] = {}
    reports = []
    for stage in order:
        input_path = _input_for(stage, config, out)
        output = out / STAGE_OUTPUTS[stage]
        if not input_path.exists():
            raise PipelineError(f"pipeline: stage {stage} needs {input_path}, which does not exist")
        upstream_stage = next((s for s in STAGE_OUTPUTS if out / STAGE_OUTPUTS[s] == input_path), None)
        upstream = fingerprints.get(upstream_stage or "") or file_fingerprint(input_path)
        fingerprint = stage_fingerprint(stage, _stage_settings(config, stage), upstream)
        fingerprints[stage] = fingerprint
        meta_path = _meta_path(output)
        meta = None
        if meta_path.exists():
            meta = loads_json(meta_path.read_text(encoding="utf-8"), str(meta_path))
        if meta is not None and not isinstance(meta, dict):
            raise JsonlError(f"{meta_path}: expected a JSON object, got {type(meta).__name__}")
        if meta is not None and meta.get("fingerprint") != fingerprint:
            raise PipelineError(
                f"pipeline: {output} was made with other settings or input; move it (and {meta_path.name}, "
                f"and the outputs after it) away or set output_dir to a new directory"
            )
        if meta is not None and meta.get("complete"):
            log(f"[pipeline] {stage}: cached ({output})")
            reports.append(
                StageReport(stage, "cached", 0.0, meta.get("written", 0), meta.get("rejected", 0), output)
            )
            continue
        meta_path.write_text(json.dumps({"fingerprint": fingerprint, "complete": False}), encoding="utf-8")
        log(f"[pipeline] {stage}: {input_path} -> {output}")
        start = time.perf_counter()
        stats = _runner(stage, config)(input_path, output)
        seconds = time.perf_counter() - start
        log(f"[pipeline] {stats.summary()}")
        totals = {"written": _count_lines(output), "rejected": _count_lines(rejected_path(output))}
        meta_path.write_text(
            json.dumps({"fingerprint": fingerprint, "complete": True, "seconds": seconds, **totals}),
            encoding="utf-8",
        )
        reports.append(StageReport(stage, "ran", seconds, totals["written"], totals["rejected"], output))
    log(format_breakdown(reports))
    return reports


def _count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def format_breakdown(reports: list[StageReport]) -> str:
    """The per-stage time table printed at the end."""
    total = sum(r.seconds for r in reports) or 1e-9
    lines = ["", f"{'stage':<15} {'status':<7} {'seconds':>8} {'share':>6} {'rows':>7} {'rejected':>8}"]
    for r in reports:
        lines.append(
            f"{r.stage:<15} {r.status:<7} {r.seconds:>8.2f} {100 * r.seconds / total:>5.1f}% {r.written:>7} "
            f"{r.rejected:>8}"
        )
    lines.append(f"{'total':<15} {'':<7} {sum(r.seconds for r in reports):>8.2f}")
    return "\n".join(lines)
