"""Chapter 3's studies of the base network (784 -> 1000 -> ReLU -> 10, cross-entropy, batch 32, Fashion-MNIST).

Each study below is a declaration: what varies, the defaults, what to notice. ``runner.train_study`` trains the
variants from the same seed with ``nnblocks.train.fit`` and ``report`` writes them down. On ``--dataset digits``
the input size adapts (64) and "scaled" means /16, the digits' largest pixel.
"""
from __future__ import annotations

from nnblocks.experiments import chapter3_findings as found
from nnblocks.experiments.base import (MLP, RAW, SCALED, TINY, BookProtocol, Opt, Penalty, Plateau, Study,
                                       Variant)

# L2 as a penalty adds lambda * ||w||^2 to the loss, whose gradient is 2 * lambda * w; decoupled weight decay
# subtracts lr * wd * w from the weights directly. wd = 2 * lambda makes the two the very same update under plain
# SGD, so the comparison isolates what Adam's per-weight rescaling does to the penalty's gradient.
L2_WEIGHT = 1e-2
DECOUPLED_WEIGHT_DECAY = 2 * L2_WEIGHT

SCALING = Study(
    "scaling", "Raw pixels against pixels divided by their maximum",
    "The same network and SGD run, once on the raw pixel values (0..255) and once on pixels scaled to [0, 1].",
    variants=(Variant("raw", inputs=RAW, optimizer=Opt("SGD", 1e-2)),
              Variant("scaled", inputs=SCALED, optimizer=Opt("SGD", 1e-2))),
    epochs=5,
    notice=("With raw pixels the first layer's pre-activations are ~255 times larger, so are the logits and the "
            "gradients: at lr 1e-2 SGD overshoots, the loss is huge or erratic and accuracy stays low.",
            "Scaled inputs train smoothly from the first epoch: the learning rate that suits [0, 1] inputs is far "
            "too large for 0..255 ones. Scaling is part of the model, not an afterthought."),
    verdict=found.scaling_verdict,
)

BATCH_SIZE = Study(
    "batch-size", "Batch size 32 against 10,000",
    "The same epochs (passes over the data) with mini-batches of 32 and of 10,000 images.",
    variants=(Variant("batch-32", batch_size=32, optimizer=Opt("Adam", 1e-2)),
              Variant("batch-10000", batch_size=10_000, optimizer=Opt("Adam", 1e-2))),
    epochs=5,
    notice=("An epoch of batch 32 makes ~1,875 weight updates on Fashion-MNIST; batch 10,000 makes 6. For the same "
            "number of epochs the small batch is far better trained, though each of its steps is noisier.",
            "Each epoch of the large batch is faster (fewer, larger matrix products), but per epoch it learns much "
            "less; with a data set smaller than 10,000 (digits) it is plain full-batch gradient descent."),
    verdict=found.batch_size_verdict,
)

OPTIMIZER = Study(
    "optimizer", "SGD against Adam at the same learning rate",
    "Plain SGD and Adam, both at lr 1e-2, on scaled inputs.",
    variants=(Variant("SGD", optimizer=Opt("SGD", 1e-2)), Variant("Adam", optimizer=Opt("Adam", 1e-2))),
    epochs=10,
    notice=("Adam reaches a given training loss in fewer epochs: its step is normalised per weight, so weights with "
            "small gradients still move.",
            "At lr 1e-2 Adam is at the high end of its comfortable range: its validation loss can stop improving or "
            "rise while the training loss keeps falling (overfitting / too-large steps) - compare both panels."),
    verdict=found.optimizer_verdict,
)

LEARNING_RATE = Study(
    "learning-rate", "Learning rates 1e-1, 1e-3 and 1e-5, on scaled and on raw inputs",
    "Adam at three learning rates, each on scaled and on raw pixels. The weight histograms show what each run did "
    "to the weights.",
    variants=tuple(Variant(f"{inputs.name} lr={lr:g}", inputs=inputs, optimizer=Opt("Adam", lr))
                   for inputs in (SCALED, RAW) for lr in (1e-1, 1e-3, 1e-5)),
    epochs=5,
    pictures=("weights",),
    notice=("lr 1e-1 is too high: the loss jumps around and accuracy is poor (on raw inputs it may even blow up; "
            "a run that diverges is recorded and the others go on).",
            found.low_lr_notice,
            "lr 1e-3 works on scaled inputs; on raw inputs the same lr behaves like a much larger one, because the "
            "inputs multiply the first layer's gradient.",
            "Large learning rates spread the weights out (wide histograms); small ones leave them where they started."),
    verdict=found.learning_rate_verdict,
)

