"""The RL batch source: rollout batches made with the current policy, served as optimizer updates.

A rollout batch (rollout.prompts questions x group_size samples) is sampled with the parameters in the train
state it is asked with, judged, given advantages, shuffled, and served as rows / train.batch_size updates.
Its rows are written to `buffer_dir` once, so a run resumed between two updates of one rollout batch trains on
exactly the rows it would have (the policy that sampled them no longer exists). The position (episode, next
question) and the per-test pass record travel in `get_state()`, saved with every checkpoint.

A different rollout engine (vLLM on GPU nodes with weight sync) plugs in as another `sample` function.

Multi-host: every process takes the same questions in the same order (so the position and pass record are
the same everywhere), samples and judges only its share of them (its own executor on its own CPUs), and the
judged rows are gathered so advantages (the global whitening), filtering and metrics see the whole batch
alike on every process; each update then feeds each process's share of its rows. The job's rollouts equal
those of one process given every device (each prompt's samples depend only on its position, not the layout).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jax
import numpy as np

from acecoder_jax.common.atomic_build import atomic_write_bytes
from acecoder_jax.rl.rewards import Reward
from acecoder_jax.rl.rollout import Question, collect_rollouts
from acecoder_jax.rl.rollout_batch import (
    RolloutBatch,
    add_advantages,
    concat,
    fixed_width,
    gathered,
    keep_informative,
    rollout_metrics,
)
from acecoder_jax.train.hosts import gather_objects, gather_rows, multi_process, process_share

# (params, prompts, n, seed, prompt_seeds) -> sample.Generation with log-probabilities
Sampler = Callable[[Any, list[tuple[int, ...]], int, int, list[int]], Any]
# (params of the reference, rows) -> [R, W] log-probabilities of the reference
RefLogprobs = Callable[[dict[str, np.ndarray]], np.ndarray]

GLOBAL_TOKENS = "global_tokens"  # host-side: the whole update's token count (all processes), no row field


def device_fields(rows: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The fields of an update batch that go on the mesh: every row field, not the host-side token count."""
    return {k: v for k, v in rows.items() if k != GLOBAL_TOKENS}


@dataclass(frozen=True)
class SourceSettings:
    """What one rollout batch is and how it becomes updates."""

    prompts: int
    group_size: int
    train_batch: int
    prompt_width: int
    max_new_tokens: int
    pad_id: int
    seed: int
    estimator: str = "reinforce"
    kl_coef: float = 0.0
    kl_estimator: str = "k1"
    gamma: float = 1.0
    chunk_prompts: int = 0
    truncation: str = "keep"
    overlong_buffer: int = 0
    overlong_penalty: float = 0.0
    dynamic_filter: bool = False
    max_extra_prompts: int = 0
    shuffle: bool = True
    row_weight: Callable[[np.ndarray], np.ndarray] | None = None  # response_mask -> [R] loss weights

    @property
    def updates_per_rollout(self) -> int:
        return self.prompts * self.group_size // self.train_batch


