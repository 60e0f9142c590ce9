"""Classifier two-sample test (C2ST): can a classifier tell generated images from real ones?

A classifier learns to label samples real (0) or generated (1) on one half of the data and
is scored on the other half. If both sets come from one distribution no classifier beats
chance: the held-out accuracy is about 0.5, and the nearer it is to 1, the easier the
generated images are to spot. Unlike FID, the number has a plain meaning and an interval.

Protocol (the same for both classifiers):
- The larger set is subsampled at random (seeded) to the size of the smaller one, so that
  chance is exactly 0.5.
- `split_by_group` cuts the samples into two halves so that a group (a field of view: the
  real image of field i and every image generated for the mask of field i share one id)
  never straddles halves. Otherwise a classifier could memorise a field in training and
  recognise it at test time.
- Two folds: train on half A and test on half B, then train on half B and test on half A.
  Every sample is predicted once by a classifier that never saw its group; the accuracy is
  the fraction of those predictions that are right, and the 95% Wilson interval is taken on
  that count. (The two folds' predictions are not quite independent, so the interval is
  slightly optimistic; it is the usual C2ST practice.)
- The budget and the seed are fixed, so a rerun gives the same number.

Classifiers:
- `c2st_logistic`: logistic regression on (Inception) features, standardised on the
  training half.
- `c2st_cnn`: a small Keras CNN trained from scratch on random pixel crops; it sees texture
  and artefacts that a feature extractor may discard.

Example:
    result = c2st_logistic(inception_real, inception_fake, field_ids, field_ids_of_fakes)
    result["accuracy"], result["ci95"]  # 0.5 = indistinguishable

Reference:
    Lopez-Paz & Oquab (2017). Revisiting classifier two-sample tests. ICLR.
"""

import logging
import time

import numpy as np

logger = logging.getLogger(__name__)

FOLDS = 2


def wilson_interval(successes, trials, z=1.959963984540054):
    """Wilson score interval for a binomial proportion (95% for the default z).

    Example:
        wilson_interval(50, 100)  # (0.4038, 0.5962)
    """
    if trials <= 0:
        raise ValueError(f"a Wilson interval needs at least one trial; got {trials}")
    proportion = successes / trials
    denominator = 1.0 + z * z / trials
    centre = (proportion + z * z / (2 * trials)) / denominator
    half_width = (
        z * np.sqrt(proportion * (1 - proportion) / trials + z * z / (4 * trials * trials))
    ) / denominator
    return float(max(0.0, centre - half_width)), float(min(1.0, centre + half_width))


def _default_groups(groups, count, offset, name):
    """One group per sample when no groups are given; else the groups as an array."""
    if groups is None:
        return np.arange(offset, offset + count)
    groups = np.asarray(groups)
    if groups.shape != (count,):
        raise ValueError(f"{name} must hold one group id per sample ({count}); got shape "
                         f"{groups.shape}")
    return groups


def split_by_group(groups_real, groups_fake, seed=0):
    """Two halves in which no group straddles halves and both classes are balanced.

    Groups go largest first (ties in seeded random order) to the half that leaves the
    smaller imbalance, each class counted as a fraction of its total.

    Args:
        groups_real: (N_real,) group id (e.g. field of view) of each real sample.
        groups_fake: (N_fake,) group id of each generated sample. A generated image made for
            the mask of field i must carry the same id as the real image of field i.
        seed: seed of the tie-breaking order.

    Returns:
        (half_real, half_fake): int arrays of 0 or 1, the half of each sample.

    Example:
        half_real, half_fake = split_by_group(field_ids, field_ids)
    """
    groups_real, groups_fake = np.asarray(groups_real), np.asarray(groups_fake)
    if groups_real.ndim != 1 or groups_fake.ndim != 1:
        raise ValueError("groups_real and groups_fake must be 1-D arrays of group ids")
    names, inverse = np.unique(np.concatenate([groups_real, groups_fake]), return_inverse=True)
    inverse_real, inverse_fake = inverse[: len(groups_real)], inverse[len(groups_real):]
    counts = np.stack([np.bincount(inverse_real, minlength=len(names)),
                       np.bincount(inverse_fake, minlength=len(names))], axis=1)
    totals = np.maximum(counts.sum(axis=0), 1)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(names))
    order = order[np.argsort(-counts[order].sum(axis=1), kind="stable")]
    half_counts = np.zeros((2, 2))
    half_of_group = np.zeros(len(names), dtype=np.int64)
    for group in order:
        imbalance = []
        for half in (0, 1):
            trial = half_counts.copy()
            trial[half] += counts[group]
            imbalance.append(float((np.abs(trial[0] - trial[1]) / totals).sum()))
        if np.isclose(imbalance[0], imbalance[1]):
            half = int(rng.integers(2))
        else:
            half = int(np.argmin(imbalance))
        half_of_group[group] = half
        half_counts[half] += counts[group]
    if np.any(half_counts == 0):
        raise ValueError(
            f"cannot split {len(names)} group(s) into two halves that each hold real and "
            f"generated samples (per half real, generated: {half_counts.tolist()}); "
            "pass more fields or finer group ids")
    return half_of_group[inverse_real], half_of_group[inverse_fake]


