"""CelebA from its real layout and text formats, and a plain folder of faces."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.datasets import CelebA

import lab.data.celeba as celeba
from lab.config import load_config
from lab.data.celeba import ATTR_FILE, IMAGE_DIR, PARTITION_FILE, cache_path, load_celeba
from lab.data.faces import load_faces
from lab.errors import ConfigError, DataError
from tests.celeba_fixtures import write_tiny_celeba

SIZE, CROP = 64, 148


@pytest.fixture(scope="module")
def small_celeba(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A 40-image CelebA that the tests below copy before changing."""
    root = tmp_path_factory.mktemp("small_celeba")
    return root, write_tiny_celeba(root, count=40)


@pytest.fixture
def celeba_copy(small_celeba, tmp_path) -> tuple[Path, dict]:
    source, written = small_celeba
    shutil.copytree(source, tmp_path, dirs_exist_ok=True)
    return tmp_path, written


def test_partitions_load_with_their_attributes_and_are_cached(celeba_copy, monkeypatch) -> None:
    root, written = celeba_copy
    data = load_celeba(root, SIZE, CROP)
    train, test = written["partition"] == 0, written["partition"] == 2
    assert data.train.images.shape == (int(train.sum()), 3, SIZE, SIZE)
    assert data.train.images.dtype == torch.uint8
    assert data.heldout.images.shape == (int(test.sum()), 3, SIZE, SIZE)
    assert np.array_equal(data.train.labels.numpy(), written["attributes"][train])
    assert np.array_equal(data.heldout.labels.numpy(), written["attributes"][test])
    assert data.label_kind == "attributes" and data.class_names == celeba.ATTRIBUTES
    # The first training image, centre-cropped and resized by hand, is what was loaded.
    with Image.open(root / "celeba" / IMAGE_DIR / "000001.jpg") as image:
        expected = image.convert("RGB").crop((15, 35, 163, 183)).resize((SIZE, SIZE), 3)
    assert np.array_equal(data.train.images[0].permute(1, 2, 0).numpy(), np.asarray(expected))

    assert cache_path(root, SIZE, CROP).is_file()
    shutil.rmtree(root / "celeba" / IMAGE_DIR)  # a valid cache needs no JPEGs
    monkeypatch.setattr(celeba, "prepare_images", _must_not_decode)
    again = load_celeba(root, SIZE, CROP)
    assert torch.equal(again.train.images, data.train.images)
    assert torch.equal(again.heldout.labels, data.heldout.labels)


def test_changed_attribute_file_invalidates_the_cache(celeba_copy) -> None:
    root, _ = celeba_copy
    first = load_celeba(root, SIZE, CROP)
    path = root / "celeba" / ATTR_FILE
    lines = path.read_text().splitlines()
    row = lines[2].split()
    row[1] = "1" if row[1] == "-1" else "-1"  # flip 5_o_Clock_Shadow of the first image
    path.write_text("\n".join([*lines[:2], " ".join(row), *lines[3:]]) + "\n")
    second = load_celeba(root, SIZE, CROP)
    assert second.train.labels[0, 0] != first.train.labels[0, 0]


def test_torchvision_parses_the_attributes_when_its_checks_pass(celeba_copy, monkeypatch) -> None:
    """With the full official file set (simulated: its checksums cannot match a fixture),
    torchvision's CelebA class reads the attributes and gives the same data."""
    root, written = celeba_copy
    folder = root / "celeba"
    names = [f"{i + 1:06d}.jpg" for i in range(len(written["partition"]))]
    (folder / "identity_CelebA.txt").write_text("".join(f"{n} 1\n" for n in names))
    for extra, columns in (("list_bbox_celeba.txt", 4), ("list_landmarks_align_celeba.txt", 10)):
        header = " ".join(f"c{i}" for i in range(columns))
        rows = "".join(f"{n} " + " ".join(["1"] * columns) + "\n" for n in names)
        (folder / extra).write_text(f"{len(names)}\n{header}\n{rows}")
    monkeypatch.setattr(CelebA, "_check_integrity", lambda self: True)
    monkeypatch.setattr(celeba, "_read_attributes", _must_not_decode)
    data = load_celeba(root, SIZE, CROP)
    train = written["partition"] == 0
    assert np.array_equal(data.train.labels.numpy(), written["attributes"][train])


def test_missing_attribute_file_is_one_sentence(celeba_copy) -> None:
    root, _ = celeba_copy
    (root / "celeba" / ATTR_FILE).unlink()
    with pytest.raises(DataError) as caught:
        load_celeba(root, SIZE, CROP)
    message = str(caught.value)
    assert message.startswith("CelebA is incomplete: list_attr_celeba.txt not found in")
    assert str(root / "celeba") in message and PARTITION_FILE in message
    assert message.count(".") >= 1 and "\n" not in message


