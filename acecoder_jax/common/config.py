"""Typed configs: dataclasses loaded from YAML with `key=value` overrides.

Unknown keys fail with the list of valid ones and the file (or override) that named them; values are checked
against the field's type, so `train.lr=abc` fails before any work starts.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class ConfigError(ValueError):
    """A config file or override that does not fit the config's schema."""


def load_config(cls: type[T], path: str | Path | None = None, overrides: Sequence[str] = ()) -> T:
    """Build `cls` from the YAML file at `path` (optional) and `key=value` overrides (dotted keys)."""
    data: dict[str, Any] = {}
    source = "<defaults>"
    if path is not None:
        source = str(path)
        data = read_yaml_mapping(path)
    for override in overrides:
        key, value = parse_override(override)
        check_key(cls, key, source=f"override {override!r}")
        set_dotted(data, key, value, source=f"override {override!r}")
    return from_dict(cls, data, source=source)


def read_yaml_mapping(path: str | Path) -> dict[str, Any]:
    """Read a YAML file that must hold a mapping; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text ({err})") from err
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: invalid YAML: {err}") from err
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(loaded).__name__}")
    return _resolve_includes(loaded, path, (path.resolve(),))


INCLUDE = "include"


def _resolve_includes(data: dict[str, Any], path: Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    """Expand `include: FILE` (or a list of files) in any mapping: the files' mappings, relative to the
    including file, merged in order under the mapping's own keys, which win (e.g. `mesh: {include:
    ../mesh/gpu-1x8.yaml}` or a top-level `include: ../model/qwen2.5-coder-7b.yaml`)."""
    merged: dict[str, Any] = {}
    names = data.get(INCLUDE, [])
    for name in [names] if isinstance(names, str) else names:
        if not isinstance(name, str):
            raise ConfigError(f"{path}: {INCLUDE}: expected a file name or a list of them, got {name!r}")
        target = (path.parent / name).resolve()
        if target in chain:
            raise ConfigError(f"{path}: {INCLUDE} {name!r} forms a cycle: {' -> '.join(map(str, chain))}")
        if not target.is_file():
            raise ConfigError(f"{path}: {INCLUDE} {name!r}: no such file ({target})")
        included = yaml.safe_load(target.read_text(encoding="utf-8")) or {}
        if not isinstance(included, dict):
            raise ConfigError(f"{target} (included by {path}): expected a mapping")
        merged = _deep_merge(merged, _resolve_includes(included, target, (*chain, target)))
    own = {
        key: _resolve_includes(value, path, chain) if isinstance(value, dict) else value
        for key, value in data.items()
        if key != INCLUDE
    }
    return _deep_merge(merged, own)


def _deep_merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in top.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = _deep_merge(out[key], value) if both else value
    return out


def parse_override(text: str) -> tuple[str, Any]:
    """Split `a.b=value`; the value is parsed as YAML (`1e-5` -> float, `[1,2]` -> list, `null` -> None)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r}: expected key=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"override {text!r}: empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value


def check_key(cls: type, key: str, *, source: str) -> None:
    """Fail unless dotted `key` names a field of dataclass `cls` (or lies under a free-form mapping)."""
    node: Any = cls
    walked = ""
    for part in key.split("."):
        if not dataclasses.is_dataclass(node):
            return  # below a dict/Any field: free-form
        fields = {f.name: f for f in dataclasses.fields(node) if f.init}
        if part not in fields:
            where = f" under {walked.rstrip('.')}" if walked else ""
            raise ConfigError(
                f"{source}: unknown key(s) {walked}{part}; valid keys{where}: {', '.join(sorted(fields))}"
            )
        node = _dataclass_in(typing.get_type_hints(node)[part])
        walked += part + "."


def _dataclass_in(tp: Any) -> Any:
    """The dataclass inside `tp` (itself, or the non-None member of an Optional), else `tp`."""
    if dataclasses.is_dataclass(tp):
        return tp
    members = [a for a in typing.get_args(tp) if a is not type(None)]
    if typing.get_origin(tp) in (typing.Union, types.UnionType) and len(members) == 1:
        return members[0]
    return tp


def set_dotted(data: dict[str, Any], key: str, value: Any, *, source: str) -> None:
    """Set `data[a][b] = value` for key `a.b`, creating mappings on the way."""
    parts = key.split(".")
    node = data
    for i, part in enumerate(parts[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"{source}: {'.'.join(parts[: i + 1])} is not a section")
        node = child
    node[parts[-1]] = value


def from_dict(cls: type[T], data: Mapping[str, Any], *, source: str, prefix: str = "") -> T:
    """Build dataclass `cls` from a mapping, rejecting unknown keys and ill-typed values."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: {prefix.rstrip('.') or 'config'} must be a mapping, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        valid = ", ".join(sorted(fields))
        raise ConfigError(
            f"{source}: unknown key(s) {', '.join(prefix + k for k in unknown)}; valid keys"
            f"{' under ' + prefix.rstrip('.') if prefix else ''}: {valid}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for name, value in data.items():
        kwargs[name] = coerce(hints[name], value, source=source, key=prefix + name)
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{source}: {prefix.rstrip('.') or cls.__name__}: {err}") from err


def coerce(tp: Any, value: Any, *, source: str, key: str) -> Any:
    """Check/convert one value to type `tp` (dataclass, Optional, Literal, list, tuple, dict, scalars)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        members = [arg for arg in args if arg is not type(None)]
        if len(members) == 1:
            return coerce(members[0], value, source=source, key=key)
        for arg in members:
            try:
                return coerce(arg, value, source=source, key=key)
            except ConfigError:
                continue
        raise ConfigError(f"{source}: {key}: {value!r} does not match {tp}")
    if origin is typing.Literal:
        if value in args:
            return value
        raise ConfigError(f"{source}: {key}: {value!r} is not one of {list(args)}")
    if dataclasses.is_dataclass(tp):
        if value is None:
            raise ConfigError(f"{source}: {key}: expected a section, got null")
        return from_dict(tp, value, source=source, prefix=key + ".")
    if origin in (list, Sequence) or tp is list:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{source}: {key}: expected a list, got {value!r}")
        item = args[0] if args else Any
        return [coerce(item, v, source=source, key=f"{key}[{i}]") for i, v in enumerate(value)]
    if origin is tuple or tp is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{source}: {key}: expected a list, got {value!r}")
        if args and args[-1] is not Ellipsis and len(args) != len(value):
            raise ConfigError(f"{source}: {key}: expected {len(args)} items, got {len(value)}")
        item_types = (
            [args[0]] * len(value) if args and args[-1] is Ellipsis else list(args or [Any] * len(value))
        )
        return tuple(
            coerce(t, v, source=source, key=f"{key}[{i}]") for i, (t, v) in enumerate(zip(item_types, value))
        )
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: {key}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{source}: {key}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{source}: {key}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)  # YAML 1.1 reads `1e-5` as a string
            except ValueError:
                pass
        raise ConfigError(f"{source}: {key}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{source}: {key}: expected a string, got {value!r}")
    if tp is Path:
        return Path(value)
    return value


def to_dict(config: Any) -> dict[str, Any]:
    """The resolved config as plain data (for run_dir/config.yaml)."""
    return dataclasses.asdict(config)


def dump_yaml(config: Any, path: str | Path) -> None:
    """Write the resolved config as YAML."""
    Path(path).write_text(yaml.safe_dump(to_dict(config), sort_keys=False), encoding="utf-8")
