"""Train with timm's ``Mixup``: soft (batch, classes) targets through a structure-aware loss.

    python examples/mixup_train.py                # 60 epochs on the real task
    python examples/mixup_train.py --epochs 1     # seconds

``timm.data.Mixup`` mixes pairs of inputs and turns the class indices into mixed, smoothed
probability targets; tree-loss, simloss, hxe, soft-labels, hier-softmax and cross-entropy
take those targets as they are (the loss's ``scores`` still give plain class scores).
Here the inputs are the nouns' GloVe vectors, so only mixup (not cutmix) applies.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import torch
from common import arguments, evaluate, objective_for, real_task, splits
from torch.utils.data import DataLoader


def timm_mixup():
    """``timm.data.Mixup``.

    ``import timm`` imports torchvision; where torchvision cannot load (a CPU-only torch
    from a local wheel beside PyPI's torchvision), ``timm/data/mixup.py``, which needs only
    torch and numpy, is loaded from the installed timm by its path.
    """
    try:
        from timm.data import Mixup
    except (ImportError, RuntimeError):
        spec = importlib.util.find_spec("timm")
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit("this example needs timm: pip install timm") from None
        path = Path(spec.submodule_search_locations[0]) / "data" / "mixup.py"
        module_spec = importlib.util.spec_from_file_location("timm_mixup", path)
        module = importlib.util.module_from_spec(module_spec)
        sys.modules["timm_mixup"] = module
        module_spec.loader.exec_module(module)
        Mixup = module.Mixup
    return Mixup


def main(argv=None):
    parser = arguments(__doc__)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--mixup-alpha", type=float, default=0.2)
    parser.add_argument("--label-smoothing", type=float, default=0.1)
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    data = real_task()
    objective = objective_for(data, args.config)
    model = objective.head(data.x_train.shape[1])
    mixup = timm_mixup()(
        mixup_alpha=args.mixup_alpha,
        cutmix_alpha=0.0,
        label_smoothing=args.label_smoothing,
        num_classes=len(data.classes),
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=0.003, weight_decay=0.001)
    train, _ = splits(data)
    # timm's Mixup pairs each sample with the batch reversed: it needs even batches
    loader = DataLoader(train, batch_size=args.batch_size, shuffle=True, drop_last=True)
    for epoch in range(args.epochs):
        for x, y in loader:
            x, soft = mixup(x, y)  # soft: (batch, classes) probabilities
            loss = objective(model(x), soft)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        if epoch == 0 or (epoch + 1) % 20 == 0:
            print(f"epoch {epoch + 1}: loss {loss.item():.4f}")
    results = evaluate(model, objective, data)
    print(objective)
    print(results)
    return results


if __name__ == "__main__":
    main()
