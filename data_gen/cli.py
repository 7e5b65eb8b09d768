"""`acecoder <stage>` subcommands of the data pipeline; each takes argv and returns an exit code.

Stage modules (and with them backends, the executor, numpy) are imported only by the subcommand that runs.
Errors the user can fix (bad rows, missing fields, unreachable endpoints, bad keys, bad configs) print one
clear line and exit with 2 (input/config) or 1 (generation); rows already written stay written.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from data_gen.backends.base import GenerationConfig, GenerationError
from data_gen.row_shards import parse_shard
from executor.config import ExecutorConfig


def _io_args(parser: argparse.ArgumentParser, *, output_help: str = "output JSONL") -> None:
    parser.add_argument("--input", required=True, help="input JSONL or parquet")
    parser.add_argument("--output", required=True, help=output_help)
    parser.add_argument("--shard", default=None, help="i/n: process only this share of the rows (by id hash)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _io(args: argparse.Namespace) -> dict[str, Any]:
    """The stage keywords that the `_io_args` flags (other than input and output) set."""
    return {"shard": parse_shard(args.shard), "progress": not args.no_progress}


def _backend_args(parser: argparse.ArgumentParser, defaults: GenerationConfig) -> None:
    """Flags for a GenerationConfig, defaulting to the paper's settings of the stage."""
    p = "--"
    group = parser.add_argument_group("generation backend")
    group.add_argument(
        f"{p}backend", default=defaults.backend, choices=["openai", "vllm", "transformers", "replay"]
    )
    group.add_argument(
        f"{p}model", default=defaults.model, help=f"model name or path (default {defaults.model})"
    )
    group.add_argument(
        f"{p}base-url", default=None, help="OpenAI-compatible endpoint (default: api.openai.com)"
    )
    group.add_argument(
        f"{p}api-key-env", default=defaults.api_key_env, help="environment variable with the key"
    )
    group.add_argument(
        f"{p}concurrency", type=int, default=defaults.concurrency, help="openai: requests in flight"
    )
    group.add_argument(f"{p}max-retries", type=int, default=defaults.max_retries)
    group.add_argument(f"{p}retry-base-s", type=float, default=defaults.retry_base_s)
    group.add_argument(f"{p}request-timeout-s", type=float, default=defaults.request_timeout_s)
    group.add_argument(f"{p}json-mode", action=argparse.BooleanOptionalAction, default=defaults.json_mode)
    group.add_argument(f"{p}price-in", type=float, default=None, help="USD per million prompt tokens")
    group.add_argument(f"{p}price-out", type=float, default=None, help="USD per million completion tokens")
    group.add_argument(f"{p}device", default=defaults.device)
    group.add_argument(f"{p}dtype", default=defaults.dtype)
    group.add_argument(f"{p}seed", type=int, default=defaults.seed)
    group.add_argument(f"{p}tensor-parallel", type=int, default=defaults.tensor_parallel)
    group.add_argument(f"{p}replay-file", default=None, help="replay backend: JSONL of recorded replies")
    group.add_argument(
        f"{p}n", type=int, default=defaults.n, help=f"replies per prompt (default {defaults.n})"
    )
    group.add_argument(f"{p}temperature", type=float, default=defaults.temperature)
    group.add_argument(f"{p}top-p", type=float, default=defaults.top_p)
    group.add_argument(f"{p}max-tokens", type=int, default=defaults.max_tokens)
    group.add_argument(f"{p}stop", action="append", default=None, help="stop string (repeatable)")
    group.add_argument(
        f"{p}batch-size", type=int, default=defaults.batch_size, help="prompts per backend call"
    )


def _ray_generation_args(parser: argparse.ArgumentParser) -> None:
    """`--ray ADDRESS [--replicas N]`: generate on replicas spread over a Ray cluster."""
    group = parser.add_argument_group("Ray cluster")
    group.add_argument(
        "--ray", metavar="ADDRESS", default=None, help="generate on a Ray cluster (auto, HOST:PORT)"
    )
    group.add_argument(
        "--replicas", type=int, default=0, help="with --ray: 0 = one per GPU group (vllm), else one per node"
    )


def _generation(args: argparse.Namespace) -> GenerationConfig:
    """The GenerationConfig of the backend flags (and of `--ray/--replicas` where the stage has them)."""
    a = vars(args)
    on_ray = "replicas" in a  # filter-tests' --ray is the executor's (`_executor_args`), not the backend's
    return GenerationConfig(
        backend=a["backend"],
        model=a["model"],
        base_url=a["base_url"],
        api_key_env=a["api_key_env"],
        concurrency=a["concurrency"],
        max_retries=a["max_retries"],
        retry_base_s=a["retry_base_s"],
        request_timeout_s=a["request_timeout_s"],
        json_mode=a["json_mode"],
        price_in_per_mtok=a["price_in"],
        price_out_per_mtok=a["price_out"],
        device=a["device"],
        dtype=a["dtype"],
        seed=a["seed"],
        tensor_parallel=a["tensor_parallel"],
        replay_file=a["replay_file"],
        n=a["n"],
        temperature=a["temperature"],
        top_p=a["top_p"],
        max_tokens=a["max_tokens"],
        stop=a["stop"] or [],
        batch_size=a["batch_size"],
        ray=a["ray"] if on_ray else None,
        replicas=a["replicas"] if on_ray else 0,
    )


