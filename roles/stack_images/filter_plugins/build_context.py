"""A digest of a Docker build context, to tag images by what they are made of."""

from __future__ import annotations

import fnmatch
import hashlib
from pathlib import Path
from typing import Any

_ALWAYS_SKIPPED = ("__pycache__", "*.pyc", ".pytest_cache", ".ruff_cache")


def _ignored(relative: str, patterns: list[str]) -> bool:
    parts = relative.split("/")
    if any(fnmatch.fnmatch(part, pat) for part in parts for pat in _ALWAYS_SKIPPED):
        return True
    ignored = False
    for pattern in patterns:
        negated = pattern.startswith("!")
        pat = pattern[1:] if negated else pattern
        if fnmatch.fnmatch(relative, pat) or fnmatch.fnmatch(relative, pat.rstrip("/") + "/*"):
            ignored = not negated
    return ignored


def build_context_digest(path: str, *extra: Any) -> str:
    """Hash the files Docker would send from ``path`` (after .dockerignore) and ``extra``."""
    root = Path(path)
    if not (root / "Dockerfile").is_file():
        raise ValueError(f"{path} is not a Docker build context: it has no Dockerfile")
    ignore_file = root / ".dockerignore"
    patterns = []
    if ignore_file.is_file():
        lines = ignore_file.read_text(encoding="utf-8").splitlines()
        patterns = [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
    digest = hashlib.sha256()
    for item in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = item.relative_to(root).as_posix()
        if relative == "Dockerfile" or not _ignored(relative, patterns):
            digest.update(relative.encode() + b"\0" + item.read_bytes() + b"\0")
    for value in extra:
        digest.update(repr(value).encode() + b"\0")
    return digest.hexdigest()


def stack_image_refs(
    built: list[dict[str, str]],
    pulled: list[dict[str, str]],
    context_dir: str,
    repository: str,
    base: str,
    base_id: str = "",
) -> dict[str, str]:
    """Map each image key to its reference: built ones tagged by their context's digest."""
    refs = {}
    for image in built:
        digest = build_context_digest(f"{context_dir}/{image['key']}", base, base_id)
        refs[image["key"]] = f"{repository}/{image['key']}:{digest[:12]}"
    for image in pulled:
        refs[image["key"]] = image["online"]
    return refs


def image_ids(images: list[dict[str, Any]], refs: list[str]) -> dict[str, str]:
    """Map each of ``refs`` to the ID of the image (from docker_image_info) that carries it."""
    ids = {}
    for image in images:
        for tag in image.get("RepoTags") or []:
            if tag in refs:
                ids[tag] = image["Id"]
    return ids


def images_differing(
    images: list[dict[str, Any]], refs: list[str], wanted_ids: dict[str, str]
) -> list[str]:
    """The ``refs`` whose image here (docker_image_info's ``images``) is missing or has another
    ID than ``wanted_ids`` gives (the builder's)."""
    have = image_ids(images, refs)
    return [ref for ref in refs if have.get(ref) is None or have.get(ref) != wanted_ids.get(ref)]


def _archive_stem(ref: str) -> str:
    """``swarmstack/web:0123abcd`` -> ``web-0123abcd-``, the start of every archive of that tag."""
    name, _, tag = ref.rpartition(":")
    return f"{name.rsplit('/', 1)[-1]}-{tag}-"


def image_archive_names(ids: dict[str, str]) -> dict[str, str]:
    """Each image's archive file name: its short name, tag and the first 12 digits of its ID."""
    return {ref: f"{_archive_stem(ref)}{iid.split(':')[-1][:12]}.tar" for ref, iid in ids.items()}


def cached_image_archives(files: list[dict[str, Any]], refs: list[str]) -> dict[str, str]:
    """For each of ``refs`` with an archive of its tag among ``files`` (ansible.builtin.find's),
    the path of one (the first by name)."""
    paths = sorted(str(found["path"]) for found in files)
    found: dict[str, str] = {}
    for ref in refs:
        stem = _archive_stem(ref)
        matches = [p for p in paths if p.rsplit("/", 1)[-1].startswith(stem) and p.endswith(".tar")]
        if matches:
            found[ref] = matches[0]
    return found


class FilterModule:
    """Build context filters."""

    def filters(self) -> dict[str, Any]:
        return {
            "build_context_digest": build_context_digest,
            "stack_image_refs": stack_image_refs,
            "image_ids": image_ids,
            "images_differing": images_differing,
            "image_archive_names": image_archive_names,
            "cached_image_archives": cached_image_archives,
        }
