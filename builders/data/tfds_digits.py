"""`zoo_digits`: a TensorFlow Datasets builder over scikit-learn's bundled digits.

It exists so the TFDS path (`data: {source: {tfds: ...}}`, split slicing,
`data_dir`) runs offline exactly as it runs for `mnist` or `cifar10` on a
machine with internet. Importing this module registers the builder with TFDS.
"""

from __future__ import annotations

import numpy as np
from etils import epath
import tensorflow_datasets as tfds


class ZooDigits(tfds.core.GeneratorBasedBuilder):
    """8x8 grey-scale digits (1,797 images, 10 classes) from scikit-learn; 80/20 train/test."""

    VERSION = tfds.core.Version("1.0.0")

    # TFDS finds a builder's metadata folder from its module name, as if folders mirrored packages;
    # builders/ is installed as zoo.builders (a package-dir mapping, see ARCHITECTURE.md).
    pkg_dir_path = epath.Path(__file__).parent
    RELEASE_NOTES = {"1.0.0": "First release."}

    def _info(self) -> tfds.core.DatasetInfo:
        return self.dataset_info_from_configs(
            features=tfds.features.FeaturesDict(
                {
                    "image": tfds.features.Tensor(shape=(8, 8, 1), dtype=np.float32),
                    "label": tfds.features.ClassLabel(num_classes=10),
                }
            ),
            supervised_keys=("image", "label"),
            homepage="https://scikit-learn.org/stable/datasets/toy_dataset.html#digits-dataset",
        )

    def _split_generators(self, dl_manager):
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = (digits.images / 16.0).astype("float32")[..., None]
        order = np.random.default_rng(0).permutation(len(images))
        cut = int(len(images) * 0.8)
        return {
            "train": self._generate_examples(images, digits.target, order[:cut]),
            "test": self._generate_examples(images, digits.target, order[cut:]),
        }

    def _generate_examples(self, images, labels, indices):
        for index in indices:
            yield int(index), {"image": images[index], "label": int(labels[index])}
