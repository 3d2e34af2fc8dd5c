"""The paper profile's training wall time on this machine: measured on a capped copy of the study
through the real engine, projected to the whole study, set against its matrix-product floor.

    python benchmarks/study_wall_time.py [--workers 2] [--source-epochs 400] [--transfer-epochs 200]

What it runs: ``python -m grokpaper train all --profile <capped copy of params/paper.yaml>
--workers W`` into a scratch run store (``GROKPAPER_STORE``; the project's store is not touched):
the paper profile's 25 runs, every setting the same (p = 113, 5 seeds, 4 conditions, the local
Dask cluster of W single-threaded workers, each seed's transfers waiting for its source, every
run written to the store), except the caps: sources stop at ``--source-epochs`` (their
2,000-epoch "fixed" snapshot at half that), transfers at ``--transfer-epochs``. Its result is
the throughput in model-epochs per second, start-up and storing included.

What it prints:
* measured: wall time, model-epochs trained, and that time split in two: training (each run's
  own ``wall_s`` in its ``result.json``: the trainer's loop) per model-epoch, and the rest per
  run (W x wall - the runs' training time, over the runs: a training process's start-up and
  imports, storing, the Dask cluster, workers waiting for a source);
* projected: the whole paper profile (the committed runs' ``epochs_trained``: the sources' actual
  lengths, 30,000 per transfer) as (its model-epochs x training per model-epoch + 25 x the rest
  per run) / W, in hours;
* floor: the same model-epochs' matrix products (``train_speed.floor_gflop``) at W times the
  one-thread matmul rate measured here just before, in hours: no trainer doing the same
  arithmetic on W cores can go below it.

The projection assumes that the per-epoch work does not change with the epoch (evaluation every
10 epochs is in both) and that W workers stay busy; with 2 workers and 25 runs whose sources
come first, the critical path (a source, then its longest transfer) is shorter than the total
work divided by 2.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from grokpaper.config import project_root  # noqa: E402
from grokpaper.core.data import make_split  # noqa: E402
from grokpaper.core.model import ModelConfig  # noqa: E402
from grokpaper.core.parallel import finished_keys, jobs  # noqa: E402
from grokpaper.core.store import RunStore  # noqa: E402
from grokpaper.core.study import open_study  # noqa: E402
from train_speed import floor_gflop, matmul_gflops  # noqa: E402


def capped_profile(source: Path, source_epochs: int, transfer_epochs: int) -> dict:
    profile = yaml.safe_load(source.read_text())
    study = profile["study"]
    study.update(grokked_max_epochs=source_epochs, memorized_fixed_epochs=max(1, source_epochs // 2),
                 transfer_max_epochs=transfer_epochs, checkpoint_every=max(source_epochs, transfer_epochs))
    return profile


def profile_runs(profile: str, store: RunStore) -> tuple[int, list[tuple[int, float]]]:
    """How many runs a profile has, and (epochs trained, training wall time in s) of each of them
    that the store holds (other runs in the store are not counted)."""
    settings = open_study(profile, store=store).settings
    results = [store.load(key).result for key in finished_keys(settings, store)]
    return len(jobs(settings)), [(r["epochs_trained"], r["wall_s"]) for r in results]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--source-epochs", type=int, default=400)
    parser.add_argument("--transfer-epochs", type=int, default=200)
    args = parser.parse_args()
    if args.workers < 1 or args.source_epochs < 2 or args.transfer_epochs < 1:
        sys.exit("error: --workers and --transfer-epochs must be at least 1, --source-epochs at least 2")
    root = project_root()
    n_runs, committed = profile_runs("paper", RunStore(root / "store"))
    if len(committed) != n_runs:
        sys.exit(f"error: the projection needs the paper profile's {n_runs} committed runs in {root / 'store'}; "
                 f"found {len(committed)}")

    # The floor's rate: one thread, as each worker has.
    torch.set_num_threads(1)
    cfg = ModelConfig()
    split = make_split("subtract", cfg.p, 0)
    rate = matmul_gflops(torch.device("cpu"), len(split.train_x), cfg, 1)
    gflop = floor_gflop(cfg, len(split.train_x), len(split.test_x))

    with tempfile.TemporaryDirectory(prefix="grokpaper-study-wall-") as scratch:
        scratch = Path(scratch)
        profile = scratch / "paper-capped.yaml"
        profile.write_text(yaml.safe_dump(capped_profile(root / "params" / "paper.yaml",
                                                         args.source_epochs, args.transfer_epochs)))
        env = {**os.environ, "GROKPAPER_STORE": str(scratch / "store")}
        command = [sys.executable, "-m", "grokpaper", "train", "all", "--profile", str(profile),
                   "--workers", str(args.workers)]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if done.returncode != 0:
            sys.exit(f"error: {' '.join(command[1:])} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
        _, measured = profile_runs(str(profile), RunStore(scratch / "store"))
    if len(measured) != n_runs:
        sys.exit(f"error: the capped study stored {len(measured)} runs, not {n_runs}")

    model_epochs = sum(epochs for epochs, _ in measured)
    training_s = sum(seconds for _, seconds in measured)
    per_epoch = training_s / model_epochs
    per_run = (args.workers * wall - training_s) / n_runs
    full = sum(epochs for epochs, _ in committed)
    projected = (full * per_epoch + n_runs * per_run) / args.workers
    print(f"study_wall_time: {args.workers} single-threaded workers, torch {torch.__version__}, "
          f"{os.cpu_count()} cores seen")
    print(f"measured   capped paper profile (sources <= {args.source_epochs}, transfers {args.transfer_epochs} "
          f"epochs): {n_runs} runs, {model_epochs:,} model-epochs in {wall:.0f} s ({model_epochs / wall:.2f} model-epochs/s)")
    print(f"           training {1000 * per_epoch:.1f} ms per model-epoch in a worker; the rest "
          f"{per_run:.1f} s per run ({args.workers} x {wall:.0f} s - {training_s:.0f} s of training, over {n_runs} runs)")
    print(f"projected  whole paper profile: ({full:,} model-epochs x {1000 * per_epoch:.1f} ms + {n_runs} x {per_run:.1f} s) / "
          f"{args.workers} = {projected / 3600:.1f} h")
    print(f"floor      {full:,} model-epochs x {gflop:.2f} GFLOP of matmuls at {args.workers} x {rate:.0f} GFLOP/s "
          f"(one thread, measured now) = {full * gflop / (args.workers * rate) / 3600:.1f} h")
    return 0


if __name__ == "__main__":
    sys.exit(main())
