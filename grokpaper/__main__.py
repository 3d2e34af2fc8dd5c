"""Command line: ``python -m grokpaper <command>`` (also installed as ``grokpaper``)."""

from __future__ import annotations

import argparse
import os
import sys

import torch

from grokpaper.analysis.probes import make_probes
from grokpaper.builder.preview import add_cli as add_preview_command
from grokpaper.builder.release import add_cli as add_release_commands
from grokpaper.builder.render import add_cli as add_render_command
from grokpaper.builder.runner import add_run_command, parse_overrides
from grokpaper.builder.training import cost_lines, kernel_notice, measured_cost
from grokpaper.config import TASKS, ParamsError, chapter_params
from grokpaper.core.parallel import RUN_SETS, store_files, train_all, unfinished_note, write_manifest
from grokpaper.core.store import StoreError, display_path
from grokpaper.core.study import CONDITIONS, CONTROLS, SCRATCH, TASK_EXPERIMENTS, Study
from grokpaper.core.train import TrainingInterrupted


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run one subcommand; returns the exit status."""
    parser = argparse.ArgumentParser(prog="grokpaper", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)

    add_run_command(subparsers)  # run: execute the stale chapter notebooks

    add_train_command(subparsers)  # train: one condition for given seeds, with a progress bar

    add_render_command(subparsers)  # render: build the report (quarto, or pandoc + typst offline)

    add_release_commands(subparsers)  # changes, release: the paper's versions (CHANGELOG.md, CITATION.cff)

    add_preview_command(subparsers)  # preview: serve the report on localhost, rebuild on every edit

    args = parser.parse_args(argv)
    return args.func(args)


def add_train_command(subparsers) -> None:
    """Register ``train``: sources, one condition's transfers, or all runs on a Dask cluster."""
    p = subparsers.add_parser(
        "train", help="train (or read from the store) the source or transfer runs of a profile",
        description="Train the source runs (grokked + memorized snapshots) or the transfer runs of one "
                    "condition for the given seeds; stored runs are returned without training. probe-sources, "
                    "probe-transfer: the same runs again with probes, stopping at the top threshold held "
                    "probe_hold_epochs; relearn: each transferred model trained back on the source task; "
                    "controls: the controls and transplants of what carries the transfer (with probes); "
                    "tasks: the runs with task tokens (sequential, replay, multi-task, task similarity).",
    )
    p.add_argument("what", choices=("sources", "transfer", "probe-sources", "probe-transfer", "relearn", "controls",
                                    "tasks", "all"),
                   help="all: every missing run of the profile (of the set --runs), as tasks of a Dask cluster "
                        "(by default a local one of single-threaded workers)")
    p.add_argument("--runs", choices=RUN_SETS, default="study",
                   help="with 'all': which runs: the study's (default), the probe reruns of its sources and "
                        "transfers, the relearning runs, the controls and transplants, or the runs with task tokens")
    p.add_argument("--check", action="store_true",
                   help="with 'all --runs probes': compare each stored probe rerun's curve with the run it reruns, "
                        "epoch for epoch up to its stop (exit 1 if any value differs), and train nothing")
    p.add_argument("--extend", action="store_true",
                   help="with 'probe-transfer': the extended run, capped at extended_max_epochs instead of "
                        "transfer_max_epochs (its curve up to there is the capped run's)")
    p.add_argument("--workers", type=int, default=2,
                   help="with 'all': worker processes of the local Dask cluster, how many runs train at once "
                        "(default 2; about one per CPU core)")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                   help="with 'all': send the runs to the running Dask cluster of this scheduler instead of "
                        "starting a local one (its workers must import grokpaper and see the store at its path)")
    p.add_argument("--list-files", action="store_true",
                   help="with 'all': print the store files of the profile's finished runs and the store's "
                        "manifest (what the project commits; resume checkpoints never are) and train nothing")
    p.add_argument("--write-manifest", action="store_true",
                   help="with 'all': write <store>/MANIFEST.sha256, every file of the profile's finished runs "
                        "with its sha256, and train nothing")
    p.add_argument("--cost", action="store_true",
                   help="with 'all': print what the stored runs of the set --runs cost when they trained (runs "
                        "stored, model-epochs, summed wall time, device; the runs with task tokens per experiment) "
                        "and train nothing")
    p.add_argument("--condition", choices=(*CONDITIONS, SCRATCH), action="append",
                   help="transfer condition (repeatable; default: all of them); 'scratch': the multi-task runs "
                        "of `train tasks`")
    p.add_argument("--control", choices=CONTROLS, action="append",
                   help="with 'controls': which control or transplant (repeatable; default: all of them)")
    p.add_argument("--experiment", choices=TASK_EXPERIMENTS, action="append",
                   help="with 'tasks': which experiment (repeatable; default: all of them)")
    p.add_argument("--target", choices=TASKS, action="append",
                   help="with 'tasks': which target task (repeatable; default: every target of the experiments)")
    p.add_argument("--profile", default="smoke", help="params/<name>.yaml or a path (default: smoke)")
    p.add_argument("--seeds", type=int, nargs="+", help="override the profile's seeds")
    p.add_argument("-p", "--param", action="append", metavar="KEY=VALUE", help="override a study parameter")
    p.set_defaults(func=_train_command)