def _balanced_halves(real_count, fake_count, groups_real, groups_fake, seed):
    """Subsample the larger class to the smaller one's size, then split by group.

    Returns (kept_real, kept_fake, half_real, half_fake): indices of the kept samples and
    the half of each kept sample.
    """
    if min(real_count, fake_count) < 2:
        raise ValueError(f"C2ST needs at least 2 real and 2 generated samples; got "
                         f"{real_count} and {fake_count}")
    groups_real = _default_groups(groups_real, real_count, 0, "groups_real")
    groups_fake = _default_groups(groups_fake, fake_count, real_count, "groups_fake")
    rng = np.random.default_rng(seed)
    size = min(real_count, fake_count)
    kept_real = np.sort(rng.permutation(real_count)[:size])
    kept_fake = np.sort(rng.permutation(fake_count)[:size])
    if real_count != fake_count:
        logger.info("C2ST: %d real and %d generated samples, both subsampled to %d",
                    real_count, fake_count, size)
    half_real, half_fake = split_by_group(groups_real[kept_real], groups_fake[kept_fake], seed)
    return kept_real, kept_fake, half_real, half_fake


def _folds(kept_real, kept_fake, half_real, half_fake):
    """Yield (train_real, train_fake, test_real, test_fake) indices for both folds."""
    for test_half in range(FOLDS):
        yield (kept_real[half_real != test_half], kept_fake[half_fake != test_half],
               kept_real[half_real == test_half], kept_fake[half_fake == test_half])


def _result(classifier, correct, n_test, train_sizes, seed, **protocol):
    accuracy = correct / n_test
    low, high = wilson_interval(correct, n_test)
    return {"classifier": classifier, "accuracy": float(accuracy), "ci95": [low, high],
            "n_train": int(round(np.mean(train_sizes))), "n_test": int(n_test),
            "folds": FOLDS, "seed": int(seed), **protocol}


def _as_features(features, name):
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(f"{name} must be an (N, D) array of features; got shape "
                         f"{features.shape}")
    if not np.all(np.isfinite(features)):
        raise ValueError(f"{name} holds NaN or inf values")
    return features


def c2st_logistic(real_features, fake_features, groups_real=None, groups_fake=None, seed=0,
                  inverse_regularization=0.1, max_iter=5000):
    """C2ST with logistic regression on image features (e.g. Inception pool features).

    Args:
        real_features: (N_real, D) features of real images.
        fake_features: (N_fake, D) features of generated images.
        groups_real, groups_fake: optional group ids (field of view) per sample; a group
            never straddles the two halves. Default: every sample is its own group.
        seed: seed of the subsampling, the split and the solver.
        inverse_regularization: scikit-learn's C (L2); fixed, not tuned, so that the budget
            is the same for every model compared.
        max_iter: solver iteration limit.

    Returns:
        {"classifier", "accuracy" (held-out, 0.5 = indistinguishable), "ci95": [low, high]
         (Wilson, on n_test predictions), "n_train" (training samples per fold),
         "n_test" (held-out predictions over both folds), "folds", "seed",
         "inverse_regularization"}

    Example:
        c2st_logistic(features_real, features_fake)["accuracy"]
    """
    try:
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler
    except ImportError as error:
        raise ImportError("C2ST needs scikit-learn: pip install scikit-learn") from error
    real_features = _as_features(real_features, "real_features")
    fake_features = _as_features(fake_features, "fake_features")
    if real_features.shape[1] != fake_features.shape[1]:
        raise ValueError(f"real features have {real_features.shape[1]} dimensions but "
                         f"generated ones {fake_features.shape[1]}: use one extractor for both")
    halves = _balanced_halves(len(real_features), len(fake_features), groups_real,
                              groups_fake, seed)
    correct, n_test, train_sizes = 0, 0, []
    for train_real, train_fake, test_real, test_fake in _folds(*halves):
        train = np.concatenate([real_features[train_real], fake_features[train_fake]])
        labels = np.r_[np.zeros(len(train_real)), np.ones(len(train_fake))]
        test = np.concatenate([real_features[test_real], fake_features[test_fake]])
        test_labels = np.r_[np.zeros(len(test_real)), np.ones(len(test_fake))]
        scaler = StandardScaler().fit(train)  # fitted on the training half only
        # class_weight: a group-respecting split can leave a half slightly unbalanced.
        model = LogisticRegression(C=inverse_regularization, max_iter=max_iter,
                                   class_weight="balanced", random_state=seed)
        model.fit(scaler.transform(train), labels)
        correct += int((model.predict(scaler.transform(test)) == test_labels).sum())
        n_test += len(test_labels)
        train_sizes.append(len(labels))
    return _result("logistic regression on Inception features", correct, n_test, train_sizes,
                   seed, inverse_regularization=float(inverse_regularization))


