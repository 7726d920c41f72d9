"""The tree-loss plugin: composition, the TreeLinear head against brute force, and the loss."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import Tensor, nn

import structloss
import structloss_tree_loss.hooks as hooks
from structloss import Hierarchy, LossContext, PluginHost, Similarity, compose, default_host
from structloss.errors import (
    IncompatibleStructureError,
    InputError,
    StructureError,
    UnknownOptionError,
)
from structloss.testing import check_plugin
from structloss_tree_loss import TreeLinear, TreeLoss, node_variance_shares


def brute_force_weight(tree: Hierarchy, vectors: Tensor) -> Tensor:
    """Each class's weight by walking its root path by name, in float64."""
    rows = [
        sum((vectors[tree.index(node)] for node in tree.path(name)), torch.zeros_like(vectors[0]))
        for name in tree.classes
    ]
    return torch.stack(rows)


def batch(tree: Hierarchy, n: int, features: int, seed: int, dtype: torch.dtype = torch.float64):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=generator, dtype=dtype)
    y = torch.randint(0, tree.num_classes, (n,), generator=generator)
    return x, y


def write_tree_config(tmp_path: Path, tree: Hierarchy, **loss_options: object) -> Path:
    (tmp_path / "tree.json").write_text(tree.to_json(nested=True))
    options = "".join(f"{key} = {value!r}\n" for key, value in loss_options.items())
    config = tmp_path / "config.toml"
    config.write_text(
        '[structure]\nprovider = "hierarchy-file"\npath = "tree.json"\n'
        f'[loss]\nname = "tree-loss"\n{options}'
    )
    return config


# -- composition --------------------------------------------------------------------------
def test_plugin_contract() -> None:
    host = check_plugin(hooks)
    assert host.spec("loss", "tree-loss").factory is TreeLoss


def test_the_class_is_the_factory(plugin_host: PluginHost, irregular) -> None:
    context = LossContext(irregular.classes, irregular, plugin_host.backend())
    loss = TreeLoss(context, reduction="sum", label_smoothing=0.2)
    assert loss.hierarchy == irregular
    assert (loss.reduction, loss.label_smoothing) == ("sum", 0.2)


def test_composes_by_name_on_a_fresh_host_with_hierarchy_file(
    tmp_path: Path, irregular, plugin_host: PluginHost
) -> None:
    config = write_tree_config(tmp_path, irregular, reduction="sum", label_smoothing=0.1)
    loss = compose(config, host=plugin_host)
    assert isinstance(loss, TreeLoss)
    assert loss.hierarchy == irregular
    assert (loss.reduction, loss.label_smoothing) == ("sum", 0.1)
    head = loss.head(6)
    assert isinstance(head, TreeLinear)
    x, y = batch(irregular, 4, 6, seed=0, dtype=torch.float32)
    assert head(x).shape == (4, irregular.num_classes)
    assert torch.isfinite(loss(head(x), y))


def test_config_classes_fix_the_label_order(
    tmp_path: Path, irregular, plugin_host: PluginHost
) -> None:
    config = write_tree_config(tmp_path, irregular)
    order = list(reversed(irregular.classes))
    loss = compose(config, classes=order, host=plugin_host)
    assert loss.hierarchy.classes == tuple(order)
    head = loss.head(3)
    torch.testing.assert_close(
        head.class_weight().double(),
        brute_force_weight(loss.hierarchy, head.node_vectors.detach().double()),
    )


def test_composes_through_the_installed_entry_point(trees) -> None:
    host = default_host()
    assert host.plugins["tree-loss"].distribution == "structloss-tree-loss"
    assert host.spec("loss", "tree-loss").needs == "hierarchy"
    loss = compose({"loss": {"name": "tree-loss"}}, structure=trees["complete"])
    assert isinstance(loss, TreeLoss)
    assert loss.num_classes == 12


def test_without_a_structure_the_error_names_the_fix(plugin_host: PluginHost) -> None:
    with pytest.raises(IncompatibleStructureError, match="needs a hierarchy"):
        compose({"classes": ["a", "b"], "loss": {"name": "tree-loss"}}, host=plugin_host)


def test_unknown_option_lists_the_valid_ones(trees, plugin_host: PluginHost) -> None:
    with pytest.raises(UnknownOptionError, match="label_smoothing"):
        compose(
            {"loss": {"name": "tree-loss", "label_smoothin": 0.1}},
            structure=trees["flat"],
            host=plugin_host,
        )


