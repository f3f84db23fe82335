"""DCGAN / MLP GAN / checkpoint loader: shapes, sample quality on digits, save/load and its errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import linalg
from sklearn.linear_model import LogisticRegression

from curbench.datasets.base import Dataset
from curbench.datasets.digits import load_digits
from curbench.errors import CurbenchError
from curbench.generators.checkpoint import CheckpointGenerator
from curbench.generators.dcgan import DCGAN, resolution_plan
from curbench.generators.mlp import MLPGAN


def pixel_fid(real: np.ndarray, fake: np.ndarray) -> float:
    """Textbook FID on flattened pixels in [0, 1] (scipy sqrtm), independent of curbench.metrics."""
    a, b = real.reshape(len(real), -1) / 255.0, fake.reshape(len(fake), -1) / 255.0
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = linalg.sqrtm(cov_a @ cov_b).real
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root))


@pytest.fixture(scope="module")
def digits():
    return load_digits()


@pytest.fixture(scope="module")
def tiny_dcgan(digits):
    return DCGAN(steps=3, batch_size=16, width=8, latent_dim=8).fit(digits, seed=0)


@pytest.mark.parametrize(
    ("size", "plan"), [((8, 8), (1, 4, 4)), ((28, 28), (2, 7, 7)), ((32, 32), (3, 4, 4)), ((64, 64), (4, 4, 4)), ((7, 7), (0, 7, 7))]
)
def test_resolution_plan_halves_down_to_four_to_seven_pixels(size, plan):
    assert resolution_plan(*size) == plan


@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 28, 28), (3, 64, 64)])
def test_dcgan_networks_produce_the_data_shape(shape):
    rng = np.random.default_rng(0)
    data = Dataset("imgs", rng.integers(0, 256, (4, *shape), dtype=np.uint8), labels=np.array([0, 1, 0, 1]))
    gan = DCGAN(width=4, latent_dim=4)
    gan.spec = gan._spec(data)
    gan._init_networks(seed=0)
    samples = gan.sample(3, seed=0)
    assert samples.shape == (3, *shape) and samples.dtype == np.uint8
    assert gan.discriminate(data.data, data.labels).shape == (4,)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::scipy.linalg.LinAlgWarning")  # border pixels are constant in digits
def test_conditional_dcgan_draws_recognisable_digits(digits):
    """Trained on digits, the conditional model's samples are classified as their class, and FID falls."""
    untrained = DCGAN(steps=1, ema=0.0).fit(digits, seed=0)
    gan = DCGAN(steps=300).fit(digits, seed=0)
    classifier = LogisticRegression(max_iter=2000).fit(digits.data.reshape(len(digits), -1) / 255.0, digits.labels)
    wanted = np.repeat(np.arange(10), 30)
    samples = gan.sample(len(wanted), seed=1, labels=wanted)
    accuracy = (classifier.predict(samples.reshape(len(samples), -1) / 255.0) == wanted).mean()
    assert accuracy > 0.6  # chance is 0.1
    fid_trained = pixel_fid(digits.data, gan.sample(len(digits), seed=2))
    fid_untrained = pixel_fid(digits.data, untrained.sample(len(digits), seed=2))
    assert fid_trained < 0.5 * fid_untrained


def test_labels_default_to_the_training_distribution(tiny_dcgan, digits):
    labels = tiny_dcgan.sample_labels(20000, seed=0)
    expected = np.bincount(digits.labels) / len(digits)
    np.testing.assert_allclose(np.bincount(labels, minlength=10) / 20000, expected, atol=0.01)


def test_sampling_is_seeded_and_respects_labels_and_latents(tiny_dcgan):
    a, b = tiny_dcgan.sample(10, seed=5), tiny_dcgan.sample(10, seed=5)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, tiny_dcgan.sample(10, seed=6))
    latents = tiny_dcgan.sample_latents(10, seed=5)
    labels = tiny_dcgan.sample_labels(10, seed=5)
    np.testing.assert_array_equal(tiny_dcgan.sample(10, seed=99, latents=latents, labels=labels), a)
    with pytest.raises(CurbenchError, match="latents must have shape"):
        tiny_dcgan.sample(10, seed=0, latents=np.zeros((10, 3)))
    with pytest.raises(CurbenchError, match="not trained on"):
        tiny_dcgan.sample(2, seed=0, labels=np.array([3, 11]))
    with pytest.raises(CurbenchError, match="pass the labels"):
        tiny_dcgan.discriminate(tiny_dcgan.sample(2, seed=0))


