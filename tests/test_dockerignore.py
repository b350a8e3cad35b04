"""stack_images' .dockerignore matcher, against Docker's own.

The build-context digest that tags the images must cover exactly the files Docker
sends to a build: a file the digest skips but Docker sends would change an image
without changing its tag. Each case is a context tree and a .dockerignore; the
files the matcher keeps must be the ones this machine's Docker engine copies with
`COPY . /ctx/` into a scratch image (read back with `docker export`).
"""

from __future__ import annotations

import subprocess
import tarfile
import uuid
from io import BytesIO
from pathlib import Path

import pytest
from filter_plugins import load_filter_plugin

context = load_filter_plugin("stack_images", "build_context.py")
REPO = Path(__file__).resolve().parents[1]

FILES = [
    "a.txt",
    "b.py",
    "dir/a.txt",
    "dir/b.py",
    "dir/deep/a.txt",
    "dir/deep/c.md",
    "other/x.txt",
    "other/keep/y.txt",
    "with space.txt",
    "x1.log",
    "x22.log",
    "[ab].txt",
    "$dollar",
    "a.b",
    "acb",
]
CASES = {
    "a star stays in its directory": "*.txt\n",
    "two stars cross directories": "**/*.txt\n",
    "a directory and what it holds": "dir\n",
    "a directory with a slash": "dir/\n",
    "re-included": "*\n!dir/\ndir/deep\n!dir/deep/c.md\n",
    "rooted and cleaned": "/other/./keep\n./a.txt\n",
    "question mark and classes": "x?.log\n[ab].txt\nb.p[xy]\n",
    "escapes and literals": "\\[ab\\].txt\n$dollar\na.b\n",
    "comments, blanks and spaces": "# *\n\n   *.py   \n#dir\n",
    "two stars in the middle": "dir/**/a.txt\n",
    "a last match that excludes again": "!a.txt\n*.txt\n!dir/a.txt\n**/deep\n",
    "the project's web context": (REPO / "files" / "web" / ".dockerignore").read_text(),
}


def docker(*args: str, data: bytes | None = None) -> bytes:
    result = subprocess.run(["docker", *args], input=data, capture_output=True, timeout=120)
    if result.returncode:
        raise AssertionError(f"docker {' '.join(args)}: {result.stderr.decode().strip()}")
    return result.stdout


def docker_sends(root: Path) -> set[str]:
    """The files of `root` that Docker's classic builder copies into an image."""
    tag = f"swarmstack-test/dockerignore:{uuid.uuid4().hex[:12]}"
    docker("build", "-q", "-t", tag, str(root))
    try:
        container = docker("create", tag, "x").decode().strip()
        try:
            exported = docker("export", container)
        finally:
            docker("rm", container)
    finally:
        docker("rmi", "-f", tag)
    with tarfile.open(fileobj=BytesIO(exported)) as tar:
        names = {member.name for member in tar.getmembers() if member.isfile()}
    return {name.removeprefix("ctx/") for name in names if name.startswith("ctx/")}


def matcher_keeps(root: Path, text: str) -> set[str]:
    patterns = context.dockerignore_patterns(text)
    return {
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file() and not context.dockerignored(path.relative_to(root).as_posix(), patterns)
    }


def make_context(root: Path, ignore: str) -> None:
    for name in FILES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)
    (root / "Dockerfile").write_text("FROM scratch\nCOPY . /ctx/\n")
    (root / ".dockerignore").write_text(ignore)


@pytest.mark.docker
@pytest.mark.parametrize("ignore", CASES.values(), ids=CASES.keys())
def test_the_matcher_keeps_what_docker_sends(tmp_path: Path, ignore: str) -> None:
    if subprocess.run(["docker", "info"], capture_output=True).returncode:
        pytest.skip("no Docker engine answers")
    make_context(tmp_path, ignore)
    sent = docker_sends(tmp_path)
    kept = matcher_keeps(tmp_path, ignore)
    # Docker sends the Dockerfile and .dockerignore whatever the patterns say.
    assert kept | {"Dockerfile", ".dockerignore"} == sent | {"Dockerfile", ".dockerignore"}


def test_a_star_does_not_cross_a_slash_as_fnmatch_does() -> None:
    patterns = context.dockerignore_patterns("*.txt\n")
    assert context.dockerignored("a.txt", patterns)
    assert not context.dockerignored("dir/a.txt", patterns)


def test_a_bare_exclamation_mark_is_refused() -> None:
    with pytest.raises(ValueError, match="illegal exclusion pattern"):
        context.dockerignore_patterns("!\n")