def test_missing_image_folder_is_listed_with_the_files(tmp_path) -> None:
    with pytest.raises(DataError, match=r"img_align_celeba/, list_attr_celeba.txt, list_eval"):
        load_celeba(tmp_path, SIZE, CROP)


def test_truncated_jpeg_is_named(celeba_copy) -> None:
    root, _ = celeba_copy
    image = root / "celeba" / IMAGE_DIR / "000007.jpg"
    image.write_bytes(image.read_bytes()[:1500])
    with pytest.raises(DataError) as caught:
        load_celeba(root, SIZE, CROP)
    message = str(caught.value)
    assert f"'{image}' cannot be decoded" in message
    assert "truncated or corrupt, so extract it again from img_align_celeba.zip" in message
    assert not cache_path(root, SIZE, CROP).exists()


def test_attribute_rows_that_disagree_with_the_images_are_named(celeba_copy) -> None:
    """An attribute (and partition) file from a smaller release next to all the images."""
    root, _ = celeba_copy
    folder = root / "celeba"
    lines = (folder / ATTR_FILE).read_text().splitlines()
    (folder / ATTR_FILE).write_text("\n".join(["39", *lines[1:-1]]) + "\n")
    partition = (folder / PARTITION_FILE).read_text().splitlines()
    (folder / PARTITION_FILE).write_text("\n".join(partition[:-1]) + "\n")
    with pytest.raises(DataError, match=r"has 39 attribute rows but .* holds 40 \.jpg images"):
        load_celeba(root, SIZE, CROP)


def test_attribute_count_line_that_disagrees_with_the_rows_is_named(celeba_copy) -> None:
    root, _ = celeba_copy
    path = root / "celeba" / ATTR_FILE
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:-1]) + "\n")
    with pytest.raises(DataError, match=r"says 40 images on line 1 but has 39 attribute rows"):
        load_celeba(root, SIZE, CROP)


def test_partition_file_of_another_release_is_named(celeba_copy) -> None:
    root, _ = celeba_copy
    path = root / "celeba" / PARTITION_FILE
    path.write_text(path.read_text().replace("000003.jpg", "000099.jpg"))
    with pytest.raises(DataError, match=r"line 3 should be '000003.jpg 0\|1\|2'"):
        load_celeba(root, SIZE, CROP)


def test_face_folder_of_mixed_sizes_and_formats(tmp_path, monkeypatch) -> None:
    rng = np.random.default_rng(0)
    (tmp_path / "part").mkdir()
    for i in range(10):
        size = (40 + 7 * i, 30 + 11 * i)
        pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
        name = f"part/face{i}.png" if i % 2 else f"face{i}.JPG"
        Image.fromarray(pixels).save(tmp_path / name)
    (tmp_path / "notes.txt").write_text("not an image")
    data = load_faces(tmp_path, 32, heldout_fraction=0.2, split_seed=0)
    assert len(data.train) == 8 and len(data.heldout) == 2
    assert data.train.images.shape[1:] == (3, 32, 32)
    assert data.label_kind == "none" and data.train.labels is None
    monkeypatch.setattr("lab.data.faces.prepare_images", _must_not_decode)
    again = load_faces(tmp_path, 32, heldout_fraction=0.2, split_seed=0)
    assert torch.equal(again.heldout.images, data.heldout.images)


def test_face_folder_too_small_to_split(tmp_path) -> None:
    Image.new("RGB", (20, 20)).save(tmp_path / "only.png")
    with pytest.raises(DataError, match=r"holds 1 png/jpg images, so data.heldout_fraction"):
        load_faces(tmp_path, 32, heldout_fraction=0.1, split_seed=0)


def test_rare_attribute_typo_is_caught_on_load(write_config) -> None:
    path = write_config({"metrics": {"rare_attributes": ["Eyeglasses", "Mustach"]}})
    with pytest.raises(ConfigError, match=r"rare_attributes\[1\]' is 'Mustach'.*'Mustache'"):
        load_config(path)


def test_download_is_refused_for_celeba(write_config) -> None:
    path = write_config({"data": {"name": "celeba", "download": True}})
    with pytest.raises(ConfigError, match=r"'data.download' applies to data.name 'mnist', not to"):
        load_config(path)


def _must_not_decode(*args, **kwargs):
    raise AssertionError("the cache (or torchvision) should have been used")