class RolloutSource:
    """`train.batch_source.BatchSource` for RL (see the module docstring)."""

    def __init__(
        self,
        questions: Sequence[Question],
        settings: SourceSettings,
        *,
        sample: Sampler,
        decode: Callable[[list[int]], str],
        reward: Reward,
        ref_logprobs: RefLogprobs | None,
        buffer_dir: Path,
    ) -> None:
        rows = settings.prompts * settings.group_size
        if rows % settings.train_batch:
            raise ValueError(
                f"rollout rows ({settings.prompts} prompts x {settings.group_size}) must be a multiple of "
                f"train.batch_size {settings.train_batch}"
            )
        if not questions:
            raise ValueError("no RL prompts")
        self.questions = list(questions)
        self.settings = settings
        self._sample, self._decode, self._reward, self._ref = sample, decode, reward, ref_logprobs
        self.buffer_dir = Path(buffer_dir)
        self.episode, self.cursor, self.rollout_index, self.update = 0, 0, 0, 0
        self.passed: dict[str, list[bool]] = {}  # question id -> per test: did any rollout pass it
        self.sampled: dict[str, int] = {}  # question id -> rollouts judged
        self._buffer: dict[str, np.ndarray] | None = None
        self._metrics: dict[str, float] = {}  # of the rollout batch being served

    # ---- BatchSource ----

    def next_batch(self, state: Any) -> tuple[dict[str, np.ndarray], dict[str, float]]:
        """The next update's rows, with the metrics of the rollout batch they come from (on every update of
        it, so whichever update the loop logs carries them)."""
        if self._buffer is None or self.update >= self.settings.updates_per_rollout:
            self._metrics = self._new_rollout_batch(state["params"])
        size = self.settings.train_batch
        update = {k: v[self.update * size : (self.update + 1) * size] for k, v in self._buffer.items()}
        share = process_share(size)
        rows = {k: v[share] for k, v in update.items()}
        rows[GLOBAL_TOKENS] = np.asarray(update["attention_mask"].sum(), np.int64)
        self.update += 1
        return rows, {**self._metrics, "rollout": float(self.rollout_index)}

    def get_state(self) -> dict[str, Any]:
        return {
            "episode": self.episode,
            "cursor": self.cursor,
            "rollout": self.rollout_index,
            "update": self.update,
            "passed": self.passed,
            "sampled": self.sampled,
            "metrics": self._metrics,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.episode, self.cursor = int(state["episode"]), int(state["cursor"])
        self.rollout_index, self.update = int(state["rollout"]), int(state["update"])
        self.passed = {k: list(v) for k, v in state["passed"].items()}
        self.sampled = {k: int(v) for k, v in state["sampled"].items()}
        self._metrics = {k: float(v) for k, v in state.get("metrics", {}).items()}
        self._buffer = None
        if self.rollout_index and self.update < self.settings.updates_per_rollout:
            with np.load(self._buffer_path(self.rollout_index)) as saved:
                self._buffer = {k: saved[k] for k in saved.files}

    @property
    def episodes_done(self) -> float:
        """Passes over the prompts so far (fractional)."""
        return self.episode + self.cursor / len(self.questions)

    # ---- rollout batches ----

    def _take(self, count: int) -> list[Question]:
        """The next `count` questions in this episode's order (wrapping into the next episode)."""
        out: list[Question] = []
        while len(out) < count:
            order = self._order(self.episode)
            take = min(count - len(out), len(order) - self.cursor)
            out += [self.questions[i] for i in order[self.cursor : self.cursor + take]]
            self.cursor += take
            if self.cursor == len(order):
                self.episode, self.cursor = self.episode + 1, 0
        return out

    def _order(self, episode: int) -> np.ndarray:
        indices = np.arange(len(self.questions))
        if self.settings.shuffle:
            np.random.default_rng((self.settings.seed, episode)).shuffle(indices)
        return indices

    def _collect(
        self, params: Any, questions: list[Question], seed: int, first: int
    ) -> tuple[RolloutBatch, dict]:
        """This process's share of `questions` (positions `first`... of the rollout batch) sampled and judged,
        then every process's rows gathered in question order; with the run's counts and times."""
        s = self.settings
        share = process_share(len(questions))
        out = collect_rollouts(
            questions[share],
            generate=lambda prompts, n, seed, positions: self._sample(params, prompts, n, seed, positions),
            decode=self._decode,
            reward=self._reward,
            group_size=s.group_size,
            seed=seed,
            chunk_questions=s.chunk_prompts,
            truncation=s.truncation,
            overlong_buffer=s.overlong_buffer,
            overlong_penalty=s.overlong_penalty,
            max_new_tokens=s.max_new_tokens,
            first_index=first + share.start,
        )
        batch = gathered(fixed_width(out, s.prompt_width, s.max_new_tokens, s.pad_id))
        return batch, _gathered_info({"counts": out.counts, "seconds": out.seconds})

    def _new_rollout_batch(self, params: Any) -> dict[str, float]:
        s = self.settings
        began = time.perf_counter()
        self.rollout_index += 1
        self.update = 0
        seed = s.seed * 7919 + self.rollout_index * 104_729
        batch, info = self._collect(params, self._take(s.prompts), seed, 0)
        parts, infos, extra = [batch], [info], 0
        budget = s.max_extra_prompts or s.prompts
        if s.dynamic_filter:
            processes = jax.process_count()
            while (kept := sum(_informative(p) for p in parts)) < s.prompts and extra < budget:
                more = min(s.prompts - kept, budget - extra)
                more = -(-more // processes) * processes  # whole per-process shares
                part, part_info = self._collect(params, self._take(more), seed, s.prompts + extra)
                extra += more
                parts.append(part)
                infos.append(part_info)
        batch = concat(parts)
        filtered = 0
        if s.dynamic_filter:
            batch, filtered = keep_informative(batch, s.prompts)
        self._record_tests(concat(parts))
        ref = None
        if self._ref is not None:  # each process computes its share of the rows, then they are gathered
            share = process_share(batch.rows)
            ref = gather_rows(self._ref({k: v[share] for k, v in batch.arrays.items()}))
        metrics = add_advantages(
            batch,
            estimator=s.estimator,
            kl_coef=s.kl_coef,
            kl_estimator=s.kl_estimator,
            gamma=s.gamma,
            ref_logprobs=ref,
        )
        weight = s.row_weight or (lambda mask: mask.sum(axis=1).astype(np.float32))
        batch.arrays["weight"] = weight(batch.arrays["response_mask"]).astype(np.float32)
        order = np.arange(batch.rows)
        if s.shuffle:
            np.random.default_rng((s.seed, self.rollout_index, 1)).shuffle(order)
        self._buffer = {k: v[order] for k, v in batch.arrays.items()}
        self._save_buffer()
        metrics |= rollout_metrics(batch)
        metrics |= _timing(infos, time.perf_counter() - began)
        tokens = float(sum(p.response_lengths.sum() for p in parts))
        metrics["rollout_tokens_per_s"] = tokens / max(metrics["time_generate"], 1e-9)
        metrics["filtered_groups"] = float(filtered)
        metrics["extra_prompts"] = float(extra)
        metrics["episode"] = self.episodes_done
        for key in ("timeout", "crash", "memory", "late", "syntax_error", "load_error"):
            metrics[f"programs_{key}"] = float(sum(i["counts"].get(key, 0.0) for i in infos))
        return metrics

    def _record_tests(self, batch: RolloutBatch) -> None:
        g = batch.group_size
        for group, question_id in enumerate(batch.question_ids):
            for row in range(group * g, (group + 1) * g):
                outcomes = batch.outcomes[row]
                seen = self.passed.setdefault(question_id, [False] * len(outcomes))
                if len(seen) == len(outcomes):
                    self.passed[question_id] = [a or o == "pass" for a, o in zip(seen, outcomes)]
            self.sampled[question_id] = self.sampled.get(question_id, 0) + g

    def _buffer_path(self, index: int) -> Path:
        # one file per process (each writes its own copy: a shared run_dir is not assumed)
        suffix = f".p{jax.process_index()}" if multi_process() else ""
        return self.buffer_dir / f"rollout_{index:06d}{suffix}.npz"

    def _save_buffer(self) -> None:
        import io

        self.buffer_dir.mkdir(parents=True, exist_ok=True)
        data = io.BytesIO()
        np.savez(data, **self._buffer)
        atomic_write_bytes(self._buffer_path(self.rollout_index), data.getvalue())
        for old in self.buffer_dir.glob(self._buffer_path(0).name.replace("000000", "*")):
            if int(old.name.split("_")[1].split(".")[0]) < self.rollout_index - 1:
                old.unlink(missing_ok=True)

    # ---- the per-run report of tests no rollout passes ----

    def unsatisfied_tests(self) -> list[dict[str, Any]]:
        """Tests no rollout has passed so far, with whether the question's other tests were passed."""
        by_id = {q.id: q for q in self.questions}
        report = []
        for question_id, passed in self.passed.items():
            question = by_id.get(question_id)
            if question is None or all(passed):
                continue
            for index, ok in enumerate(passed):
                if not ok:
                    report.append(
                        {
                            "id": question_id,
                            "test_index": index,
                            "test": question.tests[index] if index < len(question.tests) else None,
                            "rollouts": self.sampled.get(question_id, 0),
                            "others_passed": any(passed),
                        }
                    )
        return report

    def write_unsatisfied(self, path: Path) -> int:
        """Write the report as JSONL; returns how many tests it lists."""
        rows = self.unsatisfied_tests()
        text = "".join(json.dumps(row) + "\n" for row in rows)
        atomic_write_bytes(path, text.encode())
        return len(rows)


def _informative(batch: RolloutBatch) -> int:
    from acecoder_jax.rl.rollout_batch import informative_groups

    return int(informative_groups(batch.pass_rates, batch.group_size).sum())


def _gathered_info(info: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Counts summed over the processes; times the slowest process's (the step waits for it)."""
    everyone = gather_objects(info)
    counts: dict[str, float] = {}
    seconds: dict[str, float] = {}
    for one in everyone:
        for key, value in one["counts"].items():
            counts[key] = counts.get(key, 0.0) + value
        for key, value in one["seconds"].items():
            seconds[key] = max(seconds.get(key, 0.0), value)
    return {"counts": counts, "seconds": seconds}


def _timing(infos: list[dict], total: float) -> dict[str, float]:
    generate = sum(i["seconds"]["generate"] for i in infos)
    waited = sum(i["seconds"]["reward_wait"] for i in infos)
    return {
        "time_generate": generate,
        "time_reward_wait": waited,  # reward time not hidden behind generation
        "time_rollout": total,
    }