def test_factory_refuses_a_similarity(plugin_host: PluginHost) -> None:
    classes = ("a", "b")
    context = LossContext(classes, Similarity.identity(classes), plugin_host.backend())
    with pytest.raises(
        IncompatibleStructureError, match="'tree-loss' needs a hierarchy, got a sim"
    ):
        TreeLoss(context)


# -- the head against brute force ------------------------------------------------------------
def test_class_weight_is_the_path_sum(tree: Hierarchy) -> None:
    head = TreeLinear(tree, 7).double()
    vectors = head.node_vectors.detach()
    weight = head.class_weight()
    torch.testing.assert_close(weight, brute_force_weight(tree, vectors), rtol=0, atol=1e-12)
    path = torch.from_numpy(tree.path_matrix(np.float64))
    torch.testing.assert_close(weight, path @ vectors, rtol=0, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), inner=st.integers(1, 12), classes=st.integers(1, 12))
def test_class_weight_is_the_path_sum_on_random_trees(
    make_tree, seed: int, inner: int, classes: int
) -> None:
    tree = make_tree(seed, inner, classes)
    head = TreeLinear(tree, 3, dtype=torch.float64)
    vectors = head.node_vectors.detach()
    torch.testing.assert_close(
        head.class_weight(), brute_force_weight(tree, vectors), rtol=0, atol=1e-12
    )
    # the gradient is the transpose: each node collects the class rows below it
    cotangent = torch.randn(tree.num_classes, 3, dtype=torch.float64)
    (grad,) = torch.autograd.grad(head.class_weight(), head.node_vectors, cotangent)
    path = torch.from_numpy(tree.path_matrix(np.float64))
    torch.testing.assert_close(grad, path.T @ cotangent, rtol=0, atol=1e-12)


def test_logits_are_x_w_transpose_plus_b(irregular) -> None:
    head = TreeLinear(irregular, 5, dtype=torch.float64)
    x = torch.randn(2, 3, 5, dtype=torch.float64)
    weight = brute_force_weight(irregular, head.node_vectors.detach())
    expected = torch.einsum("abi,ci->abc", x, weight) + head.bias.detach()
    torch.testing.assert_close(head(x), expected, rtol=1e-12, atol=1e-12)


def test_without_bias(irregular) -> None:
    head = TreeLinear(irregular, 4, bias=False, dtype=torch.float64)
    assert head.bias is None
    assert [name for name, _ in head.named_parameters()] == ["node_vectors"]
    x = torch.randn(3, 4, dtype=torch.float64)
    torch.testing.assert_close(head(x), x @ head.class_weight().T)


def test_gradcheck_of_head_and_loss(make_tree) -> None:
    tree = make_tree(3, 4, 5)
    head = TreeLinear(tree, 2, dtype=torch.float64)
    loss = TreeLoss(tree, label_smoothing=0.1)
    x, y = batch(tree, 5, 2, seed=1)
    y[2] = -100
    params = (x.requires_grad_(), *(p.detach().clone().requires_grad_() for p in head.parameters()))

    def value(x: Tensor, vectors: Tensor, bias: Tensor) -> Tensor:
        outputs = torch.func.functional_call(head, {"node_vectors": vectors, "bias": bias}, (x,))
        return loss(outputs, y)

    assert torch.autograd.gradcheck(value, params)
    assert torch.autograd.gradgradcheck(value, params)


# -- initialisation ----------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), inner=st.integers(1, 20), classes=st.integers(1, 20))
def test_variance_shares_are_positive_and_sum_to_one_on_every_path(
    make_tree, seed: int, inner: int, classes: int
) -> None:
    tree = make_tree(seed, inner, classes)
    shares = node_variance_shares(tree)
    assert (shares > 0).all()
    np.testing.assert_allclose(tree.path_matrix(np.float64) @ shares, 1.0, rtol=1e-12)


def test_variance_shares_split_evenly_when_all_classes_are_equally_deep(trees) -> None:
    tree = trees["complete"]  # depth 3: four nodes on every path
    np.testing.assert_allclose(node_variance_shares(tree), 0.25)


