"""Distributed data-parallel training under ``torchrun`` (gloo on CPU, nccl on GPU)."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager

import attrs
import torch
import torch.distributed as dist
from torch import Tensor, nn

__all__ = ["World", "distributed_world", "wrap_model"]


@attrs.frozen
class World:
    """This process's place among the training processes (a single process by default)."""

    rank: int = 0
    size: int = 1
    device: torch.device = attrs.field(factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        """True on the process that prints and writes files (rank 0)."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """True when more than one process trains."""
        return self.size > 1

    def shard(self, batch: Tensor) -> Tensor:
        """Return this rank's equal share of a global batch of indices.

        A global batch whose size is not a multiple of the world size is cut to the
        largest multiple, so every rank averages over the same number of samples and the
        averaged gradient equals the single-process gradient of the kept samples.
        """
        if not self.distributed:
            return batch
        usable = batch.numel() - batch.numel() % self.size
        return batch[:usable].view(self.size, -1)[self.rank]

    def all_reduce(self, tensor: Tensor) -> Tensor:
        """Sum ``tensor`` over all ranks (identity for a single process)."""
        if self.distributed:
            dist.all_reduce(tensor)
        return tensor

    def all_gather(self, tensor: Tensor) -> Tensor:
        """Concatenate ``tensor`` (first dimension) from all ranks in rank order."""
        if not self.distributed:
            return tensor
        sizes = [torch.zeros(1, dtype=torch.long, device=tensor.device) for _ in range(self.size)]
        dist.all_gather(sizes, torch.tensor([tensor.shape[0]], device=tensor.device))
        longest = int(max(s.item() for s in sizes))
        padded = torch.zeros((longest, *tensor.shape[1:]), dtype=tensor.dtype, device=tensor.device)
        padded[: tensor.shape[0]] = tensor
        parts = [torch.empty_like(padded) for _ in range(self.size)]
        dist.all_gather(parts, padded)
        return torch.cat([p[: int(s.item())] for p, s in zip(parts, sizes, strict=True)])


@contextmanager
def distributed_world() -> Iterator[World]:
    """Join the process group ``torchrun`` describes, or yield a single-process world.

    Uses nccl when CUDA is available (one GPU per local rank), gloo otherwise, and leaves
    the group on exit.
    """
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        yield World()
        return
    rank = int(os.environ["RANK"])
    local = int(os.environ.get("LOCAL_RANK", rank))
    if torch.cuda.is_available():
        torch.cuda.set_device(local)
        dist.init_process_group("nccl")
        device = torch.device("cuda", local)
    else:
        dist.init_process_group("gloo")
        device = torch.device("cpu")
    try:
        yield World(rank=rank, size=size, device=device)
        dist.barrier()  # leave together: rank 0 may still be writing the run folder
    finally:
        # DDP reducers hold the group: free the trained wrappers first, so the group and
        # gloo's worker threads go down now, not during interpreter teardown (where a
        # still-running C++ thread aborts the process: "terminate called without an
        # active exception")
        gc.collect()
        dist.destroy_process_group()
        gc.collect()


def wrap_model(model: nn.Module, world: World) -> nn.Module:
    """Wrap ``model`` in DistributedDataParallel when training on several processes."""
    if not world.distributed:
        return model
    device_ids = [world.device.index] if world.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)
