"""The ``curbench-cinn`` command line: planted-shift demos and comparisons of two feature files."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer

from curbench.errors import CurbenchError, InvalidInputError

app = typer.Typer(
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Separate what is specific to one source of features from what is shared, with a conditional invertible network.",
)

OutOpt = Annotated[Optional[Path], typer.Option("--out", help="Folder for report.json and, for images, the projection grids.")]  # noqa: UP045
SeedOpt = Annotated[int, typer.Option(help="Seed of the split, the network and its training.")]
StepsOpt = Annotated[Optional[int], typer.Option(help="Training steps (default: the case's, else 600).")]  # noqa: UP045
DeviceOpt = Annotated[str, typer.Option(help="cpu, auto, cuda or cuda:N.")]


def _thickened(text: str) -> tuple[int, ...]:
    if text == "all":
        return tuple(range(10))
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise InvalidInputError(f"--thickened takes digit classes like 3 or 0,5 or 'all', got '{text}'") from None


def _write(out: Path, fit, images: dict[str, np.ndarray] | None, extra: dict[str, object]) -> dict[str, object]:
    """Projection grids first, then report.json (which names them), each written atomically."""
    from curbench.atomic import write_json
    from curbench_cinn.grid import projection_grid

    report = fit.report()
    if images is not None:
        grids = {}
        for pair in report["projections"]:
            source_from, source_to = pair.split("->")
            name = f"projection-{source_from}-to-{source_to}.png"
            projection = fit.projection(source_from, source_to)
            rows = projection_grid(
                out / name, projection, images[source_from], images[source_to], fit.groups.get(source_from)
            )
            grids[pair] = {"file": name, "rows": rows.tolist()}
        report["grids"] = grids
    report.update(extra)
    write_json(out / "report.json", report)
    return report


def _summary(report: dict[str, object], out: Path) -> None:
    separation = report["separation"]
    typer.echo(
        f"source predicted from the specific part: AUC {separation['specific_auc']:.3f}; "
        f"from the shared part: AUC {separation['shared_auc']:.3f} (held-out, chance 0.5)"
    )
    for group, found in report.get("recovery", {}).get("planted", {}).items():
        typer.echo(
            f"planted group {group}: displacement {found['planted_norm']:.3f}, projection moved it {found['recovered_norm']:.3f} "
            f"(cosine {found['cosine']:.3f}, relative error {found['relative_error']:.3f})"
        )
    typer.echo(f"report: {out / 'report.json'}")
    for grid in report.get("grids", {}).values():
        typer.echo(f"grid: {out / grid['file']}")


@app.command()
def demo(
    case: Annotated[str, typer.Argument(help="'toy' (one ring mode moved) or 'digits' (classes thickened).")],
    out: OutOpt = None,
    seed: SeedOpt = 0,
    steps: StepsOpt = None,
    device: DeviceOpt = "cpu",
    embedder: Annotated[str, typer.Option(help="digits: curbench embedder of the images (pixels, lenet, classifier, ...).")] = "pixels",
    thickened: Annotated[str, typer.Option(help="digits: classes thickened in source b: 3, 0,5 or all.")] = "3",
) -> None:
    """Fit the cINN on a case with a known, planted shift and report what the projection recovered."""
    from curbench_cinn.planted import digits_case, recovery, toy_case
    from curbench_cinn.separation import fit_sources

    if case == "toy":
        planted = toy_case(seed=seed)
    elif case == "digits":
        planted = digits_case(_thickened(thickened), embedder=embedder, seed=seed)
    else:
        raise InvalidInputError(f"unknown demo case '{case}'; choose toy or digits")
    settings = {**planted.settings, **({"steps": steps} if steps is not None else {})}
    fit = fit_sources(planted.features, planted.groups, seed=seed, device=device, **settings)
    out = out or Path(f"cinn-demo-{case}")
    report = _write(out, fit, planted.images, {"recovery": recovery(planted, fit.projection("a", "b"))})
    _summary(report, out)


def _load(path: Path | None, what: str) -> np.ndarray | None:
    from curbench.validation import load_npy

    return None if path is None else load_npy(path, what)


@app.command()
def compare(
    features_a: Annotated[Path, typer.Argument(help="Features .npy (N, D) of source a.")],
    features_b: Annotated[Path, typer.Argument(help="Features .npy (M, D) of source b.")],
    groups_a: Annotated[Optional[Path], typer.Option(help="Integer group per instance of a, .npy (N,).")] = None,  # noqa: UP045
    groups_b: Annotated[Optional[Path], typer.Option(help="Integer group per instance of b, .npy (M,).")] = None,  # noqa: UP045
    images_a: Annotated[Optional[Path], typer.Option(help="uint8 images (N, C, H, W) .npy of a, for the projection grids.")] = None,  # noqa: UP045
    images_b: Annotated[Optional[Path], typer.Option(help="uint8 images (M, C, H, W) .npy of b.")] = None,  # noqa: UP045
    name_a: Annotated[str, typer.Option(help="Name of source a in the report.")] = "a",
    name_b: Annotated[str, typer.Option(help="Name of source b in the report.")] = "b",
    out: OutOpt = None,
    seed: SeedOpt = 0,
    steps: StepsOpt = None,
    n_components: Annotated[Optional[int], typer.Option(help="PCA directions modelled (default 8).")] = None,  # noqa: UP045
    device: DeviceOpt = "cpu",
) -> None:
    """Fit the cINN on two feature files and report what separates them."""
    from curbench.validation import check_images
    from curbench_cinn.separation import fit_sources

    if name_a == name_b:
        raise InvalidInputError(f"--name-a and --name-b must differ, both are '{name_a}'")
    features = {name_a: _load(features_a, f"features of {name_a}"), name_b: _load(features_b, f"features of {name_b}")}
    groups = {name: g for name, g in ((name_a, _load(groups_a, "groups-a")), (name_b, _load(groups_b, "groups-b"))) if g is not None}
    images = None
    if (images_a is None) != (images_b is None):
        raise InvalidInputError("pass both --images-a and --images-b for the projection grids, or neither")
    if images_a is not None:
        images = {name_a: check_images(_load(images_a, "images-a"), "images-a"), name_b: check_images(_load(images_b, "images-b"), "images-b")}
        for name, array in images.items():
            if len(array) != len(features[name]):
                raise InvalidInputError(f"{len(array)} images of {name} for {len(features[name])} feature rows; pass one image per row")
    settings = {key: value for key, value in (("steps", steps), ("n_components", n_components)) if value is not None}
    fit = fit_sources(features, groups, seed=seed, device=device, **settings)
    out = out or Path("cinn-report")
    _summary(_write(out, fit, images, {}), out)


def main() -> None:
    """Console entry point: user errors become one line on stderr and a non-zero exit."""
    try:
        app()
    except CurbenchError as exc:
        typer.echo(f"curbench-cinn: error: {exc}", err=True)
        sys.exit(exc.exit_code)