@pytest.mark.parametrize("name", ["irregular", "chain"])
def test_initial_class_weights_have_nn_linear_scale_at_every_depth(trees, name: str) -> None:
    tree, features = trees[name], 2048
    torch.manual_seed(0)
    weight = TreeLinear(tree, features).class_weight().detach().double()
    target = 1.0 / (3 * features)  # nn.Linear's U(-1/sqrt(in), 1/sqrt(in)) has this variance
    depths = tree.depths[: tree.num_classes]
    for depth in np.unique(depths):
        rows = weight[torch.from_numpy(depths == depth)]
        # relative standard error of a variance from >= 2048 normal samples is <= 3.2%
        assert rows.square().mean().item() == pytest.approx(target, rel=0.12), f"depth {depth}"
        assert abs(rows.mean().item()) < 4 * math.sqrt(target / rows.numel())
    linear = nn.Linear(features, tree.num_classes).weight.detach().double()
    assert weight.var().item() == pytest.approx(linear.var().item(), rel=0.12)


def test_bias_is_initialised_per_class_like_nn_linear(irregular) -> None:
    head = TreeLinear(irregular, 16)
    assert head.bias.shape == (irregular.num_classes,)
    assert head.bias.abs().max().item() <= 1 / math.sqrt(16)
    assert head.bias.std().item() > 0


# -- module mechanics ----------------------------------------------------------------------
def test_to_float64_converts_parameters_and_keeps_index_buffers(irregular) -> None:
    head = TreeLinear(irregular, 4).to(torch.float64)
    assert head.node_vectors.dtype == head.bias.dtype == head.node_variance.dtype == torch.float64
    index = {n: b for n, b in head.named_buffers() if n != "node_variance"}
    assert all(b.dtype == torch.int64 for b in index.values())
    x = torch.randn(3, 4, dtype=torch.float64)
    torch.testing.assert_close(
        head(x), x @ brute_force_weight(irregular, head.node_vectors.detach()).T + head.bias
    )


def test_every_tensor_follows_to_device(irregular) -> None:
    head = TreeLinear(irregular, 4).to("meta")
    tensors = [*head.parameters(), *head.buffers()]
    assert len(tensors) == 8
    assert all(t.device.type == "meta" for t in tensors)
    assert head(torch.empty(2, 4, device="meta")).shape == (2, irregular.num_classes)


def test_state_dict_round_trip(irregular) -> None:
    head = TreeLinear(irregular, 5)
    state = head.state_dict()
    assert set(state) == {"node_vectors", "bias", "parents"}
    other = TreeLinear(irregular, 5)
    other.load_state_dict(state)
    x = torch.randn(3, 5)
    torch.testing.assert_close(other(x), head(x), rtol=0, atol=0)


@pytest.mark.parametrize("seed", [8, 9])
def test_state_dict_of_another_tree_is_refused(make_tree, irregular, seed: int) -> None:
    other = make_tree(seed, 15, 20)
    with pytest.raises(StructureError, match="another class tree"):
        TreeLinear(other, 5).load_state_dict(TreeLinear(irregular, 5).state_dict())


def test_ddp_single_process(tmp_path: Path, irregular) -> None:
    dist = torch.distributed
    if not dist.is_available():
        pytest.skip("torch.distributed is not available")
    head = TreeLinear(irregular, 4, dtype=torch.float64)
    reference = TreeLinear(irregular, 4, dtype=torch.float64)
    reference.load_state_dict(head.state_dict())
    loss = TreeLoss(irregular)
    x, y = batch(irregular, 8, 4, seed=2)
    dist.init_process_group(
        "gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1
    )
    try:
        model = nn.parallel.DistributedDataParallel(head)
        loss(model(x), y).backward()
    finally:
        dist.destroy_process_group()
    loss(reference(x), y).backward()
    torch.testing.assert_close(head.node_vectors.grad, reference.node_vectors.grad)
    torch.testing.assert_close(head.bias.grad, reference.bias.grad)


DDP_WORKER = """
import sys, torch
import torch.distributed as dist
from torch import nn
from structloss import Hierarchy
from structloss_tree_loss import TreeLinear, TreeLoss

rank, store, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
tree = Hierarchy.from_json(sys.argv[4])
torch.manual_seed(0)
head = TreeLinear(tree, 4, dtype=torch.float64)
if rank == 1:
    head.reset_parameters()  # DDP must broadcast rank 0's parameters
model = nn.parallel.DistributedDataParallel(head)
generator = torch.Generator().manual_seed(1)
x = torch.randn(8, 4, generator=generator, dtype=torch.float64)
y = torch.randint(0, tree.num_classes, (8,), generator=generator)
TreeLoss(tree)(model(x[rank::2]), y[rank::2]).backward()
torch.save({"node_vectors": head.node_vectors.grad, "bias": head.bias.grad}, out)
dist.destroy_process_group()
"""


