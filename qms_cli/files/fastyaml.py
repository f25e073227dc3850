"""Bulk reading of records with libyaml (PyYAML's C loader), resolving scalars by the
YAML 1.2 core schema as ruamel.yaml does, so both readers agree: `yes`, `on`, `no` stay
text, `012` is twelve, `0o12` is ten, `1_000` is a thousand, `12:30` is text. Duplicate
keys are an error. The record checks of yamlio (anchors, aliases, tags, depth) apply."""

from __future__ import annotations

import re
from typing import Any

import yaml

try:
    _Base = yaml.CSafeLoader
except AttributeError:  # PyYAML built without libyaml
    _Base = yaml.SafeLoader


class Loader12(_Base):
    """CSafeLoader with YAML 1.2 core-schema scalars (maps and lists are built by
    `construct`, which refuses duplicate keys)."""

    def construct_yaml_int(self, node):
        text = self.construct_scalar(node).replace("_", "")
        sign = -1 if text.startswith("-") else 1
        text = text.lstrip("+-")
        if text.startswith("0b"):
            return sign * int(text[2:], 2)
        if text.startswith("0o"):
            return sign * int(text[2:], 8)
        if text.startswith("0x"):
            return sign * int(text[2:], 16)
        return sign * int(text, 10)

    def construct_yaml_float(self, node):
        text = self.construct_scalar(node).replace("_", "").lower()
        if text.endswith(".inf"):
            return float("-inf") if text.startswith("-") else float("inf")
        if text == ".nan":
            return float("nan")
        return float(text)


# Scalars by the YAML 1.2 core schema (as ruamel.yaml resolves them); timestamps as before.
Loader12.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag.endswith((":timestamp", ":str"))]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Loader12.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
Loader12.add_implicit_resolver(
    "tag:yaml.org,2002:null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
Loader12.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0o[0-7_]+|[-+]?0x[0-9a-fA-F_]+|[-+]?[0-9][0-9_]*)$"),
    list("-+0123456789"))
Loader12.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
               r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+.0123456789"))
# '=' is YAML's value marker (ruamel resolves it so): resolved alike, refused by the checks
Loader12.add_implicit_resolver("tag:yaml.org,2002:value", re.compile(r"^=$"), ["="])
Loader12.add_implicit_resolver("tag:yaml.org,2002:merge", re.compile(r"^<<$"), ["<"])
Loader12.add_constructor("tag:yaml.org,2002:int", Loader12.construct_yaml_int)
Loader12.add_constructor("tag:yaml.org,2002:float", Loader12.construct_yaml_float)


def compose(text: str):
    return yaml.compose(text, Loader=Loader12)


_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_loader: Loader12 | None = None


def construct(node) -> Any:
    """The data of a composed record. Plain maps, lists and text are built directly (the
    generic constructor's generators cost more than libyaml's parsing); other scalars go
    through Loader12's constructors. Tags were checked by yamlio before this is called."""
    global _loader
    if _loader is None:
        _loader = Loader12("")
        _loader.dispose()
    constructors = _loader.yaml_constructors
    loader = _loader

    def build(node):
        tag = node.tag
        if tag == _STR:
            return node.value
        if tag == _MAP:
            out = {}
            for key_node, value_node in node.value:
                key = build(key_node)
                try:
                    dup = key in out
                except TypeError:
                    raise yaml.constructor.ConstructorError(
                        None, None, "found an unhashable key", key_node.start_mark) from None
                if dup:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        f"found duplicate key \"{key}\"", key_node.start_mark)
                out[key] = build(value_node)
            return out
        if tag == _SEQ:
            return [build(v) for v in node.value]
        return constructors[tag](loader, node)

    return build(node)


def events(text: str):
    return yaml.parse(text, Loader=Loader12)


YAMLError = yaml.YAMLError
