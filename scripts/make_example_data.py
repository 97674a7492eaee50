"""Writes specs/data/digits_images.npz, the offline data of the README's conv and named-input examples.

scikit-learn's bundled 8x8 digits as images (`image`: 1797 x 8 x 8 x 1, pixels 0..16, uint8), three
summary features per image (`meta`: mean ink, the share of ink in the top half and in the left half), and
the labels (`y`). Deterministic: rerunning it rewrites the same arrays.

    python scripts/make_example_data.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

TARGET = Path(__file__).resolve().parent.parent / "specs" / "data" / "digits_images.npz"


def make() -> dict[str, np.ndarray]:
    digits = load_digits()
    images = digits.images.astype("uint8")  # 0..16
    ink = images.sum(axis=(1, 2)).astype("float32")
    meta = np.stack([ink / 64 / 16, images[:, :4].sum(axis=(1, 2)) / ink, images[:, :, :4].sum(axis=(1, 2)) / ink], axis=1)
    return {"image": images[..., None], "meta": meta.astype("float32"), "y": digits.target.astype("int32")}


if __name__ == "__main__":
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(TARGET, **make())
    print(f"written: {TARGET} ({TARGET.stat().st_size:,} bytes)")
