"""``smooth-topk`` through the plugin host: registration, compose, backend choice, errors."""

from __future__ import annotations

import sys

import pytest
import torch

from structloss import PluginHost, compose
from structloss.errors import BackendUnavailableError, ConfigError, UnknownOptionError
from structloss_smooth_topk import SmoothTopK, TritonBackend, smooth_topk_torch
from structloss_smooth_topk.backend import default_compute_backend

CLASSES = [f"c{i}" for i in range(12)]


@pytest.fixture
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend there is no CUDA device and no Triton interpreter."""
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def test_hooks_register_loss_backend_and_kernels(plugin_host):
    assert plugin_host.components("smooth-topk") == {
        "loss": ["smooth-topk"],
        "backend": ["triton"],
        "kernel": ["smooth-topk@torch", "smooth-topk@triton"],
    }
    assert plugin_host.spec("loss", "smooth-topk").needs is None
    assert plugin_host.spec("backend", "triton").priority == 10


def test_hooks_module_does_not_import_triton():
    import os
    import subprocess

    code = (
        "import sys, structloss_smooth_topk, structloss_smooth_topk.hooks;"
        "from structloss import PluginHost; PluginHost().registry;"
        "print('triton' in sys.modules)"
    )
    env = {**os.environ, "STRUCTLOSS_LOAD_PLUGINS": "smooth-topk"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert out.stdout.strip() == "False"


def test_compose_by_name_with_options(plugin_host):
    config = {
        "classes": CLASSES,
        "loss": {"name": "smooth-topk", "k": 3, "tau": 0.5, "alpha": 0.2, "reduction": "sum"},
    }
    loss = compose(config, host=plugin_host)
    assert isinstance(loss, SmoothTopK)
    assert (loss.k, loss.tau, loss.alpha, loss.reduction) == (3, 0.5, 0.2, "sum")
    scores, target = torch.randn(5, 12), torch.randint(12, (5,))
    torch.testing.assert_close(
        loss(scores, target), smooth_topk_torch(scores, target, 3, 0.5, 0.2).sum()
    )


def test_compose_with_class_weights(plugin_host):
    weight = [float(i + 1) for i in range(12)]
    config = {"classes": CLASSES, "loss": {"name": "smooth-topk", "k": 2, "weight": weight}}
    loss = compose(config, host=plugin_host)
    assert loss.weight.tolist() == weight
    scores, target = torch.randn(5, 12), torch.tensor([0, 11, 3, 3, 7])
    w = torch.tensor(weight)[target]
    want = (w * smooth_topk_torch(scores, target, 2, 0.3, 1.0)).sum() / w.sum()
    torch.testing.assert_close(loss(scores, target), want)
    bad = {"classes": CLASSES, "loss": {"name": "smooth-topk", "weight": [1.0, 2.0]}}
    with pytest.raises(ConfigError, match=r"weight must be 12 .*got shape \(2,\)"):
        compose(bad, host=plugin_host)


def test_defaults(plugin_host):
    loss = compose({"classes": CLASSES, "loss": {"name": "smooth-topk"}}, host=plugin_host)
    assert (loss.k, loss.tau, loss.alpha, loss.reduction, loss.ignore_index) == (
        5,
        0.3,
        1.0,
        "mean",
        -100,
    )


def test_unknown_and_invalid_options(plugin_host):
    with pytest.raises(UnknownOptionError, match="temperature"):
        compose(
            {"classes": CLASSES, "loss": {"name": "smooth-topk", "temperature": 1}},
            host=plugin_host,
        )
    with pytest.raises(ConfigError, match=r"1 <= k < num_classes \(12\)"):
        compose({"classes": CLASSES, "loss": {"name": "smooth-topk", "k": 12}}, host=plugin_host)
    with pytest.raises(ConfigError, match="tau"):
        compose({"classes": CLASSES, "loss": {"name": "smooth-topk", "tau": 0}}, host=plugin_host)


def test_auto_picks_torch_on_cpu(plugin_host, no_gpu):
    loss = compose({"classes": CLASSES, "loss": {"name": "smooth-topk", "k": 2}}, host=plugin_host)
    assert loss.backend.name == "auto"
    assert loss.backend.select("smooth-topk", "cpu") == "torch"
    loss(torch.randn(3, 12), torch.randint(12, (3,)))


def test_auto_prefers_triton_on_cuda_when_it_imports(plugin_host, monkeypatch):
    pytest.importorskip("triton", reason="triton is not installed")
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    backend = plugin_host.backend("auto")
    assert backend.select("smooth-topk", "cuda") == "triton"
    assert backend.select("smooth-topk", "cpu") == "torch"


def test_auto_falls_back_to_torch_without_triton(plugin_host, monkeypatch):
    monkeypatch.setitem(sys.modules, "triton", None)  # import triton -> ImportError
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    backend = plugin_host.backend("auto")
    assert backend.select("smooth-topk", "cuda") == "torch"


def test_named_triton_without_a_gpu_is_a_clear_error(plugin_host, no_gpu):
    config = {"classes": CLASSES, "loss": {"name": "smooth-topk"}, "backend": {"name": "triton"}}
    with pytest.raises(BackendUnavailableError) as info:
        compose(config, host=plugin_host)
    message = str(info.value)
    assert "backend 'triton' cannot run here" in message
    assert "CUDA device" in message and "TRITON_INTERPRET=1" in message
    assert "'auto' or 'torch'" in message


def test_named_triton_without_triton_is_a_clear_error(plugin_host, monkeypatch):
    monkeypatch.setitem(sys.modules, "triton", None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    config = {"classes": CLASSES, "loss": {"name": "smooth-topk"}, "backend": {"name": "triton"}}
    with pytest.raises(BackendUnavailableError, match=r"triton cannot be imported.*pip install"):
        compose(config, host=plugin_host)


def test_named_triton_on_cpu_tensors_is_a_clear_error(monkeypatch):
    pytest.importorskip("triton", reason="triton is not installed")
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    loss = SmoothTopK(12, k=2, backend=default_compute_backend("triton"))
    with pytest.raises(BackendUnavailableError, match="cannot run op 'smooth-topk' on cpu"):
        loss(torch.randn(3, 12), torch.randint(12, (3,)))


def test_named_torch_runs_everywhere(plugin_host):
    config = {"classes": CLASSES, "loss": {"name": "smooth-topk"}, "backend": {"name": "torch"}}
    loss = compose(config, host=plugin_host)
    assert loss.backend.select("smooth-topk", "cpu") == "torch"


def test_triton_backend_supports(monkeypatch):
    backend = TritonBackend()
    monkeypatch.delenv("TRITON_INTERPRET", raising=False)
    assert backend.supports(torch.device("cuda"))
    assert not backend.supports(torch.device("cpu"))
    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert backend.supports(torch.device("cpu"))


def test_installed_entry_point_is_discovered():
    host = PluginHost(env={"STRUCTLOSS_LOAD_PLUGINS": "smooth-topk"})
    assert "smooth-topk" in host.registry.names("loss")
    assert host.plugins["smooth-topk"].distribution == "structloss-smooth-topk"
