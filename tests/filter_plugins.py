"""The roles' filter plugins as modules, for their unit tests (no Ansible needed)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROLES = Path(__file__).resolve().parents[1] / "roles"


def load_filter_plugin(role: str, file: str) -> ModuleType:
    """Import roles/ROLE/filter_plugins/FILE as a module (the recipe of importlib's docs)."""
    name = f"swarmstack_{role}_{Path(file).stem}"
    spec = importlib.util.spec_from_file_location(name, ROLES / role / "filter_plugins" / file)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module
