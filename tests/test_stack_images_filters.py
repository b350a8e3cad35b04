"""The stack_images role's filters: image tags from build contexts, and the archive bookkeeping.

The image IDs and archive names are shaped like those docker_image_info and
the role's cache hold (seen on the lab: web-f7c37e2738f6-030947a8e01c.tar.gz).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from filter_plugins import load_filter_plugin

images = load_filter_plugin("stack_images", "build_context.py")

WEB = "swarmstack/web:f7c37e2738f6"
LB = "swarmstack/lb:65a4ab420423"
WEB_ID = "sha256:030947a8e01c" + "0" * 52
LB_ID = "sha256:8bd70f3c8fb8" + "1" * 52


def info(*tagged: tuple[str, str]) -> list[dict[str, object]]:
    """docker_image_info's images: one per (tag, ID)."""
    return [{"Id": image_id, "RepoTags": [tag]} for tag, image_id in tagged]


def test_image_ids_maps_each_wanted_tag_to_its_image() -> None:
    found = info((WEB, WEB_ID), (LB, LB_ID), ("debian:bookworm", "sha256:x"))
    assert images.image_ids(found, [WEB, LB]) == {WEB: WEB_ID, LB: LB_ID}


def test_an_image_missing_or_with_another_id_differs_from_the_builders() -> None:
    builder = {WEB: WEB_ID, LB: LB_ID}
    assert images.images_differing(info((WEB, WEB_ID), (LB, LB_ID)), [WEB, LB], builder) == []
    assert images.images_differing(info((WEB, WEB_ID)), [WEB, LB], builder) == [LB]
    other = "sha256:" + "2" * 64
    assert images.images_differing(info((WEB, other), (LB, LB_ID)), [WEB, LB], builder) == [WEB]


def test_archive_names_hold_the_short_name_the_tag_and_the_id() -> None:
    names = images.image_archive_names({WEB: WEB_ID, "registry:5000/team/lb:abc": LB_ID})
    assert names == {
        WEB: "web-f7c37e2738f6-030947a8e01c.tar.gz",
        "registry:5000/team/lb:abc": "lb-abc-8bd70f3c8fb8.tar.gz",
    }


def test_cached_archives_are_found_by_tag_whatever_their_id() -> None:
    files = [
        {"path": "/c/web-f7c37e2738f6-aaaaaaaaaaaa.tar.gz"},
        {"path": "/c/web-f7c37e2738f6-030947a8e01c.tar.gz"},
        {"path": "/c/web-000000000000-030947a8e01c.tar.gz"},  # another tag
        {"path": "/c/lb-65a4ab420423-8bd70f3c8fb8.tar.gz.1234.partial"},  # not whole yet
        {"path": "/c/lb-65a4ab420423-000000000000.tar"},  # before they were gzipped
        {"path": "/c/base-343c74ade6b3-36a31031d47a.tar.gz"},
    ]
    assert images.cached_image_archives(files, [WEB, LB]) == {
        WEB: "/c/web-f7c37e2738f6-030947a8e01c.tar.gz"
    }


def test_a_context_digest_follows_its_files_and_dockerignore(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM base\n", encoding="utf-8")
    (tmp_path / "app.py").write_text("print(1)\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("left out\n", encoding="utf-8")
    (tmp_path / ".dockerignore").write_text("notes.txt\n", encoding="utf-8")
    first = images.build_context_digest(str(tmp_path), "base", "sha256:1")
    (tmp_path / "notes.txt").write_text("changed, still left out\n", encoding="utf-8")
    assert images.build_context_digest(str(tmp_path), "base", "sha256:1") == first
    assert images.build_context_digest(str(tmp_path), "base", "sha256:2") != first
    (tmp_path / "app.py").write_text("print(2)\n", encoding="utf-8")
    assert images.build_context_digest(str(tmp_path), "base", "sha256:1") != first


def test_a_folder_without_dockerfile_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="is not a Docker build context: it has no Dockerfile"):
        images.build_context_digest(str(tmp_path))


def test_refs_tag_built_images_by_digest_and_keep_pulled_ones(tmp_path: Path) -> None:
    for key in ("web", "lb"):
        (tmp_path / key).mkdir()
        (tmp_path / key / "Dockerfile").write_text(f"FROM base\n# {key}\n", encoding="utf-8")
    refs = images.stack_image_refs(
        [{"key": "web"}, {"key": "lb"}],
        [{"key": "redis", "online": "redis:7"}],
        str(tmp_path),
        "swarmstack",
        "swarmstack/base:bookworm",
        "sha256:1",
    )
    assert refs["redis"] == "redis:7"
    assert refs["web"].startswith("swarmstack/web:") and len(refs["web"].split(":")[1]) == 12
    assert refs["web"].split(":")[1] != refs["lb"].split(":")[1]


def test_archive_stems_are_the_start_of_the_archive_names() -> None:
    stems = images.image_archive_stems([WEB, "registry:5000/team/lb:abc"])
    assert stems == ["web-f7c37e2738f6-", "lb-abc-"]
    names = images.image_archive_names({WEB: WEB_ID})
    assert names[WEB].startswith(stems[0])
