"""The mirror registry: every real sample file registered, checksums enforced, clear offline errors."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from loopback import serve_folder

from s2slide.data import registry
from s2slide.errors import ChecksumError, DownloadError, InvalidInputError, NetworkUnavailableError


def _readme_table(mirror: Path) -> dict[str, tuple[int, str]]:
    rows = re.findall(r"^\| \./(\S+) \| (\d+) \| ([0-9a-f]{64}) \|$",
                      (mirror / "README.md").read_text(), re.M)
    return {path: (int(size), digest) for path, size, digest in rows}


def test_every_mirror_file_is_registered_with_the_readme_checksum(mirror):
    # recorded/ holds catalogue responses taken out of VCR cassettes (not byte copies of a public
    # file, so no address to register): the tests carry them in tests/fixtures/recorded instead.
    table = {p: v for p, v in _readme_table(mirror).items() if not p.startswith("recorded/")}
    assert len(table) == 29 + 15 * 2 + 19
    on_disk = {str(p.relative_to(mirror)) for p in mirror.rglob("*")
               if p.is_file() and p.name != "README.md" and not p.is_relative_to(mirror / "recorded")}
    assert set(registry.FILES) == set(table) == on_disk
    for path, (size, digest) in table.items():
        assert registry.FILES[path].sha256 == digest, path
        assert registry.FILES[path].size == size, path


def test_urls_are_pinned_raw_addresses_with_spaces_encoded():
    for path in registry.FILES:
        u = registry.url(path)
        assert re.match(r"^https://raw\.githubusercontent\.com/[^/]+/[^/]+/[0-9a-f]{40}/\S+$", u), u
    assert "Multi-Temporal%20Inventories/China.zip" in registry.url("inventories/bhuyan-2023/China.zip")
    info = registry.info("kaikoura-2016/diff_landslide_69.tif")
    assert info["licence"].startswith("MIT") and "Copernicus Sentinel data 2016" in info["attribution"]


def test_pooch_registry_covers_every_file(tmp_path):
    pup = registry.create_pooch()
    assert set(pup.registry) == set(registry.FILES)
    assert all(v.startswith("sha256:") for v in pup.registry.values())


def test_fetch_from_the_mirror_verifies_the_checksum(mirror):
    path = registry.fetch("kaikoura-2016/label_landslide_69.shp")
    assert path == mirror / "kaikoura-2016/label_landslide_69.shp"


def test_corrupted_mirror_copy_raises_checksum_error(tmp_path, monkeypatch, mirror):
    rel = "kaikoura-2016/label_landslide_70.prj"
    (tmp_path / "kaikoura-2016").mkdir()
    data = (mirror / rel).read_bytes()
    (tmp_path / rel).write_bytes(data[:-1] + b"X")
    monkeypatch.setenv("S2SLIDE_MIRROR", str(tmp_path))
    with pytest.raises(ChecksumError, match="SHA-256"):
        registry.fetch(rel)


def test_offline_without_mirror_says_how_to_fix(monkeypatch, tmp_path):
    monkeypatch.delenv("S2SLIDE_MIRROR", raising=False)  # a mirror set to no folder: SettingError
    with pytest.raises(NetworkUnavailableError, match="S2SLIDE_MIRROR"):
        registry.fetch("iburi-2018/download.DSM.tif")


def test_unknown_file_lists_the_folders():
    with pytest.raises(InvalidInputError, match="kaikoura-2016"):
        registry.fetch("luding/pre.tif")


@pytest.fixture
def loopback(mirror, monkeypatch, online):
    """A loopback HTTP server serving the mirror folder; registry URLs point at it."""
    with serve_folder(mirror) as base:
        monkeypatch.setattr(registry, "url", lambda rel: base + rel)
        monkeypatch.setenv("S2SLIDE_MIRROR", "")
        yield base


def test_download_then_tampered_cache_is_fetched_again(loopback):
    rel = "kaikoura-2016/label_landslide_69.shp"
    first = registry.fetch(rel, progressbar=False)
    assert registry.sha256(first) == registry.FILES[rel].sha256
    first.write_bytes(b"tampered")
    with pytest.warns(UserWarning, match="fetching it again"):
        again = registry.fetch(rel, progressbar=False)
    assert again == first and registry.sha256(again) == registry.FILES[rel].sha256


def test_download_with_wrong_content_raises_checksum_error(loopback, monkeypatch, tmp_path, mirror):
    bad = tmp_path / "srv"
    shutil.copytree(mirror / "kaikoura-2016", bad / "kaikoura-2016")
    (bad / "kaikoura-2016" / "label_landslide_69.dbf").chmod(0o644)
    (bad / "kaikoura-2016" / "label_landslide_69.dbf").write_bytes(b"not the file")
    with serve_folder(bad) as base:
        monkeypatch.setattr(registry, "url", lambda rel: base + rel)
        with pytest.raises(ChecksumError):
            registry.fetch("kaikoura-2016/label_landslide_69.dbf", progressbar=False)
        with pytest.raises(DownloadError):  # 404: a file the server does not hold
            registry.fetch("iburi-2018/LICENSE", progressbar=False)
        cached = list((Path(registry.create_pooch().abspath)).rglob("*"))
        assert not any(p.name == "label_landslide_69.dbf" for p in cached)
