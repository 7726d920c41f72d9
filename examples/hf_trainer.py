"""Train with the Hugging Face ``transformers.Trainer``: a structloss objective as its loss.

    python examples/hf_trainer.py                 # 600 steps on the real task
    python examples/hf_trainer.py --max-steps 5   # seconds

The model is a tiny BERT built from a config (no download): each noun's GloVe vector is one
input embedding, and ``objective.head(...)`` replaces the classifier. The loss is
``hf_loss(objective)``, handed to the Trainer as ``compute_loss_func``: it sums the
objective over the batch and divides by ``num_items_in_batch`` when the Trainer passes it
(the labelled samples of every micro-batch of the accumulated step), as the Trainer's docs
require for gradient accumulation to equal one large batch; otherwise by this batch's
labelled samples.
"""

from __future__ import annotations

import copy
import tempfile

import torch
from common import arguments, evaluate, objective_for, real_task
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

import structloss


def hf_loss(objective: structloss.Objective):
    """A ``compute_loss_func`` for ``transformers.Trainer`` from a structloss objective.

    It returns ``sum of the per-sample losses / num_items_in_batch`` (or / the batch's
    labelled samples, ``labels != objective.ignore_index``, when the Trainer passes none).
    """
    summed = copy.copy(objective)  # shares every tensor; only the reduction differs
    summed.reduction = "sum"

    def compute_loss(outputs, labels, num_items_in_batch=None):
        total = summed(outputs["logits"], labels)
        if num_items_in_batch is None:
            num_items_in_batch = (labels != objective.ignore_index).sum()
        return total / num_items_in_batch

    return compute_loss


class Nouns(torch.utils.data.Dataset):
    """Rows ``{"inputs_embeds": (1, 50) vector, "labels": class}`` for the Trainer."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor) -> None:
        self.x, self.y = x.float(), y

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {"inputs_embeds": self.x[i : i + 1], "labels": self.y[i]}


class Scores(torch.nn.Module):
    """The fitted model as ``vectors -> outputs`` for :func:`common.evaluate`."""

    def __init__(self, model: BertForSequenceClassification) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(inputs_embeds=x[:, None, :]).logits


def main(argv=None):
    parser = arguments(__doc__)
    parser.add_argument("--max-steps", type=int, default=600)
    parser.add_argument("--gradient-accumulation-steps", type=int, default=1)
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    data = real_task()
    objective = objective_for(data, args.config)
    dim = data.x_train.shape[1]
    config = BertConfig(
        hidden_size=dim,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=4 * dim,
        max_position_embeddings=8,
        vocab_size=8,
    )
    model = BertForSequenceClassification(config)
    model.classifier = objective.head(dim)  # the layer the loss expects
    model.structloss_objective = objective  # moves with the model to its device
    with tempfile.TemporaryDirectory() as out:
        training = TrainingArguments(
            output_dir=out,
            max_steps=args.max_steps,
            per_device_train_batch_size=args.batch_size,
            gradient_accumulation_steps=args.gradient_accumulation_steps,
            learning_rate=1e-3,
            weight_decay=0.001,
            use_cpu=not torch.cuda.is_available(),
            report_to=[],
            save_strategy="no",
            logging_steps=max(1, args.max_steps // 5),
            disable_tqdm=True,
        )
        trainer = Trainer(
            model=model,
            args=training,
            train_dataset=Nouns(data.x_train, data.y_train),
            compute_loss_func=hf_loss(objective),
        )
        trainer.train()
    model.eval()
    results = evaluate(Scores(model), objective, data)
    print(objective)
    print(results)
    return results


if __name__ == "__main__":
    main()
