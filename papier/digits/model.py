"""The digit classifier: a small CNN, weights in ``model.npz``, run by OpenCV's dnn module from ``model.onnx`` (same
weights) or, as the reference and fallback, in pure numpy (im2col + matmul).

Architecture (channels-last inside, weights stored in PyTorch layout; strided convolutions instead of pooling
keep the im2col copies small, which is what costs time on a slow office PC): a chain of ReLU convolutions
conv1..convN, each (kernel, stride, padding) as listed in the weights file's "arch" array, then
    -flatten(C,H,W order)-> fc1 F relu -> fc2 11
A weights file without "arch" is the fourth model's (LEGACY_ARCH):
    28x28x1 -conv5x5/2 pad2-> relu 14x14xC1 -conv3x3/2 pad1-> relu 7x7xC2 -conv3x3 valid-> relu 5x5xC3
Outputs 11 logits: digits 0-9 and class 10 "not a digit" (struck-out digit, stray mark).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import as_strided

MODEL_FILE = Path(__file__).resolve().parent / "model.npz"
# the same network as ONNX (written by train.py from model.npz), run by OpenCV's dnn module: several times
# faster than the numpy path; used only when it gives the numpy path's logits on a probe batch
ONNX_FILE = MODEL_FILE.with_suffix(".onnx")
N_CLASSES = 11
# boxes per OpenCV forward pass: its layer buffers grow with the batch (a 300-box batch kept 14 MB more in every
# reader process); 64 is as fast per box
FAST_BATCH = 64
MARK = 10
# (kernel, stride, padding) of each convolution of a weights file that does not say (the fourth model)
LEGACY_ARCH = ((5, 2, 2), (3, 2, 1), (3, 1, 0))


def output_side(arch, side: int = 28) -> int:
    """Side of the last convolution's output for a `side` x `side` input."""
    for k, stride, pad in arch:
        side = (side + 2 * pad - k) // stride + 1
    return side


def _conv(x: np.ndarray, w: np.ndarray, b: np.ndarray, pad: int, stride: int) -> np.ndarray:
    """x (B, H, W, Cin), w (Cout, Cin, k, k) -> relu(conv) (B, H', W', Cout)."""
    cout, cin, k, _ = w.shape
    if pad:
        x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    x = np.ascontiguousarray(x)
    B, H, W, _ = x.shape
    Ho, Wo = (H - k) // stride + 1, (W - k) // stride + 1
    s0, s1, s2, s3 = x.strides
    win = as_strided(x, (B, Ho, Wo, k, k, cin), (s0, stride * s1, stride * s2, s1, s2, s3))  # a view
    wm = w.transpose(2, 3, 1, 0).reshape(k * k * cin, cout)
    out = win.reshape(B * Ho * Wo, k * k * cin) @ wm   # the reshape is the im2col copy
    out += b
    np.maximum(out, 0, out=out)
    return out.reshape(B, Ho, Wo, cout)


class DigitNet:
    def __init__(self, params: dict[str, np.ndarray]):
        self.arch = tuple(tuple(int(v) for v in row) for row in params.get("arch", LEGACY_ARCH))
        self.p = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in params.items() if k != "arch"}
        self.temperature = float(params.get("temperature", np.array(1.0)))
        for i, (k, _, _) in enumerate(self.arch, 1):
            if self.p[f"conv{i}.weight"].shape[2:] != (k, k):
                raise ValueError(f"conv{i}: {k}x{k} kernel in 'arch', weights {self.p[f'conv{i}.weight'].shape}")
        # fc1 expects a (C, H, W) flatten (PyTorch); reorder its columns once for our (H, W, C) activations (the
        # original order is not kept: 3.3 MB less in every reader process)
        fc1_w = self.p.pop("fc1.weight")
        C = self.p[f"conv{len(self.arch)}.weight"].shape[0]
        F, S = fc1_w.shape[0], output_side(self.arch)
        self.fc1_hwc = fc1_w.reshape(F, C, S, S).transpose(0, 2, 3, 1).reshape(F, -1).T.copy()
        del fc1_w
        self.fast = None

    def use_onnx(self, path: Path) -> bool:
        """Run with OpenCV's dnn module from `path` if it computes the same logits as the weights (else keep
        numpy). Returns whether the fast path is on."""
        try:
            import cv2

            net = cv2.dnn.readNetFromONNX(str(path))
            probe = np.random.default_rng(0).random((8, 28, 28), dtype=np.float32)
            net.setInput(probe[:, None])
            got = np.asarray(net.forward(), np.float32)
        except Exception:  # noqa: BLE001 - no file, an OpenCV without dnn, a broken file: numpy it is
            return False
        ref = self.logits_numpy(probe)
        if got.shape != ref.shape or not np.allclose(got, ref, atol=1e-3, rtol=1e-4):
            return False
        self.fast = net
        return True

    def logits(self, x28: np.ndarray) -> np.ndarray:
        """x28: (B, 28, 28) float32 in [0, 1], white ink on black. Returns (B, 11) raw logits."""
        if self.fast is not None:
            x = np.asarray(x28, np.float32)[:, None]
            out = []
            for i in range(0, len(x), FAST_BATCH):
                self.fast.setInput(np.ascontiguousarray(x[i:i + FAST_BATCH]))
                out.append(np.array(self.fast.forward(), np.float32))
            return np.concatenate(out) if out else np.zeros((0, N_CLASSES), np.float32)
        return self.logits_numpy(x28)

    def logits_numpy(self, x28: np.ndarray) -> np.ndarray:
        """The reference implementation (im2col + matmul)."""
        p = self.p
        x = np.asarray(x28, np.float32)[..., None]
        for i, (_, stride, pad) in enumerate(self.arch, 1):
            x = _conv(x, p[f"conv{i}.weight"], p[f"conv{i}.bias"], pad, stride)
        x = x.reshape(len(x), -1) @ self.fc1_hwc + p["fc1.bias"]
        np.maximum(x, 0, out=x)
        return x @ p["fc2.weight"].T + p["fc2.bias"]


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


@lru_cache(maxsize=1)
def load_model(path: str | None = None) -> DigitNet:
    with np.load(path or MODEL_FILE) as d:
        net = DigitNet({k: d[k] for k in d.files})
    if path is None:
        net.use_onnx(ONNX_FILE)
    return net
