"""A digest of a Docker build context, to tag images by what they are made of."""

from __future__ import annotations

import codecs
import hashlib
import posixpath
import re
from pathlib import Path
from typing import Any

ARCHIVE = ".tar.gz"  # the suffix of the image archives in the controller's cache
_ALWAYS_SKIPPED = re.compile(r"(^|/)(__pycache__|\.pytest_cache|\.ruff_cache)(/|$)|\.pyc$")


def _clean(path: str) -> str:
    """Go's filepath.Clean for slash-separated paths (a leading // becomes /)."""
    cleaned = posixpath.normpath(path) if path else "."
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def dockerignore_patterns(text: str) -> list[tuple[bool, re.Pattern[str]]]:
    """The patterns of a .dockerignore, read as Docker reads them, compiled.

    As moby's dockerignore.ReadAll and fileutils.Pattern: a BOM and lines starting
    with '#' are skipped, each line is trimmed, '!' re-includes, the pattern is
    cleaned and taken relative to the context; '*' and '?' never match '/', '**'
    matches any number of directories, a pattern that matches a directory matches
    everything in it, and '\\' escapes the next character. Each item: (excludes, regex).
    """
    patterns = []
    for line in text.removeprefix(codecs.BOM_UTF8.decode()).splitlines():
        if line.startswith("#") or not line.strip():
            continue
        pattern = line.strip()
        excludes = not pattern.startswith("!")
        if not excludes:
            pattern = pattern[1:].strip()
            if not pattern:
                raise ValueError('.dockerignore: illegal exclusion pattern "!"')
        pattern = _clean(pattern)
        if len(pattern) > 1 and pattern.startswith("/"):
            pattern = pattern[1:]
        patterns.append((excludes, re.compile(_regex(pattern))))
    return patterns


def _regex(pattern: str) -> str:
    """moby's fileutils.Pattern.compile, for '/' as the separator."""
    out = ["^"]
    i = 0
    while i < len(pattern):
        char = pattern[i]
        i += 1
        if char == "*" and pattern[i : i + 1] == "*":
            i += 1
            if pattern[i : i + 1] == "/":
                i += 1
            out.append(".*" if i == len(pattern) else "(.*/)?")
        elif char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char in ".$":
            out.append("\\" + char)
        elif char == "\\":
            if i == len(pattern):
                raise ValueError(f".dockerignore: pattern {pattern!r} ends with a backslash")
            out.append(re.escape(pattern[i]))
            i += 1
        else:  # as Go's regexp reads it: classes [a-z], [^a-z]
            out.append(char)
    out.append(r"(/.*)?\Z")
    return "".join(out)


def dockerignored(relative: str, patterns: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Whether Docker leaves `relative` (a file's path in the context) out: the last
    pattern that matches it, or one of its directories, decides."""
    ignored = False
    for excludes, regex in patterns:
        if excludes != ignored and regex.match(relative):
            ignored = excludes
    return ignored


def build_context_digest(path: str, *extra: Any) -> str:
    """Hash the files Docker would send from ``path`` (after .dockerignore) and ``extra``."""
    root = Path(path)
    if not (root / "Dockerfile").is_file():
        raise ValueError(f"{path} is not a Docker build context: it has no Dockerfile")
    ignore_file = root / ".dockerignore"
    patterns = []
    if ignore_file.is_file():
        patterns = dockerignore_patterns(ignore_file.read_text(encoding="utf-8"))
    digest = hashlib.sha256()
    for item in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = item.relative_to(root).as_posix()
        if _ALWAYS_SKIPPED.search(relative):
            continue
        if relative == "Dockerfile" or not dockerignored(relative, patterns):
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


def image_archive_stems(refs: list[str]) -> list[str]:
    """The start of the archive names of ``refs``: short name and tag (the ID follows)."""
    return [_archive_stem(ref) for ref in refs]


def image_archive_names(ids: dict[str, str]) -> dict[str, str]:
    """Each image's archive file name: its short name, tag and the first 12 digits of its ID
    (a `docker save` archive, gzipped: a third of the bytes to copy)."""
    return {ref: _archive_stem(ref) + iid.split(":")[-1][:12] + ARCHIVE for ref, iid in ids.items()}


def cached_image_archives(files: list[dict[str, Any]], refs: list[str]) -> dict[str, str]:
    """For each of ``refs`` with an archive of its tag among ``files`` (ansible.builtin.find's),
    the path of one (the first by name)."""
    paths = sorted(str(found["path"]) for found in files)
    found: dict[str, str] = {}
    for ref in refs:
        stem = _archive_stem(ref)
        matches = [
            p for p in paths if p.rsplit("/", 1)[-1].startswith(stem) and p.endswith(ARCHIVE)
        ]
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
            "image_archive_stems": image_archive_stems,
            "image_archive_names": image_archive_names,
            "cached_image_archives": cached_image_archives,
        }