@pytest.mark.slow
def test_ddp_two_processes_average_to_the_full_batch_gradient(tmp_path: Path, irregular) -> None:
    if not torch.distributed.is_available():
        pytest.skip("torch.distributed is not available")
    (tmp_path / "tree.json").write_text(irregular.to_json())
    (tmp_path / "worker.py").write_text(DDP_WORKER)
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                str(tmp_path / "worker.py"),
                str(rank),
                str(tmp_path / "store"),
                str(tmp_path / f"grad{rank}.pt"),
                str(tmp_path / "tree.json"),
            ]
        )
        for rank in range(2)
    ]
    assert [worker.wait(timeout=120) for worker in workers] == [0, 0]
    grads = [torch.load(tmp_path / f"grad{rank}.pt", weights_only=True) for rank in range(2)]
    torch.manual_seed(0)
    head = TreeLinear(irregular, 4, dtype=torch.float64)
    generator = torch.Generator().manual_seed(1)
    x = torch.randn(8, 4, generator=generator, dtype=torch.float64)
    y = torch.randint(0, irregular.num_classes, (8,), generator=generator)
    # the mean over two equal halves' means is the full-batch mean
    TreeLoss(irregular)(head(x), y).backward()
    for grad in grads:
        torch.testing.assert_close(grad["node_vectors"], head.node_vectors.grad)
        torch.testing.assert_close(grad["bias"], head.bias.grad)


# -- training equivalence ------------------------------------------------------------------
def test_flat_hierarchy_trains_exactly_like_nn_linear(trees) -> None:
    tree = trees["flat"]
    classes, features, root = tree.num_classes, 4, tree.root_index
    torch.manual_seed(3)
    head = TreeLinear(tree, features, dtype=torch.float64)
    loss = TreeLoss(tree)
    v = head.node_vectors.detach()
    with_root = nn.Linear(features, classes, dtype=torch.float64)
    leaves_only = nn.Linear(features, classes, dtype=torch.float64)
    with torch.no_grad():
        with_root.weight.copy_(v[:classes] + v[root])
        leaves_only.weight.copy_(v[:classes])
        for linear in (with_root, leaves_only):
            linear.bias.copy_(head.bias)
    models = (head, with_root, leaves_only)
    optimizers = [torch.optim.SGD(m.parameters(), lr=0.5) for m in models]
    root_vector = v[root].clone()
    generator = torch.Generator().manual_seed(4)
    for _ in range(8):
        x = torch.randn(16, features, generator=generator, dtype=torch.float64)
        y = torch.randint(0, classes, (16,), generator=generator)
        outputs = [model(x) for model in models]
        torch.testing.assert_close(outputs[0], outputs[1], rtol=1e-10, atol=1e-10)
        shift = (x @ head.node_vectors[root].detach())[:, None]  # one constant per sample
        torch.testing.assert_close(outputs[0], outputs[2] + shift, rtol=1e-10, atol=1e-10)
        for optimizer in optimizers:
            optimizer.zero_grad()
        loss(outputs[0], y).backward()
        for out in outputs[1:]:
            F.cross_entropy(out, y).backward()
        # softmax gradients sum to zero over the classes, so the shared root learns nothing
        assert head.node_vectors.grad[root].abs().max().item() < 1e-12
        torch.testing.assert_close(head.node_vectors.grad[:classes], with_root.weight.grad)
        for optimizer in optimizers:
            optimizer.step()
    torch.testing.assert_close(head.node_vectors[root].detach(), root_vector, rtol=0, atol=1e-12)
    torch.testing.assert_close(head.class_weight().detach(), with_root.weight.detach())


