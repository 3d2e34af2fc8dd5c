"""The benchmark scripts: they run, they refuse CUDA loudly where there is none (never a silent
CPU fallback), and the CPU/CUDA comparison fails on a changed accuracy. No timing is asserted."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS = ROOT / "benchmarks"
no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the behaviour on a machine without CUDA")


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)


def load_compare_devices():
    spec = importlib.util.spec_from_file_location("compare_devices", BENCHMARKS / "compare_devices.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@no_cuda
def test_gpu_check_stops_loudly_without_cuda():
    # This python has torch, so the script gets as far as asking torch for CUDA.
    done = run("env", f"PYTHON={sys.executable}", "bash", str(BENCHMARKS / "gpu_check.sh"))
    assert done.returncode == 1
    assert "GPU CHECK NOT RUN: NO CUDA GPU" in done.stderr
    assert "never falls back to the CPU" in done.stderr
    assert "scratch folder" not in done.stdout  # it stopped before doing anything


@no_cuda
def test_gpu_pending_trains_nothing_without_cuda_or_without_a_folder_for_the_runs(tmp_path):
    script = str(BENCHMARKS / "gpu_pending.sh")
    nowhere = run("env", f"PYTHON={sys.executable}", "OUT=", "bash", script)
    assert nowhere.returncode == 2 and "set OUT" in nowhere.stderr and "nothing was run" in nowhere.stderr
    done = run("env", f"PYTHON={sys.executable}", f"OUT={tmp_path}", "bash", script)
    assert done.returncode == 1 and "no CUDA GPU" in done.stderr and "never trains on the CPU" in done.stderr
    assert list(tmp_path.iterdir()) == []  # it stopped before writing anything


@no_cuda
def test_train_speed_refuses_cuda_without_one():
    done = run(sys.executable, str(BENCHMARKS / "train_speed.py"), "--device", "cuda")
    assert done.returncode != 0
    assert done.stdout == ""
    error = done.stderr.strip().splitlines()
    assert len(error) == 1 and error[0].startswith("error: --device cuda") and "no CUDA GPU" in error[0]


def test_train_speed_prints_its_table():
    done = run(sys.executable, str(BENCHMARKS / "train_speed.py"), "--p", "11", "--epochs", "2", "--rounds", "1",
               "--models", "1,2", "--device", "cpu", "--breakdown")
    assert done.returncode == 0, done.stderr
    rows = [line.split("  ")[0] for line in done.stdout.splitlines()]
    for row in ("baseline: original as written (M=1)", "reference: train loss only (M=1)", "ours M=1", "ours M=2",
                "ours M=2, one batch"):
        assert row in rows
    assert any(row.startswith("floor: ours' matmuls at") for row in rows)
    assert any(line.startswith("floor: ") and "GFLOP of matmuls per model-epoch" in line
               for line in done.stdout.splitlines())
    after = done.stdout.split("where ours' time goes at M=1", 1)[1].splitlines()
    parts = {line.strip().split("  ")[0]: line for line in after if line.startswith("  ")}
    assert {"matrix products", "other torch ops", "Python and overhead", "total (profiled)"} <= set(parts)


def curves(test_acc=(0.1, 0.5, 0.9), test_loss=(3.0, 2.0, 1.0)):
    return {"random seed 42": {"epoch": [0, 10, 20], "train_loss": [3.0, 1.5, 0.5], "train_acc": [0.1, 0.6, 1.0],
                               "test_loss": list(test_loss), "test_acc": list(test_acc)}}


def test_compare_curves_passes_equal_curves_and_losses_within_the_tolerance():
    compare_curves = load_compare_devices().compare_curves
    assert compare_curves(curves(), curves()) == (
        {"train_acc": 0.0, "test_acc": 0.0, "train_loss": 0.0, "test_loss": 0.0}, [])
    largest, problems = compare_curves(curves(), curves(test_loss=(3.0, 2.00005, 1.0)), loss_tol=1e-4)
    assert problems == [] and largest["test_loss"] == pytest.approx(5e-5)


def test_compare_curves_fails_on_a_changed_accuracy_or_a_loss_beyond_the_tolerance():
    compare_curves = load_compare_devices().compare_curves
    largest, problems = compare_curves(curves(), curves(test_acc=(0.1, 0.5, 0.9 + 1 / 8939)))
    assert largest["test_acc"] == pytest.approx(1 / 8939)
    assert len(problems) == 1 and "test_acc differs at 1 evaluation(s), first at epoch 20" in problems[0]
    _, problems = compare_curves(curves(), curves(test_loss=(3.0, 2.001, float("nan"))), loss_tol=1e-4)
    assert len(problems) == 1 and "test_loss differs at 2 evaluation(s), first at epoch 10" in problems[0]
    _, problems = compare_curves(curves(), {})
    assert problems and "different runs" in problems[0]


def test_compare_curves_counts_accuracies_in_examples_when_told_the_sizes():
    """What a GPU showed: the same 36 of 3830 correct, summed in another order on each device,
    differs in the last bit (0.009399477806788513 against 0.00939947780678851). As counts they
    are equal; one example more is a mismatch."""
    compare_curves = load_compare_devices().compare_curves
    examples = {"train_acc": 3830, "test_acc": 8939}
    cpu = curves(test_acc=(0.009399477806788513, 0.5, 0.9))
    cuda = curves(test_acc=(0.00939947780678851, 0.5, 0.9))
    assert compare_curves(cpu, cuda)[1]  # as floats they differ
    assert compare_curves(cpu, cuda, examples=examples)[1] == []
    _, problems = compare_curves(cpu, curves(test_acc=(0.009399477806788513 + 1 / 8939, 0.5, 0.9)), examples=examples)
    assert len(problems) == 1 and "test_acc differs at 1 evaluation(s), first at epoch 0" in problems[0]
    _, problems = compare_curves(cpu, curves(test_acc=(float("nan"), 0.5, 0.9)), examples=examples)
    assert len(problems) == 1  # NaN is never equal


def test_study_wall_time_caps_only_the_epochs():
    spec = importlib.util.spec_from_file_location("study_wall_time", BENCHMARKS / "study_wall_time.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    import yaml

    paper = yaml.safe_load((ROOT / "params" / "paper.yaml").read_text())
    capped = module.capped_profile(ROOT / "params" / "paper.yaml", 400, 200)
    changed = {k for k in paper["study"] if paper["study"][k] != capped["study"][k]}
    assert changed == {"grokked_max_epochs", "memorized_fixed_epochs", "transfer_max_epochs", "checkpoint_every"}
    assert (capped["study"]["grokked_max_epochs"], capped["study"]["memorized_fixed_epochs"],
            capped["study"]["transfer_max_epochs"]) == (400, 200, 200)
    assert capped["chapters"] == paper["chapters"]


def test_probe_overhead_compares_with_and_without_probes_in_alternating_order():
    spec = importlib.util.spec_from_file_location("probe_overhead", BENCHMARKS / "probe_overhead.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    calls = []

    def timed(probes):  # 100 epochs: 10 s without probes, 12 s with 4 probes taken
        calls.append(probes)
        return (12.0, 4) if probes else (10.0, 0)

    epoch_s, probe_s = module.side_by_side(timed, 100, 2)
    assert calls == [False, True, True, False]
    assert (epoch_s, probe_s) == (0.1, 0.5)
