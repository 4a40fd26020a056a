"""The engine stays pure: only the standard library and ``app.models.enums`` are imported."""

import ast
import sys
from pathlib import Path

import pytest

import app.authz

AUTHZ_DIR = Path(app.authz.__file__).parent
ALLOWED_OWN = ("app.authz", "app.models.enums")


def _imports(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield node.module or ""


@pytest.mark.parametrize("path", sorted(AUTHZ_DIR.glob("*.py")), ids=lambda path: path.name)
def test_authz_imports_only_stdlib_and_enums(path):
    """No Flask, no SQLAlchemy, no HTTP: the engine decides on plain facts."""
    for module in _imports(path):
        own = module == "app.authz" or module.startswith(ALLOWED_OWN)
        assert own or module.split(".")[0] in sys.stdlib_module_names, module
