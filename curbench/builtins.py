"""Registration of curbench's own components, through the same entry-point path as third parties.

Factories are lazy ``module:attribute`` strings: listing plugins imports no model code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from curbench import hookimpl

if TYPE_CHECKING:
    from curbench.hookspecs import Register


@hookimpl
def curbench_register_datasets(register: Register) -> None:
    """Register the built-in datasets: digits and its variants, toy, glyphs, npy, folder and torchvision sets."""
    register("digits", "curbench.datasets.digits:load_digits", "scikit-learn's 8x8 handwritten digits (1797 images, 10 classes, offline)")
    register(
        "toy", "curbench.datasets.toy:load_toy", "2-D Gaussian mixture on a ring with a known fraction of outliers",
        modality="points",
    )
    register(
        "digits-corrupted",
        "curbench.datasets.corrupt:load_corrupted",
        "digits with a known fraction of corrupted instances (ground-truth track)",
        runtime_options=("root",),
    )
    register(
        "digits-minority",
        "curbench.datasets.minority:load_digits_minority",
        "digits with one class subsampled to a known minority share (bias track)",
    )
    register(
        "glyphs",
        "curbench.datasets.glyphs:load_glyphs",
        "characters rendered from 24 fonts with a Zipf long tail and known typicality; held-out reference and "
        "disjoint-font evaluator splits (offline)",
    )
    register("npy", "curbench.datasets.arrays:load_arrays", "uint8 N x C x H x W images from a .npy file, with optional labels .npy")
    register("folder", "curbench.datasets.folder:load_image_folder", "an image folder, one sub-folder per class", runtime_options=("root",))
    register("mnist", "curbench.datasets.torchvision_sets:load_mnist", "torchvision MNIST from a local root", runtime_options=("root",))
    register("fashion-mnist", "curbench.datasets.torchvision_sets:load_fashion_mnist", "torchvision FashionMNIST from a local root", runtime_options=("root",))
    register("cifar10", "curbench.datasets.torchvision_sets:load_cifar10", "torchvision CIFAR-10 from a local root", runtime_options=("root",))
    register("celeba", "curbench.datasets.torchvision_sets:load_celeba", "torchvision CelebA from a local root, attributes as groups", runtime_options=("root",))


@hookimpl
def curbench_register_embedders(register: Register) -> None:
    """Register the built-in embedders: offline (pixels, classifier, lenet, random-cnn) and pretrained ones."""
    register("pixels", "curbench.embedders.offline:PixelEmbedder", "raw pixels scaled to [0, 1], flattened (offline)", runtime_options=("device",))
    register("classifier", "curbench.embedders.offline:ClassifierEmbedder", "small CNN trained on the dataset's labels, penultimate layer (offline, cached)", runtime_options=("device",))
    register("lenet", "curbench.embedders.offline:LeNetEmbedder", "LeNet-style CNN trained on the labels with its own seed: an evaluation space unlike 'classifier' (offline, cached)", runtime_options=("device",))
    register("random-cnn", "curbench.embedders.offline:RandomCNNEmbedder", "randomly initialised CNN, a known baseline (offline)", runtime_options=("device",))
    register("inception", "curbench.embedders.inception:FIDInceptionEmbedder", "FID Inception-v3 (TF 2015-12-05 weights), 2048-d pool features", runtime_options=("device", "weights"))
    register("inception-torchvision", "curbench.embedders.inception:TorchvisionInceptionEmbedder", "torchvision ImageNet Inception-v3, 2048-d (the paper's selection embedder)", runtime_options=("device", "weights"))
    register("clip", "curbench.embedders.clip:CLIPEmbedder", "CLIP ViT-B/32 image features (OpenAI weights)", runtime_options=("device", "weights"))
    register("swav", "curbench.embedders.swav:SwAVEmbedder", "ResNet-50 with the SwAV 800-epoch checkpoint, 2048-d pooled", runtime_options=("device", "weights"))
    register("dinov2", "curbench.embedders.dinov2:DINOv2Embedder", "DINOv2 ViT-L/14 (official weights, timm architecture), 1024-d CLS token as dgm-eval computes it", runtime_options=("device", "weights"))


@hookimpl
def curbench_register_scorers(register: Register) -> None:
    """Register the built-in scorers: gaussian, ppca, knn, random, and sample-time truncation and drs."""
    register("gaussian", "curbench.scorers.density:GaussianScorer", "log-density under a full-covariance Gaussian (reg 1e-5)")
    register("ppca", "curbench.scorers.density:PPCAScorer", "probabilistic PCA log-likelihood (95% explained variance)")
    register("knn", "curbench.scorers.knn:KNNScorer", "negative distance to the 5th nearest neighbour", runtime_options=("seed", "device"))
    register("random", "curbench.scorers.random:RandomScorer", "uniform random scores: the random-subset baseline", runtime_options=("seed",))
    register(
        "truncation", "curbench.scorers.sample_time:TruncationCurator", "sample-time: truncated normal latents (psi)",
        stage="sample",
    )
    register("drs", "curbench.scorers.sample_time:DRSCurator", "sample-time: discriminator rejection sampling", stage="sample")


@hookimpl
def curbench_register_generators(register: Register) -> None:
    """Register the built-in generators: dcgan (images), mlp (points) and checkpoint (a pretrained one)."""
    register(
        "dcgan", "curbench.generators.dcgan:DCGAN",
        "DCGAN-style image GAN, hinge loss, EMA generator, optional class-conditional", checkpoint_architecture="dcgan",
        runtime_options=("device",),
    )
    register(
        "mlp", "curbench.generators.mlp:MLPGAN", "MLP GAN for 2-D point data (toy track)",
        modality="points", checkpoint_architecture="mlp",
        runtime_options=("device",),
    )
    register("checkpoint", "curbench.generators.checkpoint:CheckpointGenerator", "sample a user's pretrained generator without training", runtime_options=("device",))


@hookimpl
def curbench_register_metrics(register: Register) -> None:
    """Register the built-in metrics fid, kid, prdc, vendi and loglik, with the direction of each output key."""
    register(
        "fid", "curbench.metrics.fid:FID", "Frechet distance between Gaussian fits of real and fake features",
        higher_is_better={"fid": False}, takes_reference=True,
        runtime_options=("cache", "device"),
    )
    register(
        "kid", "curbench.metrics.kid:KID", "kernel inception distance: unbiased MMD^2, cubic polynomial kernel",
        higher_is_better={"kid": False, "kid_std": None}, takes_reference=True,
        runtime_options=("cache", "seed", "device"),
    )
    register(
        "prdc", "curbench.metrics.prdc:PRDC", "precision, recall (Kynkaanniemi) and density, coverage (Naeem)",
        higher_is_better={"precision": True, "recall": True, "density": True, "coverage": True}, takes_reference=True,
        runtime_options=("k", "tie", "cache", "device"),
    )
    register(
        "vendi", "curbench.metrics.vendi:Vendi", "Vendi score of the generated features (cosine kernel; diversity), with the real set's",
        higher_is_better={"vendi": True, "vendi_real": None}, takes_reference=True,
        runtime_options=("cache",),
    )
    register(
        "loglik", "curbench.metrics.loglik:HeldOutLikelihood",
        "point data: log-likelihood of the reference under a KDE of the samples (ALL), and the samples' outlier mass",
        higher_is_better={"all": True, "outlier_mass": False}, takes_reference=True,
    )


@hookimpl
def curbench_register_executors(register: Register) -> None:
    """Register the built-in executors: local (a process pool, the default), serial and ray."""
    register("local", "curbench.bench.executors:LocalExecutor", "a local process pool (default; one cell per worker)", runtime_options=("workers",))
    register("serial", "curbench.bench.executors:SerialExecutor", "one cell after another in this process (debugging)", runtime_options=("workers",))
    register("ray", "curbench.bench.executors:RayExecutor", "a Ray cluster (pip install 'curbench[ray]'; address=auto)", runtime_options=("workers",))