def _as_tiles(tiles, name):
    tiles = np.asarray(tiles, dtype=np.float32)
    if tiles.ndim == 3:
        tiles = tiles[..., None]
    if tiles.ndim != 4:
        raise ValueError(f"{name} must be (N, H, W, C) or (N, H, W) images; got shape "
                         f"{tiles.shape}")
    return tiles


def _random_crops(tiles, indices, crop, rng):
    """One random crop per index, flipped left-right and up-down at random."""
    height, width = tiles.shape[1:3]
    rows = rng.integers(0, height - crop + 1, size=len(indices))
    cols = rng.integers(0, width - crop + 1, size=len(indices))
    flips = rng.integers(0, 2, size=(len(indices), 2)).astype(bool)
    crops = np.empty((len(indices), crop, crop, tiles.shape[3]), dtype=np.float32)
    for position, (index, row, col, (flip_rows, flip_cols)) in enumerate(
            zip(indices, rows, cols, flips)):
        patch = tiles[index, row:row + crop, col:col + crop]
        crops[position] = patch[::-1 if flip_rows else 1, ::-1 if flip_cols else 1]
    return crops


def build_crop_classifier(channels=1, filters=(16, 32, 64, 64)):
    """A small CNN: conv blocks with 2x average pooling between them, global average
    pooling, one logit (> 0 means generated). Any crop size works (fully convolutional).

    Example:
        model = build_crop_classifier(channels=1)
    """
    import keras

    inputs = keras.Input((None, None, channels))
    hidden = inputs
    for depth, width in enumerate(filters):
        if depth:
            hidden = keras.layers.AveragePooling2D(2)(hidden)
        hidden = keras.layers.Conv2D(width, 3, padding="same", activation="relu")(hidden)
    hidden = keras.layers.GlobalAveragePooling2D()(hidden)
    return keras.Model(inputs, keras.layers.Dense(1)(hidden), name="c2st_crop_classifier")


def _crop_batches(real_tiles, fake_tiles, train_real, train_fake, steps, batch_size, crop,
                  seed):
    """A keras.utils.PyDataset of `steps` balanced batches (half real, half generated).

    Each batch is drawn from its own seed, so the data do not depend on the order in which
    Keras asks for batches.
    """
    import keras

    class CropBatches(keras.utils.PyDataset):
        def __len__(self):
            return steps

        def __getitem__(self, step):
            rng = np.random.default_rng([seed, step])
            half = batch_size // 2
            real = _random_crops(real_tiles, rng.choice(train_real, half), crop, rng)
            fake = _random_crops(fake_tiles, rng.choice(train_fake, batch_size - half),
                                 crop, rng)
            labels = np.r_[np.zeros(half), np.ones(batch_size - half)].astype(np.float32)
            return np.concatenate([real, fake]), labels[:, None]

    return CropBatches()


def _progress_callback(keras, total, description, enabled):
    from tqdm import tqdm

    bar = tqdm(total=total, desc=description, unit="step", disable=None if enabled else True)

    def update(batch, logs):
        bar.update(1)
        bar.set_postfix(loss=f"{float((logs or {}).get('loss', np.nan)):.3f}", refresh=False)

    return keras.callbacks.LambdaCallback(on_train_batch_end=update,
                                          on_train_end=lambda logs: bar.close())


def _predict_logits(model, crops, batch_size=256):
    """Logits of `model` for `crops`, in batches of one fixed shape.

    The crops are padded to a whole number of batches, so the predict step is traced once
    rather than again for a smaller last batch (TensorFlow warns about such retracing).
    """
    padding = -len(crops) % batch_size
    padded = np.concatenate([crops, np.zeros((padding,) + crops.shape[1:], crops.dtype)])
    return model.predict(padded, batch_size=batch_size, verbose=0)[: len(crops), 0]