def test_save_and_load_round_trip(tiny_dcgan, tmp_path):
    path = tmp_path / "g.pt"
    tiny_dcgan.save(path)
    loaded = DCGAN().load(path)
    np.testing.assert_array_equal(loaded.sample(8, seed=3), tiny_dcgan.sample(8, seed=3))
    x, labels = tiny_dcgan.sample(8, seed=3), np.arange(8)
    np.testing.assert_array_equal(loaded.discriminate(x, labels), tiny_dcgan.discriminate(x, labels))


def test_load_errors_are_one_line(tiny_dcgan, tmp_path):
    path = tmp_path / "g.pt"
    tiny_dcgan.save(path)
    with pytest.raises(CurbenchError, match="holds a 'dcgan' generator"):
        MLPGAN().load(path)
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CurbenchError, match="cannot be read") as error:
        DCGAN().load(corrupt)
    assert "\n" not in str(error.value)
    with pytest.raises(CurbenchError, match="not found"):
        DCGAN().load(tmp_path / "missing.pt")


def test_data_kind_mismatch_is_refused(digits):
    points = Dataset("pts", np.zeros((10, 2), np.float32))
    with pytest.raises(CurbenchError, match="use --generator mlp"):
        DCGAN(steps=1).fit(points)
    with pytest.raises(CurbenchError, match="use --generator dcgan"):
        MLPGAN(steps=1).fit(digits)
    with pytest.raises(CurbenchError, match="conditional=false"):
        MLPGAN(steps=1, conditional=True).fit(points)


def test_checkpoint_generator_reads_a_curbench_checkpoint(tiny_dcgan, digits, tmp_path):
    path = tmp_path / "g.pt"
    tiny_dcgan.save(path)
    loaded = CheckpointGenerator(str(path)).fit(digits)
    np.testing.assert_array_equal(loaded.sample(6, seed=2), tiny_dcgan.sample(6, seed=2))
    assert loaded.has_discriminator
    with pytest.raises(CurbenchError, match="generates image"):
        loaded.fit(Dataset("pts", np.zeros((10, 2), np.float32)))


def test_checkpoint_generator_reads_a_plain_state_dict(digits, tmp_path):
    gan = DCGAN(steps=2, batch_size=16, width=8, latent_dim=8, ema=0.0).fit(digits, seed=0)
    path = tmp_path / "raw.pt"
    torch.save(gan.generator_net.state_dict(), path)
    loaded = CheckpointGenerator(str(path), architecture="dcgan", width=8, latent_dim=8).fit(digits)
    np.testing.assert_array_equal(loaded.sample(6, seed=2), gan.sample(6, seed=2))
    assert not loaded.has_discriminator
    with pytest.raises(CurbenchError, match="does not fit this architecture"):
        CheckpointGenerator(str(path), architecture="dcgan", width=16, latent_dim=8).fit(digits)
    with pytest.raises(CurbenchError, match="architecture=dcgan"):
        CheckpointGenerator(str(path))


class _Points(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.latent_dim = 3  # scripted as an attribute the loader reads
        self.weight = torch.nn.Parameter(torch.arange(6.0).reshape(3, 2))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return z @ self.weight


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:FutureWarning")
def test_checkpoint_generator_reads_torchscript(tmp_path):
    path = tmp_path / "scripted.pt"
    torch.jit.script(_Points()).save(str(path))
    loaded = CheckpointGenerator(str(path), data_kind="points").fit(Dataset("pts", np.zeros((10, 2), np.float32)))
    latents = loaded.sample_latents(5, seed=1)
    np.testing.assert_allclose(loaded.sample(5, seed=1), latents @ np.arange(6.0).reshape(3, 2), rtol=1e-6)


def test_the_discriminator_can_have_its_own_learning_rate(tmp_path):
    """Two time-scale updates: d_lr sets the discriminator's Adam step size; absent, both use lr."""
    from curbench.generators.dcgan import DCGAN
    from curbench.generators.train import _Trainer

    digits = load_digits().subset(np.arange(64))
    for options, expected in (({"lr": 1e-4, "d_lr": 4e-4}, (1e-4, 4e-4)), ({"lr": 3e-4}, (3e-4, 3e-4))):
        model = DCGAN(steps=1, width=4, device="cpu", **options)
        model.fit(digits, seed=0, checkpoint_dir=tmp_path / str(expected))
        trainer = _Trainer(model, digits, seed=0, hooks=None, checkpoint_dir=None)
        assert (trainer.g_optimizer.param_groups[0]["lr"], trainer.d_optimizer.param_groups[0]["lr"]) == expected
    with pytest.raises(CurbenchError, match="d_lr must be > 0"):
        DCGAN(d_lr=0.0)
