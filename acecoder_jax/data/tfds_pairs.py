"""A tfds builder that turns AceCodePair JSONL/parquet into array_record shards (no TensorFlow needed).

For large runs: convert once (`python -m acecoder_jax.data.tfds_pairs SRC... --out DIR`), then point
`data.train` at DIR. Rows are stored as-is (text fields); checking and tokenization happen at load time, so
one
converted dataset serves any tokenizer or max length. Reading uses tfds' random-access array_record data
source.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import tensorflow_datasets as tfds

from acecoder_jax.common.rows import iter_rows

NAME = "ace_code_pairs"
VERSION = "1.0.0"
TEXT_FIELDS = ("id", "instruction", "input", "chosen", "rejected")


class AceCodePairs(tfds.core.GeneratorBasedBuilder):
    """AceCodePair rows (id, instruction, input, chosen, rejected) plus where each came from."""

    VERSION = tfds.core.Version(VERSION)

    def __init__(self, *, sources: dict[str, Sequence[str]] | None = None, **kwargs: Any) -> None:
        self._sources = {split: [str(p) for p in paths] for split, paths in (sources or {}).items()}
        super().__init__(**kwargs)

    def _info(self) -> tfds.core.DatasetInfo:
        features = {name: tfds.features.Text() for name in TEXT_FIELDS}
        features["where"] = tfds.features.Text()  # source file:row, for error messages after conversion
        return self.dataset_info_from_configs(features=tfds.features.FeaturesDict(features))

    def _split_generators(self, dl_manager: Any) -> dict[str, Any]:
        del dl_manager  # local files only
        return {split: self._generate_examples(paths) for split, paths in self._sources.items()}

    def _generate_examples(self, paths: Sequence[str]) -> Iterator[tuple[str, dict[str, str]]]:
        for path in paths:
            for where, row in iter_rows(path):
                # Store what is there; missing/ill-typed fields are reported when training reads the rows.
                example = {name: _as_text(row.get(name)) for name in TEXT_FIELDS}
                example["where"] = where
                yield where, example


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


def build_array_record(sources: dict[str, Sequence[str]], out_dir: str | Path) -> Path:
    """Convert {split: [files]} into array_record under `out_dir`; returns the dataset version dir."""
    builder = AceCodePairs(sources=sources, data_dir=str(out_dir), file_format="array_record")
    builder.download_and_prepare(download_config=tfds.download.DownloadConfig(try_download_gcs=False))
    return Path(builder.data_dir)


def iter_array_record_pairs(
    dataset_dir: str | Path, split: str = "train"
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, row) from a converted dataset (any dir containing the builder's version dir), by random
    access."""
    version_dir = _find_version_dir(Path(dataset_dir))
    builder = tfds.builder_from_directory(str(version_dir))
    source = builder.as_data_source(split=split)
    for index in range(len(source)):
        example = source[index]
        row = {name: _decode(example[name]) for name in TEXT_FIELDS}
        where = _decode(example["where"]) or f"{version_dir}:{split}[{index}]"
        yield f"{where} (via {version_dir.name} {split}[{index}])", row


def _decode(value: Any) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _find_version_dir(path: Path) -> Path:
    if (path / "dataset_info.json").is_file():
        return path
    found = sorted(p.parent for p in path.glob("**/dataset_info.json"))
    if not found:
        raise FileNotFoundError(f"{path}: no tfds dataset (dataset_info.json) found")
    return found[-1]


def main(argv: list[str] | None = None) -> int:
    """CLI: convert JSONL/parquet pair files to array_record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train", nargs="+", help="training pair files (JSONL or parquet)")
    parser.add_argument("--eval", nargs="*", default=[], help="held-out pair files")
    parser.add_argument("--out", required=True, help="output directory (tfds data_dir)")
    args = parser.parse_args(argv)
    sources = {"train": args.train} | ({"eval": args.eval} if args.eval else {})
    print(build_array_record(sources, args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
