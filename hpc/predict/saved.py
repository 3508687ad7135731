"""A trained predictor as bytes and back, so that it is trained once and answers many times.

The bytes are a compressed NumPy archive (no pickle: a model read from a shared database
runs no code): the LightGBM boosters as their own model text, the calibrations' parameters
and held-out outcomes, and the rank data behind `Predictor.distance`. Restoring rebuilds the
feature index from the history, which must be the one trained on (`history_digest`).
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict
from typing import Any

import numpy as np
import numpy.typing as npt

from hpc.predict.calibration import CalibrationParams
from hpc.predict.chance import ChanceParams
from hpc.predict.errors import SavedModelError
from hpc.predict.features import FEATURE_VERSION, NAMES
from hpc.predict.history import GROUND_TRUTH_POLICY, History, history_of
from hpc.predict.predictor import HeldOut, Predictor
from hpc.predict.quantile import QuantileModel, TreeParams
from hpc.predict.release import Release
from hpc.workload.loading import LoadedWorkload

FORMAT = 2  # bumped when the layout below changes (2: the release window)
_ARRAYS = ("recent_x", "sorted_cols", "sample_ranks")
MODELS = ("wait", "run")  # Predictor.wait_model, Predictor.run_model


def jobs_digest(loaded: LoadedWorkload) -> str:
    """sha256 of what a history is made from: the trace (its recorded waits too), the jobs
    as cleaned, the machine (and, for traces without waits, the replay policy). Known before
    the history is, so that a stored model is found without replaying a trace."""
    jobs, machine = loaded.jobs, loaded.machine
    digest = hashlib.sha256()
    digest.update(
        json.dumps(
            [
                loaded.trace.checksum(), machine.nodes, machine.cores_per_node,
                machine.gpus_per_node, machine.mem_per_node_mb, machine.node_exclusive,
                str(GROUND_TRUTH_POLICY),
            ]
        ).encode()
    )  # fmt: skip
    _columns(digest, [getattr(jobs, name) for name in jobs.__slots__])
    return digest.hexdigest()


def history_digest(history: History) -> str:
    """sha256 of everything a predictor learns from: the jobs as cleaned, their starts and
    ends, their allocation units and the machine. Same digest, same training data."""
    jobs = history.jobs
    digest = hashlib.sha256()
    machine = history.machine
    digest.update(
        json.dumps(
            [machine.units, machine.node_exclusive, history.epoch_s, history.simulated]
        ).encode()
    )
    columns = [jobs.job_id, jobs.submit_s, jobs.run_s, jobs.procs, jobs.req_time_s, jobs.user]
    columns += [jobs.queue, jobs.partition, jobs.req_mem_kb]
    _columns(digest, [*columns, history.start_s, history.end_s, history.units])
    return digest.hexdigest()


def _columns(digest: Any, columns: list[npt.NDArray[Any]]) -> None:
    for column in columns:
        digest.update(np.ascontiguousarray(column, dtype=np.int64).tobytes())


def saved_history(loaded: LoadedWorkload, blob: bytes) -> History:
    """The history of `loaded` with the replay saved in `blob`, if it needed one: so that
    loading a model of a trace without recorded waits replays nothing."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
        if "replay_start" not in archive.files:
            return history_of(loaded)
        replayed = (archive["replay_start"], archive["replay_end"])
    return history_of(loaded, replayed=replayed)


