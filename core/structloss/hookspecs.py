"""The whole extension surface of structloss: five hooks, each yielding specs.

A plugin is a module (or object) with functions marked ``@structloss.hookimpl`` whose names
match the hooks below, registered through the ``structloss`` entry-point group::

    # pyproject.toml of your distribution
    [project.entry-points.structloss]
    my-plugin = "my_package.structloss_plugin"

Hooks take no arguments and return an iterable of specs. They must be cheap: yield specs
pointing at factories, and import heavy dependencies inside the factories. For example::

    @structloss.hookimpl
    def structloss_losses():
        yield LossSpec(name="my-loss", factory=build_my_loss,
                       summary="my structured loss", needs="similarity")

    structloss_backends = structloss.provides(  # the short form for fixed specs
        BackendSpec(name="my-gpu", factory=MyGpuBackend, summary="kernels for my chip"),
    )

where ``build_my_loss(context: LossContext, **options) -> Objective`` and
``MyGpuBackend()`` is a :class:`structloss.backends.Backend`. The spec records
(:mod:`structloss.specs`) document each field.

There is one hook per kind of component in :data:`structloss.specs.COMPONENT_KINDS`, named
``structloss_<plural>`` and yielding that kind's spec record; :data:`HOOK_NAMES` derives
from the table, and the tests check that it names exactly the hooks below.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import pluggy

from structloss.specs import COMPONENT_KINDS

if TYPE_CHECKING:
    from structloss.specs import BackendSpec, ClassListSpec, KernelSpec, LossSpec, StructureSpec

__all__ = ["HOOK_NAMES", "PROJECT", "hookimpl", "hookspec", "provides"]

PROJECT = "structloss"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def structloss_structures() -> Iterable[StructureSpec]:  # type: ignore[empty-body]
    """Yield label-structure providers: ``factory(context, **options) -> LabelStructure``."""


@hookspec
def structloss_losses() -> Iterable[LossSpec]:  # type: ignore[empty-body]
    """Yield losses: ``factory(context: LossContext, **options) -> Objective``."""


@hookspec
def structloss_backends() -> Iterable[BackendSpec]:  # type: ignore[empty-body]
    """Yield compute backends: ``factory() -> structloss.backends.Backend``."""


@hookspec
def structloss_kernels() -> Iterable[KernelSpec]:  # type: ignore[empty-body]
    """Yield implementations of named ops for named backends: ``factory() -> Callable``."""


@hookspec
def structloss_class_lists() -> Iterable[ClassListSpec]:  # type: ignore[empty-body]
    """Yield named class lists (``classes = "my-dataset"``): ``factory() -> Sequence[str]``."""


def provides(*specs: object) -> Callable[[], tuple[object, ...]]:
    """Return a hook implementation that yields ``specs``; assign it to the hook's name.

    The short form of a hook whose specs are fixed::

        structloss_losses = provides(
            LossSpec(name="my-loss", factory=build_my_loss, summary="my structured loss"),
        )

    is the same as an ``@hookimpl`` function ``structloss_losses`` yielding that spec.
    """

    def hook() -> tuple[object, ...]:
        return specs

    return hookimpl(hook)


HOOK_NAMES: tuple[str, ...] = tuple(info.hook for info in COMPONENT_KINDS)
"""The hook names, in :data:`structloss.specs.COMPONENT_KINDS` order."""
