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


# ----------------------------------------------------------------------------- online-only files
LUDING = "inventories/luding-2022/china_landslides.gpkg"


def _stand_in_gpkg(folder: Path, *, n: int = 3) -> Path:
    """A stand-in for the Luding inventory, written here because no copy of the real file could
    be fetched on this machine: ``n`` squares (200 m) inside the Luding scene grid, EPSG:4326."""
    import geopandas as gpd
    from shapely.geometry import box

    from s2slide.data.scenes import get_scene

    spec = get_scene("luding")
    left, top = spec.left, spec.top
    squares = [box(left + 1000 + 600 * i, top - 1200, left + 1200 + 600 * i, top - 1000)
               for i in range(n)]
    path = folder / LUDING
    path.parent.mkdir(parents=True, exist_ok=True)
    gpd.GeoDataFrame(geometry=squares, crs=spec.epsg).to_crs(4326).to_file(path, driver="GPKG")
    return path


@pytest.fixture
def served_stand_in(tmp_path, monkeypatch, online):
    """The stand-in served on loopback at the entry's address, its blob id registered."""
    import dataclasses

    fake = _stand_in_gpkg(tmp_path / "srv")
    entry = dataclasses.replace(registry.ONLINE_FILES[LUDING],
                                git_blob_sha1=registry.git_blob_sha1(fake))
    monkeypatch.setitem(registry.ONLINE_FILES, LUDING, entry)
    monkeypatch.setenv("S2SLIDE_MIRROR", "")
    with serve_folder(tmp_path / "srv") as base:
        monkeypatch.setattr(registry, "url", lambda rel: base + rel)
        yield fake


def test_online_entry_has_an_address_and_no_checksum_yet():
    entry = registry.ONLINE_FILES[LUDING]
    assert LUDING not in registry.FILES and re.fullmatch(r"[0-9a-f]{40}", entry.git_blob_sha1)
    assert registry.url(LUDING) == ("https://raw.githubusercontent.com/links-ads/igarss-landslide-"
                                    "delineation/883099a20073fab69f420d051535c18812d1bd2f/"
                                    "inventories/china_landslides.gpkg")
    info = registry.info(LUDING)
    assert info["sha256"] is None and "first download" in info["sha256_note"]
    assert info["licence"].startswith("MIT") and "Huang" in info["attribution"]
    with pytest.raises(NetworkUnavailableError, match="needs the network"):
        registry.fetch(LUDING)


def test_online_file_is_pinned_on_first_download_then_held_to_it(served_stand_in):
    path = registry.fetch(LUDING, progressbar=False)
    pin = registry.pinned_sha256(LUDING)
    assert pin == registry.sha256(path) == registry.sha256(served_stand_in)
    assert registry.info(LUDING)["sha256"] == pin and "pinned" in registry.info(LUDING)["sha256_note"]
    path.write_bytes(b"tampered")                     # a damaged cache copy is fetched again
    with pytest.warns(UserWarning, match="pinned on the first download"):
        assert registry.sha256(registry.fetch(LUDING, progressbar=False)) == pin
    path.unlink()                                     # the source now serves other bytes
    _stand_in_gpkg(served_stand_in.parents[2], n=4)
    with pytest.raises(ChecksumError, match="pinned on the first download"):
        registry.fetch(LUDING, progressbar=False)
    assert not path.exists() and registry.pinned_sha256(LUDING) == pin


def test_online_file_must_be_the_blob_of_the_source_tree(tmp_path, monkeypatch, online):
    """Bytes that are not the blob the repository lists are refused and nothing is pinned."""
    _stand_in_gpkg(tmp_path / "srv")
    monkeypatch.setenv("S2SLIDE_MIRROR", "")
    with serve_folder(tmp_path / "srv") as base:
        monkeypatch.setattr(registry, "url", lambda rel: base + rel)
        with pytest.raises(ChecksumError, match="Git blob id"):
            registry.fetch(LUDING, progressbar=False)
    assert registry.pinned_sha256(LUDING) is None


def test_inventory_truth_of_a_window(served_stand_in):
    from s2slide import data
    from s2slide.errors import NoValidDataError

    ds = data.load_scene("luding", source="simulated", quiet=True)
    inv = data.load_inventory("luding-2022")
    assert len(inv) == 3 and inv.attrs["source"] == "online" and inv.attrs["sha256"]
    out = data.with_inventory_truth(ds.drop_vars("truth"))
    assert int(out["truth"].sum()) == 3 * 10 * 10           # three 200 m squares of 20 m pixels
    assert "3 polygons" in out.attrs["truth_source"] and "truth" not in ds.attrs.get("truth_source", "")
    far = ds.assign_coords(x=ds.x + 1e6).rio.write_transform(None)
    with pytest.raises(NoValidDataError, match="no polygon"):
        data.with_inventory_truth(far.rio.write_transform(far.rio.transform(recalc=True)))


def test_scene_truth_says_what_the_truth_is(served_stand_in, monkeypatch):
    """Simulated: its own truth; live Luding: the inventory (on loopback); else none, and why."""
    from s2slide import data

    sim = data.load_scene("luding", source="simulated", quiet=True)
    same, text = data.scene_truth(sim)
    assert same is sim and "exact truth" in text
    live = sim.drop_vars("truth").assign_attrs(source="live")
    out, text = data.scene_truth(live)
    assert int(out["truth"].sum()) == 300 and "luding-2022" in text and "3 polygons" in text
    _, text = data.scene_truth(live.assign_attrs(scene="barhabise"))
    assert text.startswith("No independent truth")
    monkeypatch.setenv("S2SLIDE_OFFLINE", "1")
    (registry.config.cache_dir() / "mirror" / LUDING).unlink()
    kept, text = data.scene_truth(live)
    assert "truth" not in kept and "NetworkUnavailableError" in text


def test_make_mirror_recipe_runs(mirror, monkeypatch):
    """The Makefile's `mirror` recipe (run where no mirror sits beside the checkout) imports and
    fetches every registered file; here the files come from the mirror, so nothing is downloaded."""
    import re
    import subprocess
    import sys

    recipe = (Path(__file__).resolve().parents[1] / "Makefile").read_text()
    code = re.search(r'^mirror:.*?\n(?:\t.*\n)*?\t\s+"(.+?)"\s*$', recipe, re.M | re.S).group(1)
    assert "registry.fetch" in code
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
