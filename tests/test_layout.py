"""The import contracts in pyproject.toml (`lint-imports`, run by `make test`) hold for the
tree, and break when a wrong import is planted in a copy of it: the core reaching up into the
web app, a domain module reaching into the workers, a cycle hidden behind TYPE_CHECKING, the
product importing a sandbox."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("gateway", "tenants", "web", "workers", "sandbox", "cli")

# lint-imports on the tree in the current directory. The project is installed editable, and
# that finder would answer every import with the checkout's own packages: drop it, so the
# copy's packages are the ones read.
_LINT_HERE = """
import sys
sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")]
sys.path.insert(0, ".")
from importlinter.cli import lint_imports
sys.exit(lint_imports(no_cache=True, no_logo=True))
"""


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _LINT_HERE], cwd=tree, capture_output=True, text=True, check=False
    )


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def plant(tree: Path, module: str, line: str) -> None:
    path = tree / module
    path.write_text(path.read_text() + "\n" + line + "\n")


def test_the_tree_keeps_every_contract(tree: Path) -> None:
    result = lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "broken"),
    [
        ("gateway/settings.py", "from web import app", "only the CLI composes them all"),
        ("tenants/posting/service.py", "import workers.documents", "only the CLI composes"),
        ("tenants/posting/attempt.py", "import tenants.dinero.poster", "no import cycles"),
        ("web/ingest.py", "from workers import settings", "only the CLI composes them all"),
        ("tenants/outbox/repository.py", "from sandbox import state", "never imports a sandbox"),
        (
            "tenants/posting/sales.py",
            "from gateway.dinero import errors",
            "never to Dinero by name",
        ),
        ("tenants/outbox/sweeps.py", "import tenants.dinero.books", "never to Dinero by name"),
        ("sandbox/state.py", "import tenants.shops.repository", "the sandboxes stand apart"),
        (
            "tenants/accounts/users.py",
            "import typing\nif typing.TYPE_CHECKING:\n    from tenants.dashboard import admin",
            "no import cycles",
        ),
    ],
)
def test_a_planted_wrong_import_breaks_a_contract(
    tree: Path, module: str, line: str, broken: str
) -> None:
    plant(tree, module, line)
    result = lint(tree)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{broken}" in result.stdout.split("Broken contracts")[-1], result.stdout


def _readme_tree() -> set[str]:
    """The folders the README's layout tree names, as paths."""
    text = (ROOT / "README.md").read_text()
    block = text.split("## Layout", 1)[1].split("```", 2)[1]
    folders: set[str] = set()
    parents: list[str] = []
    for line in block.splitlines():
        name = line.strip().split(" ", 1)[0]
        if not name.endswith("/"):
            continue
        depth = (len(line) - len(line.lstrip())) // 2
        parents[depth:] = [name.rstrip("/")]
        folders.add("/".join(parents))
    return folders


def test_the_readme_layout_tree_matches_the_code() -> None:
    named = _readme_tree()
    packages = {
        path.parent.relative_to(ROOT).as_posix()
        for package in PACKAGES
        for path in (ROOT / package).rglob("__init__.py")
        if "templates" not in path.parts
    }
    assert named - {"tests", "bench", "gateway/migrations"} <= packages, named - packages
    assert packages <= named, f"packages the README's layout does not name: {packages - named}"


# Which folder writes each table: every statement that inserts, updates or deletes its rows
# (migrations aside) lives there, so "what changes a document?" has one place to look. Other
# features read these tables in joins of their own.
WRITERS = {"documents": "tenants/outbox/", "shops": "tenants/shops/"}


def writers_of(table: str, root: Path = ROOT) -> set[str]:
    statement = re.compile(rf"\b(INSERT INTO|UPDATE|DELETE FROM)\s+{table}\b")
    return {
        path.relative_to(root).as_posix()
        for package in PACKAGES
        for path in (root / package).rglob("*.py")
        if statement.search(path.read_text())
    }


@pytest.mark.parametrize("table", WRITERS)
def test_only_a_tables_own_folder_writes_it(table: str) -> None:
    writers = writers_of(table)
    assert writers, f"nothing writes {table}: the check has lost its way"
    assert {w for w in writers if not w.startswith(WRITERS[table])} == set()


def test_a_write_from_another_folder_is_caught(tree: Path) -> None:
    plant(tree, "tenants/team/members.py", '_X = "UPDATE shops SET name = $2 WHERE id = $1"')
    assert writers_of("shops", tree) - writers_of("shops") == {"tenants/team/members.py"}