def test_a_step_on_node_vectors_moves_class_weights_through_shared_ancestors() -> None:
    tree = Hierarchy.from_parents(
        ["cat", "dog", "car"], {"cat": "animal", "dog": "animal", "animal": "root", "car": "root"}
    )
    head, loss, lr = TreeLinear(tree, 3, dtype=torch.float64), TreeLoss(tree), 0.5
    before = head.class_weight().detach().clone()
    x = torch.randn(4, 3, dtype=torch.float64)
    cats = torch.zeros(4, dtype=torch.long)
    weight = head.class_weight()
    (grad_w,) = torch.autograd.grad(loss(F.linear(x, weight, head.bias), cats), weight)
    loss(head(x), cats).backward()
    with torch.no_grad():
        head.node_vectors -= lr * head.node_vectors.grad
    # gradient descent on V is descent on W preconditioned by A A^T (shared-ancestor counts)
    path = torch.from_numpy(tree.path_matrix(np.float64))
    expected = before - lr * (path @ path.T) @ grad_w
    torch.testing.assert_close(head.class_weight().detach(), expected, rtol=1e-12, atol=1e-12)
    # spelled out: "dog" moves by its own gradient twice (leaf and "animal") plus cat's
    # through "animal"; "car" shares only the root, whose gradient is zero
    moved = head.class_weight().detach() - before
    torch.testing.assert_close(moved[1], -lr * (2 * grad_w[1] + grad_w[0]))
    torch.testing.assert_close(moved[2], -lr * grad_w[2])


# -- the loss against F.cross_entropy ----------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("ignore_index", [-100, -1, 1000])
@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
def test_loss_equals_cross_entropy_on_the_same_logits(
    reduction: str, ignore_index: int, label_smoothing: float, irregular
) -> None:
    loss = TreeLoss(
        irregular, reduction=reduction, ignore_index=ignore_index, label_smoothing=label_smoothing
    )
    logits = torch.randn(9, irregular.num_classes, dtype=torch.float64) * 2
    target = torch.randint(0, irregular.num_classes, (9,))
    target[[0, 5]] = ignore_index
    ours_in = logits.clone().requires_grad_()
    theirs_in = logits.clone().requires_grad_()
    ours = loss(ours_in, target)
    theirs = F.cross_entropy(
        theirs_in,
        target,
        reduction=reduction,
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
    )
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
    cotangent = torch.linspace(0.5, 1.5, ours.numel(), dtype=torch.float64).reshape(ours.shape)
    ours.backward(cotangent)
    theirs.backward(cotangent)
    torch.testing.assert_close(ours_in.grad, theirs_in.grad, rtol=1e-12, atol=1e-12)
    assert (ours_in.grad[[0, 5]] == 0).all()


def test_all_ignored_batch_gives_zero(irregular) -> None:
    loss = TreeLoss(irregular)
    value = loss(torch.randn(3, irregular.num_classes), torch.full((3,), -100))
    assert value.item() == 0.0


def test_scores_are_the_logits(irregular) -> None:
    loss = TreeLoss(irregular)
    logits = torch.randn(2, irregular.num_classes)
    assert loss.scores(logits) is logits


# -- bad inputs ----------------------------------------------------------------------------
def test_bad_inputs_raise_input_errors(irregular) -> None:
    loss, n = TreeLoss(irregular), irregular.num_classes
    good = torch.randn(4, n)
    with pytest.raises(InputError, match=rf"shape \(batch, {n}\)"):
        loss(torch.randn(4, n + 1), torch.zeros(4, dtype=torch.long))
    with pytest.raises(InputError, match="outside"):
        loss(good, torch.tensor([0, 1, irregular.num_nodes, 2]))
    with pytest.raises(InputError, match="names the root"):
        loss(good, torch.tensor([0, 1, irregular.root_index, 2]))
    with pytest.raises(InputError, match="integer tensor"):
        loss(good, torch.zeros(4))
    with pytest.raises(InputError, match="target of shape"):
        loss(good, torch.zeros(3, dtype=torch.long))
    with pytest.raises(InputError, match="in_features = 5"):
        TreeLinear(irregular, 5)(torch.randn(2, 4))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"reduction": "avg"}, "unknown reduction"),
        ({"label_smoothing": 1.5}, "label_smoothing"),
        ({"ignore_index": 3}, "valid class index"),
    ],
)
def test_bad_options_raise_input_errors(
    irregular, options: dict[str, object], message: str, plugin_host: PluginHost
) -> None:
    with pytest.raises(InputError, match=message):
        compose({"loss": {"name": "tree-loss", **options}}, structure=irregular, host=plugin_host)


