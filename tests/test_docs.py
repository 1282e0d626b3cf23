"""The documentation points at what is there: the modules and functions docs/architecture.md names exist, and every
relative link in README.md and docs/*.md leads to a file, and to a heading of it where the link names one."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARCHITECTURE = ROOT / "docs" / "architecture.md"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# A path into the package: recipe_cli/, recipe_cli/training/, recipe_cli/training/loop.py.
PACKAGE_PATH = re.compile(r"recipe_cli(?:/[\w-]+)*(?:\.py)?/?")
# A module named in code and a function or class named right after it: `recipe_cli/training/loop.py` `train_epochs`.
MODULE_AND_NAME = re.compile(r"`(recipe_cli/[\w/-]+\.py)`\s+`([A-Za-z_]\w*)")
FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
INLINE_CODE = re.compile(r"`[^`\n]*`")
# [text](target) and ![alt](target); the text may run over a line break.
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$", re.M)


def package_paths(text: str) -> list[str]:
    return sorted({match.group(0) for match in PACKAGE_PATH.finditer(text)})


def test_architecture_names_the_package_paths_it_walks_through():
    # The page names folders and modules by their paths; the walks need several of them.
    paths = package_paths(ARCHITECTURE.read_text(encoding="utf8"))
    assert len([p for p in paths if p.endswith(".py")]) >= 20, paths


def test_every_package_path_in_architecture_exists():
    missing = [path for path in package_paths(ARCHITECTURE.read_text(encoding="utf8")) if not (ROOT / path).exists()]
    assert missing == [], f"docs/architecture.md names paths that are not in the repository: {missing}"


def test_every_function_architecture_names_in_a_module_is_defined_there():
    text = ARCHITECTURE.read_text(encoding="utf8")
    pairs = sorted(set(MODULE_AND_NAME.findall(text)))
    assert len(pairs) >= 10, pairs
    missing = []
    for module, name in pairs:
        path = ROOT / module
        source = path.read_text(encoding="utf8") if path.is_file() else ""
        if not re.search(rf"^\s*(?:async\s+)?(?:def|class)\s+{name}\b|^{name}\s*[:=]", source, re.M):
            missing.append(f"{module}: {name}")
    assert missing == [], f"docs/architecture.md names functions their modules do not define: {missing}"


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text (links and code marks dropped), lower case, every character but
    letters, digits, '_', '-' and spaces removed, spaces made '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors of a page's headings; a repeated heading's anchor gets -1, -2, ... as on GitHub."""
    seen: dict[str, int] = {}
    found = set()
    for match in HEADING.finditer(FENCE.sub("", page.read_text(encoding="utf8"))):
        base = slug(match.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        found.add(base if n == 0 else f"{base}-{n}")
    return found


def links(page: Path) -> list[str]:
    """The link targets of a page, outside code."""
    text = INLINE_CODE.sub("", FENCE.sub("", page.read_text(encoding="utf8")))
    return LINK.findall(text)


def test_slug_follows_github():
    assert slug("Label Studio's flat exports and `--label-config`") == "label-studios-flat-exports-and---label-config"
    assert slug("Overrides: config < environment < command line") == "overrides-config--environment--command-line"
    assert slug("Evaluate: recipe-eval") == "evaluate-recipe-eval"
    assert slug("How `recipe_cli/` is laid out") == "how-recipe_cli-is-laid-out"


def test_pages_link_to_each_docs_page():
    readme = set(links(ROOT / "README.md"))
    unlinked = [page.name for page in PAGES[1:] if f"docs/{page.name}" not in readme]
    assert unlinked == [], f"README.md links no docs page of these: {unlinked}"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_leads_to_a_file_and_heading(page):
    broken = []
    for target in links(page):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: no file {file.relative_to(ROOT) if file.is_relative_to(ROOT) else file}")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no heading of {file.relative_to(ROOT)} has the anchor #{anchor}")
    assert broken == [], f"{page.relative_to(ROOT)}: {broken}"