def _executor_args(parser: argparse.ArgumentParser) -> None:
    defaults = ExecutorConfig()
    group = parser.add_argument_group("executor")
    group.add_argument("--workers", type=int, default=defaults.workers, help="0 = one per CPU core")
    group.add_argument("--timeout-s", type=float, default=defaults.timeout_s, help="per test")
    group.add_argument("--memory-mb", type=int, default=defaults.memory_mb, help="per program")
    group.add_argument("--ray", metavar="ADDRESS", default=defaults.ray, help="judge on a Ray cluster")


def _executor(args: argparse.Namespace) -> ExecutorConfig:
    return ExecutorConfig(
        workers=args.workers, timeout_s=args.timeout_s, memory_mb=args.memory_mb, ray=args.ray
    )


def _run(
    prog: str, argv: list[str], build: Callable[[argparse.ArgumentParser], None], body: Callable[..., Any]
) -> int:
    """Parse argv, run the stage, print its summary; user-fixable errors become one line and an exit code."""
    from acecoder_jax.common.config import ConfigError
    from executor.jsonl import JsonlError

    command = globals()[prog.replace("-", "_")]
    parser = argparse.ArgumentParser(prog=f"acecoder {prog}", description=command.__doc__)
    build(parser)
    args = parser.parse_args(argv)
    try:
        result = body(args)
    except GenerationError as err:
        print(f"acecoder {prog}: error: {err}", file=sys.stderr)
        return 1
    except (JsonlError, ConfigError, FileNotFoundError, ValueError) as err:
        print(f"acecoder {prog}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"acecoder {prog}: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    if hasattr(result, "summary"):
        print(result.summary(), file=sys.stderr)
    return 0


def synth_tests(argv: list[str]) -> int:
    """`acecoder synth-tests`: seed programs -> questions with assert tests."""
    from data_gen.config import paper_synth_generation

    def build(parser: argparse.ArgumentParser) -> None:
        _io_args(parser)
        parser.add_argument(
            "--no-instruction",
            action="store_true",
            help="always use the template without the seed's instruction",
        )
        _backend_args(parser, paper_synth_generation())
        _ray_generation_args(parser)

    def body(args: argparse.Namespace) -> Any:
        from data_gen.stages.synth_tests import SynthOptions, run_synth_tests

        options = SynthOptions(use_instruction=not args.no_instruction)
        return run_synth_tests(args.input, args.output, _generation(args), options, **_io(args))

    return _run("synth-tests", argv, build, body)


def filter_tests(argv: list[str]) -> int:
    """`acecoder filter-tests`: keep the tests an oracle solution passes; drop weak questions."""
    from data_gen.config import paper_oracle_generation

    def build(parser: argparse.ArgumentParser) -> None:
        _io_args(parser)
        parser.add_argument(
            "--solution-field", default=None, help="take the oracle solution from this column"
        )
        parser.add_argument(
            "--max-oracle-passes-skipped", type=int, default=3, help="released: skip if passes <= 3"
        )
        parser.add_argument(
            "--min-tests", type=int, default=5, help="released: drop questions with < 5 tests left"
        )
        _backend_args(parser, paper_oracle_generation())
        _executor_args(parser)

    def body(args: argparse.Namespace) -> Any:
        from data_gen.stages.filter_tests import FilterOptions, run_filter_tests

        options = FilterOptions(args.max_oracle_passes_skipped, args.min_tests, args.solution_field)
        generation = None if args.solution_field else _generation(args)
        return run_filter_tests(
            args.input,
            args.output,
            options,
            _executor(args),
            generation,
            batch_size=args.batch_size,
            **_io(args),
        )

    return _run("filter-tests", argv, build, body)


def sample(argv: list[str]) -> int:
    """`acecoder sample`: N programs per question with the paper's prompt and settings."""
    from data_gen.config import paper_sampler_generation

    def build(parser: argparse.ArgumentParser) -> None:
        _io_args(parser)
        parser.add_argument("--prompt-tests", choices=["original", "kept"], default="original")
        parser.add_argument("--postprocess", choices=["fence", "released"], default="fence")
        parser.add_argument("--model-name", default=None, help="model_name recorded with each sample")
        parser.add_argument("--keep-raw", action="store_true", help="also store each raw reply")
        _backend_args(parser, paper_sampler_generation())
        _ray_generation_args(parser)

    def body(args: argparse.Namespace) -> Any:
        from data_gen.stages.sample import SampleOptions, run_sample

        options = SampleOptions(args.prompt_tests, args.postprocess, args.model_name, args.keep_raw)
        return run_sample(args.input, args.output, _generation(args), options, **_io(args))

    return _run("sample", argv, build, body)


def score(argv: list[str]) -> int:
    """`acecoder score`: execute sampled programs; write AceCode-87K rows."""

    def build(parser: argparse.ArgumentParser) -> None:
        _io_args(parser)
        parser.add_argument(
            "--released-pass-rate",
            action="store_true",
            help="divide by the test count before filtering, as the released AceCode-87K does",
        )
        parser.add_argument("--batch-size", type=int, default=8, help="questions per executor call")
        _executor_args(parser)

    def body(args: argparse.Namespace) -> Any:
        from data_gen.stages.score import ScoreOptions, run_score

        options = ScoreOptions(args.released_pass_rate)
        return run_score(
            args.input, args.output, _executor(args), options, batch_size=args.batch_size, **_io(args)
        )

    return _run("score", argv, build, body)


def pairs(argv: list[str]) -> int:
    """`acecoder pairs`: AceCodePair rows by the released rule."""

    def build(parser: argparse.ArgumentParser) -> None:
        _io_args(parser)
        parser.add_argument("--strict", action="store_true", help="the paper's > 0.8 and > 0.4 (release: >=)")
        parser.add_argument("--min-chosen", type=float, default=0.8)
        parser.add_argument("--min-gap", type=float, default=0.4)
        parser.add_argument("--max-pairs-per-question", type=int, default=0, help="0 = all (released)")
        parser.add_argument(
            "--cross-model", action="store_true", help="pair programs of different models too"
        )
        parser.add_argument("--model", default=None, help="only this sampling model's programs")
        parser.add_argument("--keep-non-ascii", action="store_true", help="do not skip non-ASCII questions")
        parser.add_argument(
            "--rejected-may-fail-all",
            action="store_true",
            help="a rejected program may pass no test (release: rejected pass rate > 0)",
        )

    def body(args: argparse.Namespace) -> Any:
        from data_gen.stages.pairs import PairOptions, run_pairs

        options = PairOptions(
            min_chosen=args.min_chosen,
            min_gap=args.min_gap,
            strict=args.strict,
            max_pairs_per_question=args.max_pairs_per_question,
            cross_model=args.cross_model,
            model=args.model,
            skip_non_ascii=not args.keep_non_ascii,
            rejected_may_fail_all=args.rejected_may_fail_all,
        )
        return run_pairs(args.input, args.output, options, **_io(args))

    return _run("pairs", argv, build, body)


def hard_subset(argv: list[str]) -> int:
    """`acecoder hard-subset`: the RL subset (mean <= median, then std >= median)."""

    def build(parser: argparse.ArgumentParser) -> None:
        _io_args(parser)
        parser.add_argument(
            "--models", default="", help="comma-separated model names whose pass rates count (default: all)"
        )

    def body(args: argparse.Namespace) -> Any:
        from data_gen.stages.hard_subset import HardOptions, run_hard_subset

        models = [m.strip() for m in args.models.split(",") if m.strip()]
        return run_hard_subset(args.input, args.output, HardOptions(models), **_io(args))

    return _run("hard-subset", argv, build, body)


def test_strength(argv: list[str]) -> int:
    """`acecoder test-strength`: mutation score of each question's tests."""

    def build(parser: argparse.ArgumentParser) -> None:
        _io_args(parser)
        parser.add_argument("--max-mutants", type=int, default=20)
        parser.add_argument("--solution-field", default=None, help="reference solution column")
        _executor_args(parser)

    def body(args: argparse.Namespace) -> Any:
        from data_gen.stages.test_strength import StrengthOptions, run_test_strength

        options = StrengthOptions(args.max_mutants, args.solution_field)
        return run_test_strength(args.input, args.output, _executor(args), options, **_io(args))

    return _run("test-strength", argv, build, body)


def contamination(argv: list[str]) -> int:
    """`acecoder contamination`: n-gram overlap against HumanEval and local benchmark files."""

    def build(parser: argparse.ArgumentParser) -> None:
        _io_args(parser)
        parser.add_argument("--n", type=int, default=10, help="word n-gram length")
        parser.add_argument("--threshold", type=float, default=0.5, help="flag when overlap >= this")
        parser.add_argument("--benchmark", action="append", default=[], help="local benchmark JSONL/parquet")
        parser.add_argument("--no-humaneval", action="store_true")

    def body(args: argparse.Namespace) -> Any:
        from data_gen.stages.contamination_check import ContaminationOptions, report_path, run_contamination

        options = ContaminationOptions(args.n, args.threshold, not args.no_humaneval, args.benchmark)
        stats = run_contamination(args.input, args.output, options, **_io(args))
        print(f"report: {report_path(args.output)}", file=sys.stderr)
        return stats

    return _run("contamination", argv, build, body)


def pipeline(argv: list[str]) -> int:
    """`acecoder pipeline --config FILE [key=value ...]`: every stage with caching and a time breakdown."""

    def build(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--config", required=True, help="YAML in configs/data/")
        parser.add_argument(
            "overrides", nargs="*", help="dotted key=value overrides, e.g. sample.generation.n=4"
        )

    def body(args: argparse.Namespace) -> None:
        from acecoder_jax.common.config import load_config
        from data_gen.config import PipelineConfig
        from data_gen.stages.runner import resolve_path, run_pipeline

        config = load_config(PipelineConfig, resolve_path(args.config), args.overrides)
        run_pipeline(config)

    return _run("pipeline", argv, build, body)