def predictor_bytes(predictor: Predictor) -> bytes:
    """Everything `restored` needs to answer as `predictor` does."""
    meta = {
        "format": FORMAT,
        "feature_version": FEATURE_VERSION,
        "features": list(NAMES),
        "history": history_digest(predictor.history),
        "train_rows": len(predictor.train_rows),
        "params": asdict(predictor.params),
        "calibration": asdict(predictor.calibration),
        "chance": None if predictor.chance is None else asdict(predictor.chance),
        "held_first_row": predictor.held.first_row,
        "models": {name: _model_meta(model) for name, model in _models(predictor)},
        "release": None if (r := predictor.release) is None else [r.clock_s, r.epoch_s, r.weight],
    }
    arrays: dict[str, npt.NDArray[Any]] = {
        "meta": _text(json.dumps(meta)),
        **{name: getattr(predictor, name) for name in _ARRAYS},
        "held_score": predictor.held.score,
        "held_chance": predictor.held.chance,
        "held_hit": predictor.held.hit,
    }
    if predictor.release is not None:
        arrays["release_model"] = _text(predictor.release.to_string())
    if predictor.history.simulated:  # the replay took seconds: keep its outcome
        arrays["replay_start"] = predictor.history.start_s
        arrays["replay_end"] = predictor.history.end_s
    for name, model in _models(predictor):
        for k, text in enumerate(model.to_strings()):
            arrays[f"{name}_{k}"] = _text(text)
    out = io.BytesIO()
    np.savez_compressed(out, **arrays)  # type: ignore[arg-type]
    return out.getvalue()


def restored(history: History, blob: bytes) -> Predictor:
    """The predictor saved by `predictor_bytes`, over `history` (the one it was trained on)."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
        meta = json.loads(bytes(archive["meta"]).decode())
        _check(meta)
        if meta["history"] != history_digest(history):
            raise SavedModelError(
                f"the saved model was trained on another history than {history.source}: "
                "train it on this one"
            )
        predictor = Predictor(history, TreeParams(**meta["params"]))
        predictor.train_rows = np.arange(meta["train_rows"], dtype=np.int64)
        predictor.calibration = CalibrationParams(**meta["calibration"])
        predictor.chance = None if meta["chance"] is None else ChanceParams(**meta["chance"])
        for name in _ARRAYS:
            setattr(predictor, name, archive[name])
        predictor.held = HeldOut(
            meta["held_first_row"],
            archive["held_score"],
            archive["held_chance"],
            archive["held_hit"],
        )
        predictor.wait_model, predictor.run_model = _read_models(archive, meta)
        if meta["release"] is not None:
            clock_s, epoch_s, weight = meta["release"]
            text = bytes(archive["release_model"]).decode()
            predictor.release = Release.from_string(clock_s, epoch_s, text, weight)
    return predictor


def saved_models(blob: bytes) -> tuple[QuantileModel, QuantileModel]:
    """Only the (wait, run) models of saved bytes, whatever history they learned from: the
    base that newer history of the same workload continues (`Predictor.train(base=...)`)."""
    with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
        meta = json.loads(bytes(archive["meta"]).decode())
        _check(meta)
        return _read_models(archive, meta)


def _read_models(archive: Any, meta: dict[str, Any]) -> tuple[QuantileModel, QuantileModel]:
    params = TreeParams(**meta["params"])
    models = []
    for name in MODELS:
        info = meta["models"][name]
        texts = [bytes(archive[f"{name}_{k}"]).decode() for k in range(len(info["levels"]))]
        models.append(
            QuantileModel.from_strings(
                params,
                tuple(info["levels"]),
                texts,
                band_shift=info["band_shift"],
                fitted_rows=info["fitted_rows"],
            )
        )
    return models[0], models[1]


def _check(meta: dict[str, Any]) -> None:
    if meta.get("format") != FORMAT:
        raise SavedModelError(f"saved model format {meta.get('format')}, this code reads {FORMAT}")
    if meta["feature_version"] != FEATURE_VERSION or meta["features"] != list(NAMES):
        raise SavedModelError(
            f"the saved model uses features version {meta['feature_version']}, this code "
            f"computes version {FEATURE_VERSION}: train it again"
        )


def _models(predictor: Predictor) -> tuple[tuple[str, QuantileModel], ...]:
    return tuple((name, getattr(predictor, f"{name}_model")) for name in MODELS)


def _model_meta(model: QuantileModel) -> dict[str, Any]:
    return {
        "levels": list(model.levels),
        "band_shift": model.band_shift,
        "fitted_rows": model.fitted_rows,
    }


def _text(text: str) -> npt.NDArray[np.uint8]:
    return np.frombuffer(text.encode(), dtype=np.uint8)
