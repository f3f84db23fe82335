"""Every random stream drawn from a cell's seed, named in one place.

A draw uses ``np.random.default_rng([seed, STREAM, ...])``: the whole key (its length included) picks the
stream, so draws made for different purposes never overlap, and a resumed, reordered or distributed run
draws the same numbers. The numbers are part of every committed result: add streams, never renumber.
"""

from __future__ import annotations

# Generators: the labels of sampled images, [seed, SAMPLE_LABELS] (the latents use the bare seed).
SAMPLE_LABELS = 1
# Training: the epoch's batch order [seed, TRAINING_BATCHES, epoch], each step's latents and fake labels
# [seed, TRAINING_STEPS, step, phase], and the batch-norm recalibration of the EMA generator
# [seed, BATCHNORM_CALIBRATION, batch].
TRAINING_BATCHES = 2
TRAINING_STEPS = 3
BATCHNORM_CALIBRATION = 4
# Reference rows: the real data's half split, or the ceiling's draw of training images, [seed, REFERENCE_SPLIT].
REFERENCE_SPLIT = 5
# Group shares: the group classifier's train/test split, scikit-learn random_state seed * 1000 + GROUP_CLASSIFIER.
GROUP_CLASSIFIER = 7
# The memorization check's subsample, [seed, MEMORIZATION].
MEMORIZATION = 9
# Discriminator rejection sampling: the real images of the pilot [seed, DRS_PILOT], and each round's
# acceptance draws [seed, round, DRS_ACCEPT] (a three-part key: its own stream).
DRS_PILOT = 2
DRS_ACCEPT = 1
# Datasets drawn from a seed: the toy ring's clean held-out points [seed, TOY_HELD_OUT]; the glyphs splits
# [seed, GLYPHS_SPLITS[split]].
TOY_HELD_OUT = 1
GLYPHS_SPLITS = {"train": 0, "reference": 1, "evaluator": 2}