def c2st_cnn(real_tiles, fake_tiles, groups_real=None, groups_fake=None, seed=0, steps=300,
             batch_size=32, crop=48, test_crops=8, learning_rate=1e-3, progress=True):
    """C2ST with a small CNN trained from scratch on random pixel crops.

    Per fold a `build_crop_classifier`, from the same seeded initialisation, is trained for
    a fixed `steps` x `batch_size` budget (Adam, binary cross-entropy on logits) on random
    `crop` x `crop` crops of the training half, flipped at random, each batch half real and
    half generated. A held-out tile is classified by the mean logit over `test_crops`
    random crops of it.

    The default budget (2 folds x 300 steps of 32 crops of 48 px) took 24 s on TensorFlow,
    30 s on JAX and 48 s on PyTorch (OMP_NUM_THREADS=1) for 500 + 500 tiles of 128 px on 2
    busy CPU cores; PyTorch with 2 OpenMP threads on cores shared with other work took ten
    times longer.

    Args:
        real_tiles: (N_real, H, W, C) or (N_real, H, W) real images in [-1, 1].
        fake_tiles: (N_fake, H, W, C) generated images in [-1, 1] (same C; H, W >= crop).
        groups_real, groups_fake: optional group ids (field of view) per tile.
        seed: seeds the subsampling, the split, the crops and Keras
            (`keras.utils.set_random_seed`, which also seeds Python and NumPy globally).
        steps, batch_size: fixed training budget per fold.
        crop: crop side in pixels.
        test_crops: crops averaged per held-out tile.
        learning_rate: Adam learning rate.
        progress: show a tqdm bar per fold (only on a terminal).

    Returns:
        The dict of `c2st_logistic` with "classifier": "small CNN on pixel crops" and the
        budget: "steps", "batch_size", "crop", "test_crops", "seconds".

    Example:
        c2st_cnn(real_test_tiles, generated_tiles, field_ids, field_ids)["ci95"]
    """
    import keras

    real_tiles = _as_tiles(real_tiles, "real_tiles")
    fake_tiles = _as_tiles(fake_tiles, "fake_tiles")
    if real_tiles.shape[3] != fake_tiles.shape[3]:
        raise ValueError(f"real tiles have {real_tiles.shape[3]} channels but generated ones "
                         f"{fake_tiles.shape[3]}")
    smallest = min(real_tiles.shape[1:3] + fake_tiles.shape[1:3])
    if crop > smallest:
        raise ValueError(f"crop={crop} is larger than the smallest tile side ({smallest}); "
                         "pass a smaller crop")
    start = time.perf_counter()
    halves = _balanced_halves(len(real_tiles), len(fake_tiles), groups_real, groups_fake, seed)
    correct, n_test, train_sizes = 0, 0, []
    keras.utils.set_random_seed(seed)
    model = build_crop_classifier(real_tiles.shape[3])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=keras.losses.BinaryCrossentropy(from_logits=True))
    model.optimizer.build(model.trainable_variables)
    # One model, compiled once: each fold restarts from the same initial weights and a
    # fresh optimizer state. A second model would cost a second trace/compile (seconds).
    initial_weights = model.get_weights()
    initial_optimizer = [keras.ops.convert_to_numpy(v) for v in model.optimizer.variables]
    for fold, (train_real, train_fake, test_real, test_fake) in enumerate(_folds(*halves)):
        model.set_weights(initial_weights)
        for variable, value in zip(model.optimizer.variables, initial_optimizer):
            variable.assign(value)
        batches = _crop_batches(real_tiles, fake_tiles, train_real, train_fake, steps,
                                batch_size, crop, seed=seed * FOLDS + fold)
        callback = _progress_callback(keras, steps, f"C2ST CNN fold {fold + 1}/{FOLDS}",
                                      progress)
        model.fit(batches, epochs=1, verbose=0, callbacks=[callback])

        rng = np.random.default_rng([seed, FOLDS + fold])
        crops = np.concatenate([
            _random_crops(real_tiles, np.repeat(test_real, test_crops), crop, rng),
            _random_crops(fake_tiles, np.repeat(test_fake, test_crops), crop, rng)])
        logits = _predict_logits(model, crops).reshape(-1, test_crops)
        labels = np.r_[np.zeros(len(test_real)), np.ones(len(test_fake))]
        fold_correct = int(((logits.mean(axis=1) > 0) == labels).sum())
        logger.info("C2ST CNN fold %d/%d: %d steps, held-out accuracy %.3f on %d tiles",
                    fold + 1, FOLDS, steps, fold_correct / len(labels), len(labels))
        correct += fold_correct
        n_test += len(labels)
        train_sizes.append(len(train_real) + len(train_fake))
    seconds = time.perf_counter() - start
    logger.info("C2ST CNN: %.1f s for %d folds", seconds, FOLDS)
    return _result("small CNN on pixel crops", correct, n_test, train_sizes, seed,
                   steps=int(steps), batch_size=int(batch_size), crop=int(crop),
                   test_crops=int(test_crops), seconds=round(seconds, 1))
