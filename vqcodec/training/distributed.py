"""Data-parallel training under torchrun: gloo on CPU, nccl on GPU; a no-op in one process.

Each rank draws its own crops (seed + rank); gradients are averaged by DDP; the codebooks stay
identical on all ranks because the EMA statistics are all-reduced and restarts broadcast from
rank 0 (see VectorQuantizer). Only rank 0 logs, validates and writes checkpoints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls) -> DistContext:
        """Join the process group torchrun describes in the environment (if any)."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world == 1:
            return cls()
        if not dist.is_initialized():
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        return cls(dist.get_rank(), dist.get_world_size())

    def wrap(self, module: nn.Module) -> nn.Module:
        if self.world == 1:
            return module
        # buffers (codebooks) are kept in sync by the quantizers' own collectives
        return nn.parallel.DistributedDataParallel(module, broadcast_buffers=False)

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def close(self) -> None:
        if self.world > 1 and dist.is_initialized():
            dist.destroy_process_group()
