"""Embedders that need no download: raw pixels, classifiers trained on the labels, a random CNN.

They work from 8 x 8 images (digits) up to 32 x 32 and power the offline default
run and the tests. Two trained classifiers of different architectures exist so
that selection (``classifier``) and evaluation (``lenet``) happen in different spaces.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, TypedDict, TypeVar, cast

import numpy as np
import torch
from torch import nn

from curbench.cache import ArrayCache, arrays_checksum, key_digest
from curbench.embedders.base import Embedder
from curbench.errors import InvalidInputError
from curbench.progress import progress

if TYPE_CHECKING:
    from curbench.datasets.base import Dataset

WEIGHTS_NAMESPACE = "embedder-weights"
_TRAIN_BATCH = 128
_ACCURACY_KEY = "__heldout_accuracy__"

_ModuleT = TypeVar("_ModuleT", bound=nn.Module)


class PixelEmbedder(Embedder):
    """Pixels scaled to [0, 1] and flattened; 2-D point data passes through unchanged."""

    name = "pixels"
    accepts_points = True

    def __init__(self, *, batch_size: int = 1024, device: str = "cpu") -> None:
        super().__init__(batch_size=batch_size, device=device)
        self._dim: int | None = None

    @property
    def feature_dim(self) -> int:
        """C*H*W (or D for points) of the last data seen; raises until :meth:`fit` or :meth:`embed` has set it."""
        if self._dim is None:
            raise InvalidInputError("pixels embedder: the feature size is set by the data; call fit or embed first")
        return self._dim

    def preprocessing(self) -> dict[str, object]:
        """Pixel scaling and layout: no weights and no options."""
        return {"scale": "x/255", "layout": "CHW flattened"}

    def fit(self, dataset: Dataset) -> PixelEmbedder:
        """Record the feature size (the product of the dataset's per-item shape); nothing is trained."""
        self._dim = int(np.prod(dataset.data.shape[1:]))
        return self

    def build_model(self) -> nn.Module:
        """A bare ``nn.Flatten``: pixels need no network."""
        return nn.Flatten()

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """Scale 0..255 to [0, 1]."""
        return images / 255

    def embed_batch(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (N, C, H, W) -> float (N, C*H*W) in [0, 1], keeping the native channels (grayscale stays 1)."""
        # Unlike RGB networks, keep the native channel count: grayscale stays 1 x H x W.
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise InvalidInputError(f"pixels embedder takes uint8 images (N, C, H, W), got {tuple(images.shape)} {images.dtype}")
        return images.to(self.device).flatten(1).float() / 255

    def embed(self, images: np.ndarray) -> np.ndarray:
        """uint8 images -> float32 (N, C*H*W) in [0, 1]; numeric points (N, D) pass through as float32, unscaled."""
        array = np.asarray(images)
        if array.ndim == 2:
            if array.dtype.kind not in "fiu":
                raise InvalidInputError(f"point data must be numeric, got dtype {array.dtype}")
            self._dim = array.shape[1]
            return array.astype(np.float32)
        if array.ndim != 4 or array.dtype != np.uint8:
            raise InvalidInputError(f"pixels embedder takes uint8 images (N, C, H, W) or points (N, D), got {array.shape} {array.dtype}")
        self._dim = int(np.prod(array.shape[1:]))
        return cast(np.ndarray, array.reshape(len(array), -1).astype(np.float32) / np.float32(255))


class SmallCNN(nn.Module):
    """Two conv stages, pooled to 2 x 2 whatever the input size (8 x 8 to 32 x 32), then an MLP neck."""

    def __init__(self, width: int, feature_dim: int, num_classes: int = 0) -> None:
        super().__init__()

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]

        self.trunk = nn.Sequential(
            *block(3, width), *block(width, width), nn.MaxPool2d(2, ceil_mode=True),
            *block(width, 2 * width), *block(2 * width, 2 * width),
            nn.AdaptiveAvgPool2d(2), nn.Flatten(),
        )  # fmt: skip
        self.neck = nn.Sequential(nn.Linear(8 * width, feature_dim), nn.ReLU(inplace=True))
        self.head = nn.Linear(feature_dim, num_classes) if num_classes else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Trunk, neck, then the class head (the identity when ``num_classes`` is 0)."""
        return cast(torch.Tensor, self.head(self.neck(self.trunk(x))))


class LeNet(nn.Module):
    """LeNet-style: 5 x 5 convolutions without batch norm, max-pooled, two fully connected layers.

    Deliberately unlike :class:`SmallCNN` (3 x 3 convolutions, batch norm, average pooling),
    so a space built from it shares no architecture with the selection space.
    """

    def __init__(self, width: int, feature_dim: int, num_classes: int = 0) -> None:
        super().__init__()
        self.trunk = nn.Sequential(
            nn.Conv2d(3, width, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(2, ceil_mode=True),
            nn.Conv2d(width, 2 * width, 5, padding=2), nn.ReLU(inplace=True), nn.AdaptiveMaxPool2d(2), nn.Flatten(),
            nn.Linear(8 * width, 120), nn.ReLU(inplace=True),
        )  # fmt: skip
        self.neck = nn.Sequential(nn.Linear(120, feature_dim), nn.ReLU(inplace=True))
        self.head = nn.Linear(feature_dim, num_classes) if num_classes else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Trunk, neck, then the class head (the identity when ``num_classes`` is 0)."""
        return cast(torch.Tensor, self.head(self.neck(self.trunk(x))))


def _to_unit_range(images: torch.Tensor) -> torch.Tensor:
    return images / 127.5 - 1


def _seeded(seed: int, build: Callable[..., _ModuleT], *args: object) -> _ModuleT:
    """Construct a module under a fixed seed without touching the caller's global RNG stream."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build(*args)


class RandomCNNEmbedder(Embedder):
    """A seeded, randomly initialised :class:`SmallCNN` trunk (Naeem et al.'s random-embedding baseline)."""

    name = "random-cnn"

    def __init__(self, *, width: int = 32, seed: int = 0, batch_size: int = 256, device: str = "auto") -> None:
        super().__init__(batch_size=batch_size, device=device)
        if width < 1:
            raise InvalidInputError(f"random-cnn width must be >= 1, got {width}")
        self.width = width
        self.seed = seed

    @property
    def feature_dim(self) -> int:
        """8 * width: the trunk's last 2 * width channels pooled to 2 x 2."""
        return 8 * self.width

    def preprocessing(self) -> dict[str, object]:
        """Scaling, width, seed and architecture version: everything that fixes the random features."""
        return {"scale": "x/127.5-1", "width": self.width, "seed": self.seed, "arch": "SmallCNN-v1"}

    def build_model(self) -> nn.Module:
        """The trunk of a :class:`SmallCNN` initialised under ``seed`` (neck and head dropped)."""
        return _seeded(self.seed, SmallCNN, self.width, 4 * self.width).trunk

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """Scale 0..255 to [-1, 1]."""
        return _to_unit_range(images)


class _TrainingOptions(TypedDict):
    epochs: int
    width: int
    feature_size: int
    lr: float
    seed: int


class ClassifierEmbedder(Embedder):
    """A :class:`SmallCNN` trained on the dataset's labels; features are its penultimate layer.

    Mirrors the paper's "aligned embedding": features that separate the classes
    of this very dataset. Training is seeded and the weights are cached on disk,
    keyed by the dataset's content hash and every training option. The recipe's
    accuracy is measured once on a stratified held-out fifth (a separate network
    trained on the other four fifths) and reported as ``heldout_accuracy``.
    """

    name = "classifier"
    network_class: ClassVar[type[SmallCNN | LeNet]] = SmallCNN
    architecture: ClassVar[str] = "SmallCNN-v1"

    def __init__(
        self,
        *,
        epochs: int = 10,
        width: int = 16,
        feature_size: int = 128,
        lr: float = 2e-3,
        seed: int = 0,
        batch_size: int = 256,
        device: str = "auto",
    ) -> None:
        super().__init__(batch_size=batch_size, device=device)
        for what, value in (("epochs", epochs), ("width", width), ("feature_size", feature_size)):
            if value < 1:
                raise InvalidInputError(f"{self.name} {what} must be >= 1, got {value}")
        if not lr > 0:
            raise InvalidInputError(f"{self.name} lr must be > 0, got {lr}")
        self.options: _TrainingOptions = {
            "epochs": epochs, "width": width, "feature_size": feature_size, "lr": lr, "seed": seed
        }
        self._trained_key: str | None = None
        self._checksum: str | None = None
        self._network: SmallCNN | LeNet | None = None
        self.heldout_accuracy = math.nan

    @property
    def feature_dim(self) -> int:
        """``feature_size``, the width of the neck."""
        return self.options["feature_size"]

    def preprocessing(self) -> dict[str, object]:
        """Scaling, layer and architecture; the training options and dataset enter through :meth:`weights_digest`."""
        return {"scale": "x/127.5-1", "layer": "penultimate", "arch": self.architecture}

    def weights_digest(self) -> str | None:
        """The training key (dataset hash, architecture, options) of the fitted weights; None before :meth:`fit`."""
        return self._trained_key

    def weights_checksum(self) -> str | None:
        """SHA-256 (16 hex) of the fitted parameters themselves; None before :meth:`fit`.

        Training is bit-reproducible on one CPU type but not across them (other SIMD kernels), so the
        same training key can yield other weights, and with them another feature space, on another machine.
        """
        return self._checksum

    def quality(self) -> dict[str, float]:
        """Held-out accuracy measured at training time (NaN before :meth:`fit` or with too few examples per class)."""
        return {"heldout_accuracy": self.heldout_accuracy}

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """Scale 0..255 to [-1, 1], as in training."""
        return _to_unit_range(images)

    def build_model(self) -> nn.Module:
        """Trunk and neck of the trained network (penultimate-layer features); raises before :meth:`fit`."""
        if self._network is None:
            raise InvalidInputError(f"{self.name} embedder is not trained yet; call fit(dataset) (embed_dataset does)")
        return nn.Sequential(self._network.trunk, self._network.neck)

    def fit(self, dataset: Dataset) -> ClassifierEmbedder:
        """Train on the labels or load cached weights for this dataset and recipe; a no-op if already fitted to them."""
        self.check_data(dataset.data, f"dataset '{dataset.name}'")
        if dataset.labels is None:
            raise InvalidInputError(
                f"{self.name} embedder trains on labels but dataset '{dataset.name}' has none; "
                "use --embedder random-cnn or pixels, or pass labels"
            )
        key = key_digest(
            kind="classifier-weights", arch=self.architecture, code=self.code_version,
            dataset=dataset.content_hash, **self.options,
        )
        if key == self._trained_key:
            return self
        classes, targets = np.unique(dataset.labels, return_inverse=True)
        store = ArrayCache(WEIGHTS_NAMESPACE)
        state = store.get(key)
        network = self._new_network(len(classes))
        if state is None:
            accuracy = self._heldout_accuracy(dataset.data, targets, len(classes))
            self._train(network, dataset.data, targets)
            state = {name: t.detach().cpu().numpy() for name, t in network.state_dict().items()}
            store.put(key, {**state, _ACCURACY_KEY: np.array(accuracy)})
        else:
            accuracy = float(state.pop(_ACCURACY_KEY, math.nan))
            network.load_state_dict({name: torch.from_numpy(a) for name, a in state.items()})
        self._network, self._trained_key, self._model = network, key, None
        self._checksum = arrays_checksum(state)[:16]
        self.heldout_accuracy = accuracy
        return self

    def _heldout_accuracy(self, images: np.ndarray, targets: np.ndarray, num_classes: int) -> float:
        """Accuracy on a stratified fifth of a network trained, with the same recipe, on the rest."""
        from sklearn.model_selection import train_test_split

        if np.bincount(targets).min() < 2 or len(targets) < 5 * num_classes:
            return math.nan  # too few examples per class to hold any out
        train, test = train_test_split(
            np.arange(len(targets)), test_size=0.2, stratify=targets, random_state=self.options["seed"]
        )
        network = self._new_network(num_classes)
        self._train(network, images[train], targets[train])
        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(images[test]))
            logits = network(_to_unit_range(_rgb(x).float()))
        return float((logits.argmax(1).numpy() == targets[test]).mean())

    def _new_network(self, num_classes: int) -> SmallCNN | LeNet:
        o = self.options
        build: Callable[..., SmallCNN | LeNet] = self.network_class  # so _seeded infers the union, not nn.Module
        return _seeded(o["seed"], build, o["width"], o["feature_size"], num_classes)

    def _train(self, network: nn.Module, images: np.ndarray, targets: np.ndarray) -> None:
        network.to(self.device).train()
        generator = torch.Generator().manual_seed(self.options["seed"])
        x_all = torch.from_numpy(np.ascontiguousarray(images))
        y_all = torch.from_numpy(targets.astype(np.int64))
        optimizer = torch.optim.Adam(network.parameters(), lr=self.options["lr"])
        epochs = self.options["epochs"]
        steps_per_epoch = -(-len(x_all) // min(_TRAIN_BATCH, len(x_all)))
        schedule = torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=self.options["lr"], total_steps=epochs * steps_per_epoch
        )
        loss_fn = nn.CrossEntropyLoss()
        for _ in progress(range(epochs), desc=f"train {self.name} embedder", unit="epoch"):
            order = torch.randperm(len(x_all), generator=generator)
            for chunk in torch.split(order, min(_TRAIN_BATCH, len(x_all))):  # Tensor.split is unannotated
                if len(chunk) < 2:  # batch norm cannot train on a single example
                    continue
                x = _rgb(x_all[chunk].to(self.device))
                loss = loss_fn(network(_to_unit_range(x.float())), y_all[chunk].to(self.device))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                schedule.step()
        network.cpu().eval()


def _rgb(images: torch.Tensor) -> torch.Tensor:
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images


class LeNetEmbedder(ClassifierEmbedder):
    """A :class:`LeNet` trained on the labels with its own seed: the evaluation space of the digits tracks.

    Same training recipe as ``classifier`` but another architecture, seed and width,
    so metrics are not computed in the space the scorers selected in.
    """

    name = "lenet"
    network_class = LeNet
    architecture = "LeNet-v1"

    def __init__(
        self,
        *,
        epochs: int = 30,
        width: int = 16,
        feature_size: int = 64,
        lr: float = 2e-3,
        seed: int = 1,
        batch_size: int = 256,
        device: str = "auto",
    ) -> None:
        super().__init__(
            epochs=epochs, width=width, feature_size=feature_size, lr=lr, seed=seed, batch_size=batch_size, device=device
        )