def test_bad_head_arguments(irregular) -> None:
    with pytest.raises(InputError, match="in_features"):
        TreeLoss(irregular).head(0)
    with pytest.raises(StructureError, match="Hierarchy"):
        TreeLinear(Similarity.identity(["a", "b"]), 3)  # type: ignore[arg-type]
    with pytest.raises(IncompatibleStructureError):
        TreeLoss(Similarity.identity(["a", "b"]))  # type: ignore[arg-type]


# -- compile and autocast -----------------------------------------------------------------
def test_autocast_bfloat16_runs_and_is_close(irregular) -> None:
    torch.manual_seed(5)
    head, loss = TreeLinear(irregular, 32), TreeLoss(irregular)
    x, y = batch(irregular, 16, 32, seed=5, dtype=torch.float32)
    reference = head(x)
    loss(reference, y).backward()
    expected = head.node_vectors.grad.clone()
    head.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        outputs = head(x)
        value = loss(outputs, y)
    assert outputs.dtype == torch.bfloat16
    torch.testing.assert_close(outputs.float(), reference, rtol=0.02, atol=0.02)
    value.backward()
    grad = head.node_vectors.grad
    assert grad.dtype == torch.float32
    assert ((grad - expected).norm() / expected.norm()).item() < 0.03


@pytest.mark.slow
def test_torch_compile_matches_eager(irregular) -> None:
    torch.manual_seed(6)
    head, loss = TreeLinear(irregular, 8), TreeLoss(irregular, label_smoothing=0.1)
    x, y = batch(irregular, 12, 8, seed=6, dtype=torch.float32)
    y[3] = -100

    def step(x: Tensor, y: Tensor) -> Tensor:
        return loss(head(x), y)

    expected = step(x, y)
    expected.backward()
    grads = [p.grad.clone() for p in head.parameters()]
    head.zero_grad()
    compiled = torch.compile(step, backend="aot_eager", fullgraph=True)
    value = compiled(x, y)
    value.backward()
    torch.testing.assert_close(value, expected)
    for param, grad in zip(head.parameters(), grads, strict=True):
        torch.testing.assert_close(param.grad, grad)


def test_the_package_exports_the_public_names(trees) -> None:
    import structloss_tree_loss

    assert structloss_tree_loss.__version__ == "0.1.0"
    assert set(structloss_tree_loss.__all__) == {
        "TreeLinear",
        "TreeLoss",
        "node_variance_shares",
    }
    assert isinstance(TreeLoss(trees["flat"]), structloss.Objective)


def test_the_tree_loss_keeps_the_root_vector_fixed(irregular) -> None:
    # cross-entropy cannot see a shift shared by all logits: the root gets no gradient at all
    loss = TreeLoss(irregular)
    head = loss.head(4)
    x = torch.randn(6, 4)
    target = torch.randint(irregular.num_classes, (6,))
    loss(head(x), target).backward()
    root = irregular.root_index
    assert torch.count_nonzero(head.node_vectors.grad[root]) == 0
    assert torch.count_nonzero(head.node_vectors.grad[:root]) > 0
    trainable = TreeLinear(irregular, 4)
    (trainable(x) ** 2).sum().backward()
    assert torch.count_nonzero(trainable.node_vectors.grad[root]) > 0


def test_frozen_root_gradient_is_the_transpose_without_the_root_row(make_tree) -> None:
    tree = make_tree(5, 6, 8)
    head = TreeLinear(tree, 3, train_root=False, dtype=torch.float64)
    cotangent = torch.randn(tree.num_classes, 3, dtype=torch.float64)
    weight = head.class_weight()
    torch.testing.assert_close(weight, brute_force_weight(tree, head.node_vectors.detach()))
    (grad,) = torch.autograd.grad(weight, head.node_vectors, cotangent, create_graph=True)
    path = torch.from_numpy(tree.path_matrix(np.float64))
    expected = path.T @ cotangent
    expected[tree.root_index] = 0
    torch.testing.assert_close(grad, expected, rtol=0, atol=1e-12)
    # double backward: d<grad, probe>/d cotangent = A P probe
    probe = torch.randn_like(grad)
    cotangent.requires_grad_(True)
    weight = head.class_weight()
    (grad,) = torch.autograd.grad(weight, head.node_vectors, cotangent, create_graph=True)
    (second,) = torch.autograd.grad((grad * probe).sum(), cotangent)
    masked = probe.clone()
    masked[tree.root_index] = 0
    torch.testing.assert_close(second, path @ masked, rtol=0, atol=1e-12)
