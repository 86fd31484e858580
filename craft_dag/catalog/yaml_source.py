"""YAML loading that remembers where every value came from.

People edit culture packs by hand, so a validation error must point at a line. PyYAML's
composer keeps a start mark on every node; we walk the node tree once, build plain Python
values, and record the line of each value under its path (a tuple of keys and list indices),
which is the shape of pydantic's error ``loc``.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Path_ = tuple[str | int, ...]

# libyaml's parser is ~10x faster than the pure-Python one and keeps the same marks.
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlSourceError(ValueError):
    """A file that is not readable YAML, with the line where the parser gave up."""

    def __init__(self, file: Path, line: int, message: str) -> None:
        super().__init__(f"{file}:{line}: {message}")
        self.file = file
        self.line = line
        self.message = message


@dataclass
class YamlDocument:
    """A parsed YAML file: its value and the 1-based line of every path inside it."""

    file: Path
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    duplicate_keys: list[tuple[Path_, int]] = field(default_factory=list)

    def line_of(self, path: Path_) -> int:
        """The line of ``path``, or of its nearest ancestor that has one (a missing key)."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)


def _build(node: yaml.Node, path: Path_, doc: YamlDocument, constructor: Any) -> Any:
    doc.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = constructor.construct_object(key_node, deep=True)
            if isinstance(key, list):  # unhashable key: keep it visible in errors
                key = str(key)
            child = (*path, key)
            if key in out:
                doc.duplicate_keys.append((child, key_node.start_mark.line + 1))
            out[key] = _build(value_node, child, doc, constructor)
            # A key's own line is where a reader looks for it, not where its value starts.
            doc.lines[child] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), doc, constructor) for i, item in enumerate(node.value)]
    return constructor.construct_object(node, deep=True)


def load_yaml(file: Path) -> YamlDocument:
    """Parse one YAML file with line information; raise YamlSourceError if it is malformed."""
    file = Path(file)
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise YamlSourceError(file, 1, f"not UTF-8 text ({exc.reason})") from exc
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        doc = YamlDocument(file=file, data=None)
        if node is not None:
            doc.data = _build(node, (), doc, loader)
        return doc
    except yaml.MarkedYAMLError as exc:
        # The context mark is where the broken construct began (an unclosed bracket, a key
        # without a colon); the problem mark is where the parser noticed, often at the end.
        mark = exc.context_mark or exc.problem_mark
        line = mark.line + 1 if mark is not None else 1
        message = " ".join(part for part in (exc.context, exc.problem) if part)
        if exc.context_mark is not None and exc.problem_mark is not None:
            message += f" (noticed on line {exc.problem_mark.line + 1})"
        raise YamlSourceError(file, line, f"malformed YAML: {message}") from exc
    except yaml.YAMLError as exc:
        raise YamlSourceError(file, 1, f"malformed YAML: {exc}") from exc
    finally:
        loader.dispose()
