"""Test setup: the shared isolated host ``plugin_host``; Triton on the CPU without CUDA.

Triton decides when a function is decorated with ``@triton.jit`` whether it is compiled or
interpreted (``TRITON_INTERPRET=1``), and its own language functions are decorated when
``triton`` is first imported. Without a GPU we import triton here, before any test does, with
``TRITON_INTERPRET=1``, then restore the variable: the Triton tests set it again while they
import and run the kernels (``test_triton.py``), and every other test (and every other
plugin's test in a shared session) still sees no interpreter, so ``auto`` keeps picking the
torch kernel for CPU tensors.
"""

from __future__ import annotations

import os
import sys

import torch

import structloss_smooth_topk.hooks
from structloss.testing.fixtures import plugin_host_fixture

plugin_host = plugin_host_fixture(structloss_smooth_topk.hooks)

if not torch.cuda.is_available() and "triton" not in sys.modules:
    _previous = os.environ.get("TRITON_INTERPRET")
    os.environ["TRITON_INTERPRET"] = "1"
    try:
        import triton.language  # noqa: F401
    except ImportError:  # test_triton.py skips, saying so
        pass
    finally:
        if _previous is None:
            del os.environ["TRITON_INTERPRET"]
        else:
            os.environ["TRITON_INTERPRET"] = _previous