LR_ANNEALING = Study(
    "lr-annealing", "Cutting the learning rate when the validation loss stops improving",
    "Adam 1e-3 with a constant rate, and with ReduceLROnPlateau on the validation loss: as soon as an epoch fails "
    "to lower the best validation loss by 0.001 (absolute), the rate is halved (never below 1e-5). Each cut is "
    "logged below.",
    variants=(Variant("constant lr"), Variant("reduce on plateau", scheduler=Plateau())),
    epochs=30,
    notice=("With patience 0 every epoch that does not improve the validation loss by 0.001 halves the rate: the "
            "cuts come early and often once the network starts to overfit.",
            "After the cuts the curves flatten: smaller steps settle into a minimum instead of bouncing around it, "
            "and the validation loss drifts up less than with the constant rate.",
            found.annealing_notice),
    verdict=found.annealing_verdict,
)

DEPTH = Study(
    "depth", "0, 1 and 2 hidden layers of 1000 units",
    "Logistic regression (no hidden layer), the base network, and a second hidden layer of 1000.",
    variants=(Variant("0 hidden", model=MLP(hidden=())), Variant("1 hidden", model=MLP(hidden=(1000,))),
              Variant("2 hidden", model=MLP(hidden=(1000, 1000)))),
    epochs=5,
    notice=("A hidden layer gives a clear gain over the linear model.",
            "A second hidden layer adds a million parameters but little or no validation accuracy in 5 epochs.",
            found.depth_fit_notice),
    verdict=found.depth_verdict,
)

BATCHNORM = Study(
    "batchnorm", "Batch normalization with tiny inputs",
    "Inputs divided by (pixel max * 10,000), so every pixel is below 1e-4: the hidden layer's pre-activations barely "
    "depend on the image and the first layer's gradients are tiny. Trained without, and with BatchNorm1d after the "
    "hidden Linear - as the chapter does (the Linear keeps its bias) and with the hidden Linear's bias removed. "
    "Validation runs in eval mode, so batch norm uses its running mean and variance, not the validation batch's. "
    "The activation histograms show the hidden values on validation images (eval mode).",
    variants=(Variant("no batch norm", inputs=TINY),
              Variant("batch norm", inputs=TINY, model=MLP(batchnorm=True)),
              Variant("batch norm, no bias", inputs=TINY, model=MLP(batchnorm=True, hidden_bias=False))),
    epochs=100,
    pictures=("activations",),
    notice=("Without batch norm the hidden values hardly depend on the input: the network learns extremely slowly "
            "and needs many epochs to get anywhere.",
            "With batch norm every hidden unit is re-centred and re-scaled per batch, so the tiny input scale no "
            "longer matters for *training*: the training loss falls as fast as with well-scaled inputs.",
            "Evaluated properly (eval mode, running statistics) the chapter's version can still fail: the signal in "
            "the pre-activations is ~1e-4 wide, while the Linear's bias - whose gradient through batch norm is zero "
            "up to rounding, a noise Adam rescales into full-size steps of ~lr - jitters by ~1e-3 per step, faster "
            "than the running mean (momentum 0.1) follows. The running mean is then off by more than the signal. "
            "Evaluating with the validation set's own batch statistics (train mode) hides this.",
            "Dropping the redundant bias before batch norm (the usual practice) removes the jitter: the eval-mode "
            "validation accuracy then matches the training accuracy.",
            "The book's notebook (current version) never calls model.train() after its first validation, so from "
            "epoch 2 on it trains in eval mode, on running statistics frozen after epoch 1: --protocol book does "
            "the same, and training then adapts to the very normalisation that validation uses."),
    book_protocol=BookProtocol(accuracy_mode="as-left", eval_training_from=2),
    verdict=found.batchnorm_verdict,
)

