"""The hooks a curbench plugin may implement: the public contract for third parties.

Registration hooks receive a ``register`` callable and call it once per component::

    register(name, factory, description="one line", **declared)

``factory`` is a ``"package.module:attribute"`` string (imported only when the
component is used, so discovery stays cheap) or a callable. Calling the factory
with keyword options returns the component. ``declared`` are the typed fields of
that kind's record (:mod:`curbench.plugins.records`: a scorer's ``stage``, a metric's
``higher_is_better``, ...); the component must satisfy its kind's Protocol in
:mod:`curbench.plugins.contracts`. A hook that raises registers nothing. See
``docs/plugins.md``.

Training-lifecycle hooks let a plugin observe GAN training (parameters,
optimisers, mini-batch indices, latents) without the generator knowing about it.
A plugin usually registers a recorder object with the plugin manager for the
duration of one training run and receives these calls.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from curbench import hookspec

if TYPE_CHECKING:
    from curbench.generators.lifecycle import TrainRun, TrainStep


class Register(Protocol):
    def __call__(self, name: str, factory: object, description: str = "", **declared: Any) -> None:
        """Register component ``name``: its factory (callable or ``module:attribute``), description, declared fields."""


@hookspec
def curbench_register_datasets(register: Register) -> None:
    """Register dataset factories: ``factory(**options) -> curbench.datasets.Dataset``."""


@hookspec
def curbench_register_embedders(register: Register) -> None:
    """Register embedder factories: ``factory(**options) -> curbench.embedders.Embedder``."""


@hookspec
def curbench_register_scorers(register: Register) -> None:
    """Register scorers: data-stage (``fit``/``score``) or, with ``stage="sample"``, sample-time curators (``curate``)."""


@hookspec
def curbench_register_generators(register: Register) -> None:
    """Register generator factories: ``factory(**options) -> curbench.generators.Generator``."""


@hookspec
def curbench_register_metrics(register: Register) -> None:
    """Register metrics: ``factory(**options) -> callable(real, fake) -> dict[str, float]``, with ``higher_is_better``."""


@hookspec
def curbench_register_executors(register: Register) -> None:
    """Register executors: ``factory(workers=None, **options) -> object with map(fn, items) -> Iterator[Outcome]``."""


@hookspec
def curbench_train_start(run: TrainRun) -> None:
    """Called once before the first optimisation step of a generator's training."""


@hookspec
def curbench_train_step(run: TrainRun, step: TrainStep) -> None:
    """Called after every optimisation step (discriminator and generator steps alike)."""


@hookspec
def curbench_train_end(run: TrainRun) -> None:
    """Called once after the last optimisation step."""