def _train_command(args) -> int:
    """The ``train`` subcommand. Ctrl-C prints one line (where training stopped, where the same
    command resumes) and exits 130, the shell's status for an interrupt."""
    _use_thread_count_from_environment()
    try:
        overrides = parse_overrides(args.param)
        if args.seeds:
            overrides["seeds"] = args.seeds
        study = Study.from_params(chapter_params("01-sources", args.profile, overrides),
                                  profile=args.profile, overrides=overrides, probes=make_probes)
        if (args.list_files or args.write_manifest or args.cost) and args.what != "all":
            raise ValueError(f"--list-files, --write-manifest and --cost go with `train all`, not `train {args.what}`")
        if args.scheduler and args.what != "all":
            raise ValueError(f"--scheduler goes with `train all`, not `train {args.what}`")
        if args.check and (args.what, args.runs) != ("all", "probes"):
            raise ValueError(f"--check goes with `train all --runs probes`, not `train {args.what} --runs {args.runs}`")
        if args.runs != "study" and args.what != "all":
            raise ValueError(f"--runs goes with `train all`, not `train {args.what}`")
        if args.control and args.what != "controls":
            raise ValueError(f"--control goes with `train controls`, not `train {args.what}`")
        if SCRATCH in (args.condition or ()) and args.what != "tasks":
            raise ValueError(f"--condition {SCRATCH} goes with `train tasks` (the multi-task runs), not `train {args.what}`")
        if (args.experiment or args.target) and args.what != "tasks":
            raise ValueError(f"--experiment and --target go with `train tasks`, not `train {args.what}`")
        if args.condition and args.what == "controls":
            raise ValueError("`train controls` takes --control, not --condition")
        if args.extend and args.what != "probe-transfer":
            raise ValueError(f"--extend goes with `train probe-transfer`, not `train {args.what}`")
    except (ParamsError, ValueError) as err:
        print(f"error: {err}")
        return 2
    on_gpu = study.settings.device == "cuda" or (study.settings.device == "auto" and torch.cuda.is_available())
    notice = None if on_gpu else kernel_notice()
    if notice and not (args.list_files or args.write_manifest or args.cost):
        print(notice, file=sys.stderr)
    try:
        if args.check:
            table = study.rerun_check(tuple(args.condition or CONDITIONS))
            print(table.to_string(index=False) if len(table) else "no probe rerun is stored yet")
            return 1 if (table["differing"] > 0).any() else 0
        if args.what == "all":
            if args.cost:
                print("\n".join(cost_lines(measured_cost(study.settings, study.store, args.runs))))
                return 0
            if args.write_manifest:
                path = write_manifest(study.settings, study.store)
                print(f"wrote {display_path(path)}: {len(study.store.read_manifest())} files of the profile's "
                      f"finished runs", file=sys.stderr)
            if args.list_files:
                print("\n".join(os.path.relpath(path) for path in store_files(study.settings, study.store)))
            if args.list_files or args.write_manifest:
                note = unfinished_note(study.settings, study.store)
                if note:
                    print(note, file=sys.stderr)
                return 0
            try:
                failed = train_all(study.settings, args.profile, args.workers, overrides=tuple(args.param or ()),
                                   scheduler=args.scheduler, runs=args.runs)
            except ValueError as err:  # bad input, before anything ran
                print(f"error: {err}")
                return 2
            except RuntimeError as err:  # sources failed: their transfers cannot start
                print(f"error: {err}")
                return 1
            return 1 if failed else 0
        conditions = tuple(args.condition or CONDITIONS)
        if args.what == "tasks":
            designs = [(e, c, t) for e, c, t in study.settings.task_designs()
                       if (not args.experiment or e in args.experiment) and (not args.target or t in args.target)
                       and (not args.condition or c in args.condition)]
            if not designs:
                print("error: no run with task tokens matches --experiment/--condition/--target; runs: "
                      + ", ".join("/".join(d) for d in study.settings.task_designs()))
                return 2
            for run in study.task_runs(designs):
                final = run.curve.iloc[-1]
                print(f"seed {run.seed} {run.experiment} {run.condition} -> {run.target}: {run.result['stop_reason']} "
                      f"after {run.result['epochs_trained']} epochs, test acc {final['test_acc']:.4f}  [{run.stored.key}]")
            return 0
        if args.what in ("sources", "probe-sources"):
            sources = study.sources() if args.what == "sources" else study.probe_sources()
            for seed, run in sources.items():
                snaps = ", ".join(f"{name} at epoch {s['epoch']} (test acc {s['test_acc']:.3f})"
                                  for name, s in run.result["snapshots"].items())
                print(f"seed {seed}: {run.result['stop_reason']} after {run.result['epochs_trained']} epochs; {snaps}  [{run.key}]")
        else:
            runs = {"transfer": lambda: study.transfers(conditions),
                    "controls": lambda: study.controls(tuple(args.control or CONTROLS)),
                    "probe-transfer": lambda: study.probe_transfers(conditions, extended=args.extend),
                    "relearn": lambda: study.relearning(conditions)}[args.what]()
            for run in runs:
                final = run.curve.iloc[-1]
                print(f"seed {run.seed} {run.condition:15s}: {run.result['stop_reason']} after "
                      f"{run.result['epochs_trained']} epochs, test acc {final['test_acc']:.4f}  [{run.stored.key}]")
    except StoreError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except TrainingInterrupted as err:
        print(err.message, file=sys.stderr)
        return 130
    except KeyboardInterrupt:  # not while training: storing, loading, or the Dask client of `all`
        print("interrupted; finished runs are stored, and the same command carries on from the last "
              "checkpoint of the others", file=sys.stderr)
        return 130
    return 0


def _use_thread_count_from_environment() -> None:
    """Give torch's intra-op pool the ``OMP_NUM_THREADS`` threads the environment asks for (the
    local Dask cluster of ``train all`` sets it to cores // workers for each worker), so that
    processes sharing the cores do not oversubscribe them."""
    threads = os.environ.get("OMP_NUM_THREADS", "")
    if threads.isdigit() and int(threads) >= 1:
        torch.set_num_threads(int(threads))


if __name__ == "__main__":
    sys.exit(main())