DROPOUT = Study(
    "dropout", "Dropout 0.25 before each Linear",
    "The base network, and the same with Dropout(0.25) before each Linear layer (on the inputs too). Dropout is "
    "active in training only; validation and the eval-mode training numbers use the whole network.",
    variants=(Variant("no dropout"), Variant("dropout 0.25", model=MLP(dropout=0.25))),
    epochs=30,
    pictures=("weights",),
    notice=("Without dropout the training accuracy heads to ~100 % while the validation accuracy stalls: the gap is "
            "overfitting.",
            found.dropout_gap_notice,
            "The *logged* training loss of the dropout run is measured with units dropped, so it is higher than its "
            "eval-mode training loss - use the eval-mode columns to compare.",
            "The book's notebook measures both accuracies with dropout still active (its accuracy() never calls "
            "eval()); --protocol book does the same (val_accuracy_train_mode)."),
    book_protocol=BookProtocol(accuracy_mode="train"),
    verdict=found.dropout_verdict,
)

REGULARIZATION = Study(
    "regularization", "L1 and L2 penalties, and decoupled weight decay",
    "No regularization; an L1 penalty 1e-4 * sum|p|; an L2 penalty 1e-2 * sum p^2; and AdamW's decoupled weight "
    f"decay with weight_decay = {DECOUPLED_WEIGHT_DECAY:g}. The penalties sum over every parameter (biases "
    "included) and are added to the training loss only: the logged training loss includes them (split into data "
    "loss and penalty), the validation loss does not.\n\n"
    "The L2 penalty is the *squared* Euclidean norm, lambda * ||w||^2 = lambda * sum w^2: its gradient 2 * lambda * w "
    "pulls each weight towards 0 in proportion to its size, so large weights shrink fast and small ones hardly "
    "at all (never to exactly 0). An *unsquared* norm lambda * ||w|| = lambda * sqrt(sum w^2) has gradient "
    "lambda * w / ||w||: the same total pull whatever the size of the weights, spread over them in proportion, "
    "undefined at w = 0, and on the scale of ||w|| rather than ||w||^2 (here ~18 against ~330 at initialisation "
    "on Fashion-MNIST), so the same lambda means a very different strength.\n\n"
    f"Decoupled weight decay: AdamW(lr=1e-3, weight_decay={DECOUPLED_WEIGHT_DECAY:g}) multiplies every weight by "
    f"(1 - lr * {DECOUPLED_WEIGHT_DECAY:g}) each step, outside Adam's normalisation. {DECOUPLED_WEIGHT_DECAY:g} = "
    "2 * 1e-2 because the L2 penalty's gradient is 2 * 1e-2 * w: under plain SGD the two variants would make "
    "exactly the same updates. Under Adam they do not - the penalty's gradient is divided by Adam's running RMS of "
    "the gradient, so weights with small data gradients are decayed much harder - and that difference is what this "
    "comparison shows.",
    variants=(Variant("none"),
              Variant("L1 1e-4", penalty=Penalty("l1", 1e-4)),
              Variant("L2 1e-2", penalty=Penalty("l2", L2_WEIGHT)),
              Variant(f"AdamW wd={DECOUPLED_WEIGHT_DECAY:g}", optimizer=Opt("AdamW", 1e-3, DECOUPLED_WEIGHT_DECAY))),
    epochs=30,
    pictures=("weights",),
    notice=("Both penalties shrink the weights (narrower histograms); L1 piles many weights up at (nearly) zero, L2 "
            "shrinks them all smoothly.",
            found.penalty_gap_notice,
            "At 1e-2 the L2 penalty is strong: it can dominate the data loss (see the penalty column) and cost "
            "accuracy - regularization trades training fit for a smaller gap.",
            "AdamW with the 'same' coefficient regularizes far more gently than the L2 penalty under Adam.",
            "The book's L2 is 0.01 * sum of the unsquared norms ||p|| (torch.norm(p, 2)), not 0.01 * sum p^2: "
            "--protocol book uses it."),
    book_protocol=BookProtocol(l2_squared=False),
    verdict=found.regularization_verdict,
)

STUDIES = (SCALING, BATCH_SIZE, OPTIMIZER, LEARNING_RATE, LR_ANNEALING, DEPTH, BATCHNORM, DROPOUT, REGULARIZATION)
