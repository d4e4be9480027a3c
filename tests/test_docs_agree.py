"""The docs agree with the code: constructor defaults and the map of the layers."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path
from typing import Any

import llmrix
import llmrix.sync
from llmrix import RetryPolicy

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "llmrix"
GETTING_STARTED = ROOT / "docs" / "getting-started.md"
README = ROOT / "README.md"
MIB = 2**20


def documented_constructor() -> dict[str, Any]:
    """The ``LlmrixClient(...)`` block of getting-started.md, as name -> default value."""
    text = GETTING_STARTED.read_text(encoding="utf-8")
    section = text.split("## The client", 1)[1]
    block = section.split("```python\n", 1)[1].split("```", 1)[0]
    call = ast.parse(block).body[0]
    assert isinstance(call, ast.Expr) and isinstance(call.value, ast.Call)
    namespace = {"RetryPolicy": RetryPolicy}
    return {
        keyword.arg: eval(compile(ast.Expression(keyword.value), "docs", "eval"), namespace)
        for keyword in call.value.keywords
        if keyword.arg is not None
    }


def defaults(cls: type) -> dict[str, Any]:
    parameters = inspect.signature(cls).parameters.values()
    return {p.name: p.default for p in parameters}


def test_the_documented_constructor_defaults_are_the_code_s() -> None:
    documented = documented_constructor()
    assert documented == defaults(llmrix.LlmrixClient)
    sync = dict(documented)
    del sync["session"]  # the sync client makes its own, on its own loop
    sync["event_loop"] = "auto"  # the kind of that loop (docs/sync.md)
    assert sync == defaults(llmrix.sync.LlmrixClient)


def test_the_readme_points_to_the_one_list_of_defaults() -> None:
    readme = README.read_text(encoding="utf-8")
    assert "docs/getting-started.md#the-client" in readme
    assert not re.search(r"LlmrixClient\(\s*\n\s*base_url=None", readme)


def test_defaults_named_in_prose_agree_with_the_code() -> None:
    code = defaults(llmrix.LlmrixClient) | {"max_retries": RetryPolicy().max_retries}
    found = 0
    for page in [README, *sorted((ROOT / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        named = re.findall(r"`(\w+)` \(default ([\d.]+(?: MiB)?)", text)
        named += re.findall(r"^\| `(\w+)` \| ([\d.]+) s \|", text, re.M)
        for name, value in named:
            if name not in code:
                continue
            number = float(value.removesuffix(" MiB")) * (MIB if value.endswith("MiB") else 1)
            assert number == code[name], f"{page.name}: {name} default {value}"
            found += 1
    assert found >= 6


def modules() -> set[str]:
    names = {p.stem for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    names |= {f"{p.name}/" for p in PACKAGE.iterdir() if (p / "__init__.py").is_file()}
    return names


def mentioned(text: str, quote: str) -> set[str]:
    return set(re.findall(rf"{quote}(_{{0,2}}[a-z][a-z0-9_]*/?){quote}", text))


def test_the_layer_maps_list_exactly_the_modules_that_exist() -> None:
    readme = README.read_text(encoding="utf-8")
    section = readme.split("\n## Layers\n", 1)[1].split("\n## ", 1)[0]
    docstring = llmrix.__doc__ or ""
    for where, names in (
        ("README.md, Layers", mentioned(section, "`")),
        ("llmrix/__init__.py docstring", mentioned(docstring, "``")),
    ):
        assert names == modules(), (
            f"{where}: add {sorted(modules() - names)}, remove {sorted(names - modules())}"
        )


def test_every_install_from_the_index_also_says_how_from_a_checkout() -> None:
    checked = 0
    for page in [README, *sorted((ROOT / "docs").glob("*.md"))]:
        text = page.read_text(encoding="utf-8")
        for match in re.finditer(r"pip install '?llmrix(\[(\w+)\])?'?(?![-\w])", text):
            around = text[max(0, match.start() - 600) : match.end() + 600]
            extra = match.group(2)
            checkout = f"pip install '.[{extra}]'" if extra else "pip install ."
            assert checkout in around, f"{page.name}: {match.group(0)} without {checkout}"
            assert "once" in around and "published" in around, page.name
            checked += 1
    assert checked >= 4
