"""Train with PyTorch Lightning: a structloss objective inside a ``LightningModule``.

    python examples/lightning_train.py                      # 60 epochs on the real task
    python examples/lightning_train.py --fast-dev-run       # one batch of each, seconds
    python examples/lightning_train.py --devices 2 --strategy ddp   # Lightning's own DDP

The loss is composed by name from ``examples/tree_loss.toml``; ``objective.head(...)`` is
the model's last layer (the tree loss's head computes class weights from node vectors); the
structure-aware metrics are ``torchmetrics`` objects, so ``self.log_dict`` accumulates them
over the epoch and, under any multi-device strategy, over all processes. Nothing here is
specific to structloss except the three lines marked ``# structloss``.
"""

from __future__ import annotations

import lightning as L
import torch
from common import arguments, metrics_for, objective_for, real_task, splits
from torch.utils.data import DataLoader


class StructuredClassifier(L.LightningModule):
    """A linear classifier on the nouns' GloVe vectors, trained with a structloss objective."""

    def __init__(self, objective, in_features, metrics, lr=0.003, weight_decay=0.001):
        super().__init__()
        self.objective = objective
        self.model = objective.head(in_features)  # structloss: the layer the loss expects
        self.val_metrics = metrics.clone(prefix="val/")
        self.lr, self.weight_decay = lr, weight_decay

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.objective(self.model(x), y)  # structloss: like nn.CrossEntropyLoss
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        scores = self.objective.scores(self.model(x))  # structloss: class scores
        self.val_metrics.update(scores, y)
        self.log_dict(self.val_metrics, on_epoch=True)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)


def main(argv=None):
    parser = arguments(__doc__)
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--fast-dev-run", action="store_true", help="one batch of each")
    parser.add_argument("--devices", type=int, default=1)
    parser.add_argument("--strategy", default="auto", help='e.g. "ddp" with --devices 2')
    parser.add_argument("--accelerator", default="cpu")
    args = parser.parse_args(argv)

    L.seed_everything(0, workers=True)
    data = real_task()
    objective = objective_for(data, args.config)
    module = StructuredClassifier(objective, data.x_train.shape[1], metrics_for(data))
    train, test = splits(data)
    trainer = L.Trainer(
        max_epochs=args.epochs,
        fast_dev_run=args.fast_dev_run,
        accelerator=args.accelerator,
        devices=args.devices,
        strategy=args.strategy,
        check_val_every_n_epoch=min(10, args.epochs),
        enable_checkpointing=False,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(
        module,
        DataLoader(train, batch_size=args.batch_size, shuffle=True),
        DataLoader(test, batch_size=1024),
    )
    results = {name: round(float(value), 4) for name, value in trainer.callback_metrics.items()}
    if trainer.is_global_zero:
        print(objective)
        print(results)
    return results


if __name__ == "__main__":
    main()
