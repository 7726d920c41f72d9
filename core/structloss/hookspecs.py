"""The whole extension surface of structloss: five hooks, each yielding specs.

A plugin is a module (or object) with functions marked ``@structloss.hookimpl`` whose names
match the hooks below, registered through the ``structloss`` entry-point group::

    # pyproject.toml of your distribution
    [project.entry-points.structloss]
    my-plugin = "my_package.structloss_plugin"

Hooks take no arguments and return an iterable of specs. They must be cheap: yield specs
pointing at factories, and import heavy dependencies inside the factories.

There is one hook per kind of component in :data:`structloss.specs.COMPONENT_KINDS`, named
``structloss_<plural>`` and yielding that kind's spec record; :data:`HOOK_NAMES` derives
from the table, and the tests check that it names exactly the hooks below.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import pluggy

from structloss.specs import COMPONENT_KINDS

if TYPE_CHECKING:
    from structloss.specs import BackendSpec, ClassListSpec, KernelSpec, LossSpec, StructureSpec

__all__ = ["HOOK_NAMES", "PROJECT", "hookimpl", "hookspec"]

PROJECT = "structloss"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def structloss_structures() -> Iterable[StructureSpec]:  # type: ignore[empty-body]
    """Yield the label-structure providers this plugin offers.

    Example::

        @structloss.hookimpl
        def structloss_structures():
            yield StructureSpec(name="my-tree", factory=build_my_tree,
                                summary="a tree from my taxonomy", kind="hierarchy")

    where ``build_my_tree(context: StructureContext, **options) -> LabelStructure``.
    """


@hookspec
def structloss_losses() -> Iterable[LossSpec]:  # type: ignore[empty-body]
    """Yield the losses this plugin offers.

    Example::

        @structloss.hookimpl
        def structloss_losses():
            yield LossSpec(name="my-loss", factory=build_my_loss,
                           summary="my structured loss", needs="similarity")

    where ``build_my_loss(context: LossContext, **options) -> Objective``.
    """


@hookspec
def structloss_backends() -> Iterable[BackendSpec]:  # type: ignore[empty-body]
    """Yield the compute backends this plugin offers.

    Example::

        @structloss.hookimpl
        def structloss_backends():
            yield BackendSpec(name="my-gpu", factory=MyGpuBackend,
                              summary="kernels for my accelerator", priority=10)

    where ``MyGpuBackend()`` is a :class:`structloss.backends.Backend`.
    """


@hookspec
def structloss_kernels() -> Iterable[KernelSpec]:  # type: ignore[empty-body]
    """Yield implementations of named ops for named backends.

    Example::

        @structloss.hookimpl
        def structloss_kernels():
            yield KernelSpec(op="my-op", backend="torch", factory=load_my_op,
                             summary="reference implementation")

    where ``load_my_op() -> Callable`` imports what it needs and returns the function.
    """


@hookspec
def structloss_class_lists() -> Iterable[ClassListSpec]:  # type: ignore[empty-body]
    """Yield named class lists (a dataset's classes in label order).

    Example::

        @structloss.hookimpl
        def structloss_class_lists():
            yield ClassListSpec(name="my-dataset", factory=load_my_classes,
                                summary="the 40 classes of my dataset")

    where ``load_my_classes() -> Sequence[str]``. Configs then say
    ``classes = "my-dataset"``.
    """


HOOK_NAMES: tuple[str, ...] = tuple(info.hook for info in COMPONENT_KINDS)
"""The hook names, in :data:`structloss.specs.COMPONENT_KINDS` order."""
