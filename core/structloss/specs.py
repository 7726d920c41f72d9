"""The records that plugins yield from their hooks, and the contexts factories receive.

A plugin never builds a component eagerly: it yields a small frozen *spec* naming the
component and pointing at its factory. The host calls the factory only when a config asks for
that name, so heavy imports stay inside factories and cost nothing until used.

:data:`COMPONENT_KINDS` is the one table of component kinds: the hook names, the registry's
kinds, the words messages use, the ``structloss plugins`` columns and the reference's
sections all derive from it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import attrs

if TYPE_CHECKING:
    from structloss.backends import ComputeBackend
    from structloss.objective import Objective
    from structloss.structures import Hierarchy, LabelEmbedding, LabelStructure, Similarity

__all__ = [
    "COMPONENT_KINDS",
    "STRUCTURE_KINDS",
    "BackendSpec",
    "ClassListSpec",
    "ComponentKind",
    "KernelSpec",
    "LossContext",
    "LossSpec",
    "StructureContext",
    "StructureKind",
    "StructureSpec",
]

StructureKind = Literal["hierarchy", "similarity", "embedding"]
STRUCTURE_KINDS: tuple[str, ...] = ("hierarchy", "similarity", "embedding")

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


def _valid_name(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ValueError(
            f"{type(instance).__name__}.{attribute.name} must be a lower-case name of letters,"
            f" digits, '-', '_' or '.', got {value!r}"
        )


def _optional_kind(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and value not in STRUCTURE_KINDS:
        raise ValueError(
            f"{type(instance).__name__}.{attribute.name} must be one of"
            f" {', '.join(STRUCTURE_KINDS)} or None, got {value!r}"
        )


_callable = attrs.validators.is_callable()
_summary = attrs.validators.instance_of(str)


@attrs.frozen
class StructureSpec:
    """A label-structure provider.

    Attributes:
        name: the name configs use (``provider = "wordnet-tree"``).
        factory: ``factory(context: StructureContext, **options) -> LabelStructure``.
        summary: one line shown by ``structloss plugins``.
        kind: the kind of structure it produces (``"hierarchy"``, ``"similarity"``,
            ``"embedding"``), or None when an option decides.
    """

    name: str = attrs.field(validator=_valid_name)
    factory: Callable[..., LabelStructure] = attrs.field(validator=_callable)
    summary: str = attrs.field(validator=_summary)
    kind: StructureKind | None = attrs.field(default=None, validator=_optional_kind)


@attrs.frozen
class LossSpec:
    """A loss strategy.

    Attributes:
        name: the name configs use (``[loss] name = "tree-loss"``).
        factory: ``factory(context: LossContext, **options) -> Objective``.
        summary: one line shown by ``structloss plugins``.
        needs: the kind of structure the loss needs, or None. ``compose`` converts the
            configured structure to this kind when a conversion exists.
        multilabel: True when the loss trains on multi-hot label sets rather than one class
            index per sample (``structloss run`` picks losses that fit the task).
    """

    name: str = attrs.field(validator=_valid_name)
    factory: Callable[..., Objective] = attrs.field(validator=_callable)
    summary: str = attrs.field(validator=_summary)
    needs: StructureKind | None = attrs.field(default=None, validator=_optional_kind)
    multilabel: bool = False


@attrs.frozen
class BackendSpec:
    """A compute backend (``torch``, ``triton``, ...).

    Attributes:
        name: the name configs use (``[backend] name = "triton"``). ``auto`` is reserved.
        factory: ``factory() -> Backend``; called when the backend is first needed.
        summary: one line shown by ``structloss plugins``.
        priority: ``auto`` tries backends from the highest priority down.
    """

    name: str = attrs.field(validator=_valid_name)
    factory: Callable[[], Any] = attrs.field(validator=_callable)
    summary: str = attrs.field(validator=_summary)
    priority: int = 0

    def __attrs_post_init__(self) -> None:
        if self.name == "auto":
            raise ValueError("'auto' is reserved: it means 'pick the best available backend'")


@attrs.frozen
class KernelSpec:
    """One operation implemented for one backend, e.g. op ``smooth-topk`` on ``triton``.

    Attributes:
        op: the operation's name, shared by all its implementations.
        backend: the backend this implementation runs on.
        factory: ``factory() -> Callable``; returns the implementation (import heavy
            dependencies inside it).
        summary: one line shown by ``structloss plugins``.
    """

    op: str = attrs.field(validator=_valid_name)
    backend: str = attrs.field(validator=_valid_name)
    factory: Callable[[], Callable[..., Any]] = attrs.field(validator=_callable)
    summary: str = attrs.field(validator=_summary)

    @property
    def name(self) -> str:
        """The registry key, ``"op@backend"``."""
        return f"{self.op}@{self.backend}"


@attrs.frozen
class ClassListSpec:
    """A named list of class names, usable in configs as ``classes = "cifar100"``.

    Attributes:
        name: the name configs use.
        factory: ``factory() -> Sequence[str]``: the class names in label order.
        summary: one line shown by ``structloss plugins``.
    """

    name: str = attrs.field(validator=_valid_name)
    factory: Callable[[], Sequence[str]] = attrs.field(validator=_callable)
    summary: str = attrs.field(validator=_summary)


ComponentKind = Literal["structure", "loss", "backend", "kernel", "class-list"]
"""The kinds of component a plugin provides, in :data:`COMPONENT_KINDS` order."""


# Not in __all__: the host reads this record, plugins never build one (the guide's list of
# records is what plugins yield and receive).
@attrs.frozen
class ComponentKindInfo:
    """One kind of component: its hook, its spec record, and how people name it.

    Attributes:
        kind: the registry's key (``"loss"``).
        plural: the hook's suffix and the key of ``structloss plugins --json``
            (``"losses"``, hook ``structloss_losses``).
        spec: the record the hook yields (:class:`LossSpec`).
        config_word: how messages name one (``"unknown loss 'x'"``).
        config_key: where a config names one (``"[loss] name"``), or None.
        title: the heading of its section in the component reference.
    """

    kind: ComponentKind
    plural: str
    spec: type
    config_word: str
    config_key: str | None
    title: str

    @property
    def hook(self) -> str:
        """The name of the hook that yields this kind (``structloss_<plural>``)."""
        return f"structloss_{self.plural}"


COMPONENT_KINDS: tuple[ComponentKindInfo, ...] = (
    ComponentKindInfo(
        kind="structure",
        plural="structures",
        spec=StructureSpec,
        config_word="structure provider",
        config_key="[structure] provider",
        title="Structure providers",
    ),
    ComponentKindInfo(
        kind="loss",
        plural="losses",
        spec=LossSpec,
        config_word="loss",
        config_key="[loss] name",
        title="Losses",
    ),
    ComponentKindInfo(
        kind="backend",
        plural="backends",
        spec=BackendSpec,
        config_word="backend",
        config_key="[backend] name",
        title="Backends",
    ),
    ComponentKindInfo(
        kind="kernel",
        plural="kernels",
        spec=KernelSpec,
        config_word="kernel",
        config_key=None,
        title="Kernels",
    ),
    ComponentKindInfo(
        kind="class-list",
        plural="class_lists",
        spec=ClassListSpec,
        config_word="class list",
        config_key="classes",
        title="Class lists",
    ),
)
"""Every kind of component, in the order hooks run and reports list them."""


@attrs.frozen
class StructureContext:
    """What a structure factory receives besides its options.

    Attributes:
        classes: class names in label order, or None when the config gives none (a provider
            that can read the classes from its source, such as ``hierarchy-file``, then does;
            others raise).
        labels: training labels for providers that learn from data, or None. Integer class
            indices, a multi-hot matrix, or lists of label sets, as the user passed them.
        base_dir: directory that relative paths in options are resolved against (the config
            file's directory, or the working directory).
    """

    classes: tuple[str, ...] | None = None
    labels: Any = None
    base_dir: str = "."


@attrs.frozen
class LossContext:
    """What a loss factory receives besides its options.

    Attributes:
        classes: class names in label order.
        structure: the structure, already converted to the kind the loss's spec ``needs``;
            None when the config has no structure.
        backend: the resolved compute backend; ask it for kernels with
            ``backend.kernel(op, device)``.
    """

    classes: tuple[str, ...]
    structure: LabelStructure | None
    backend: ComputeBackend

    @property
    def num_classes(self) -> int:
        """The number of classes."""
        return len(self.classes)

    # The require_* accessors return the structure as the kind loss ``loss`` needs, or raise
    # IncompatibleStructureError naming the loss and the fix. compose already guarantees the
    # kind for a loss whose spec ``needs`` it (converting where it can); they narrow the type
    # and give the one right error to factories called directly.
    def require_hierarchy(self, loss: str) -> Hierarchy:
        """The structure as the hierarchy loss ``loss`` needs (or IncompatibleStructureError)."""
        from structloss.structures import Hierarchy

        gives = 'a tree, such as "hierarchy-file" or "flat"'
        return self._require(Hierarchy, loss, "a hierarchy", gives)

    def require_similarity(self, loss: str) -> Similarity | LabelStructure:
        """The structure as the similarity loss ``loss`` needs (or IncompatibleStructureError).

        A :class:`~structloss.structures.TreeSimilarity` (a large tree's similarity, kept
        as the tree) counts as one; a loss that needs the dense matrix reads ``.matrix``.
        """
        from structloss.structures import Similarity, TreeSimilarity

        gives = (
            "a similarity, a hierarchy or an embedding (compose converts the last two), such"
            ' as "hierarchy-file"'
        )
        return self._require((Similarity, TreeSimilarity), loss, "a similarity", gives)

    def require_embedding(self, loss: str) -> LabelEmbedding:
        """The structure as the embedding loss ``loss`` needs (or IncompatibleStructureError)."""
        from structloss.structures import LabelEmbedding

        gives = "an embedding; nothing converts to one"
        return self._require(LabelEmbedding, loss, "a label embedding", gives)

    def _require(self, kind: type | tuple[type, ...], loss: str, needs: str, gives: str) -> Any:
        """The structure when it is a ``kind``; else the error naming the loss and the fix."""
        if isinstance(self.structure, kind):
            return self.structure
        from structloss.errors import IncompatibleStructureError

        found = "no structure" if self.structure is None else f"a {self.structure.kind}"
        raise IncompatibleStructureError(
            f"loss {loss!r} needs {needs}, got {found}; add a [structure] table whose provider"
            f" gives {gives} (`structloss plugins` lists the installed providers)"
        )
