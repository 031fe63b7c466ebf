"""Top-K checkpoint history (timm's CheckpointSaver) and checkpoint averaging (timm's avg_checkpoints.py)."""
import pytest
import torch

from common.errors import KitError
from common.vision.checkpoints import (CheckpointSaver, DamagedCheckpoint, average_checkpoints, average_state_dicts,
                                      fold_checkpoint, kept_checkpoints, load_checkpoint, set_aside)


def state(value: float) -> dict:
    return {"model": {"conv.weight": torch.full((2, 2), float(value)), "bn.running_var": torch.full((2,), float(value)),
                      "bn.num_batches_tracked": torch.tensor(int(value) + 1)}}


def test_saver_keeps_the_k_best_epochs_and_the_best(tmp_path):
    saver = CheckpointSaver(tmp_path, max_history=2)
    improved = [saver.update(epoch, metric, state(epoch)) for epoch, metric in enumerate([0.5, 0.7, 0.6, 0.8], 1)]
    assert improved == [True, True, False, True]
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*.pt")) == ["checkpoint-2.pt", "checkpoint-4.pt"]
    assert saver.paths() == [tmp_path / "checkpoint-4.pt", tmp_path / "checkpoint-2.pt"]
    assert load_checkpoint(tmp_path / "best.pt")["model"]["conv.weight"][0, 0] == 4
    resumed = CheckpointSaver(tmp_path, max_history=2, history=saver.history)  # as restored from last.pt
    resumed.update(5, 0.75, state(5))
    assert sorted(p.name for p in tmp_path.glob("checkpoint-*.pt")) == ["checkpoint-4.pt", "checkpoint-5.pt"]


def test_saver_without_history_writes_only_best(tmp_path):
    saver = CheckpointSaver(tmp_path, max_history=0)
    saver.update(1, 0.5, state(1))
    saver.update(2, 0.4, state(2))
    assert not list(tmp_path.glob("checkpoint-*.pt")) and saver.paths() == []
    assert saver.best == (0.5, 1)


def test_average_is_the_mean_of_the_weights_and_batchnorm_buffers(tmp_path):
    saver = CheckpointSaver(tmp_path, max_history=3)
    for epoch, metric in enumerate([0.1, 0.9, 0.8, 0.7], 1):
        saver.update(epoch, metric, state(epoch))
    averaged = average_checkpoints(saver.paths())
    assert torch.equal(averaged["conv.weight"], torch.full((2, 2), (2 + 3 + 4) / 3))
    assert torch.equal(averaged["bn.running_var"], torch.full((2,), 3.0))
    assert averaged["bn.num_batches_tracked"].dtype == torch.int64
    half = torch.tensor([1.0], dtype=torch.bfloat16)
    assert average_state_dicts([{"w": half}, {"w": half * 3}])["w"].dtype == torch.bfloat16


def test_fold_checkpoint_names_and_kept_epochs_in_epoch_order(tmp_path):
    saver = CheckpointSaver(tmp_path, max_history=3)
    for epoch, metric in [(2, 0.6), (10, 0.9), (9, 0.7), (1, 0.1)]:
        saver.update(epoch, metric, {"model": {"w": torch.tensor([float(epoch)])}})
    assert kept_checkpoints(tmp_path) == [tmp_path / f"checkpoint-{e}.pt" for e in (2, 9, 10)]
    assert load_checkpoint(fold_checkpoint(tmp_path))["model"]["w"].item() == 10.0
    assert fold_checkpoint(tmp_path, "last") == tmp_path / "last.pt"
    with pytest.raises(ValueError, match="best or last"):
        fold_checkpoint(tmp_path, "avg")


@pytest.mark.parametrize("damage", ["truncated", "junk", "empty"])
def test_a_damaged_checkpoint_names_itself_in_one_line(tmp_path, damage):
    path = tmp_path / "best.pt"
    torch.save(state(1), path)
    whole = path.read_bytes()
    path.write_bytes({"truncated": whole[: len(whole) // 2], "junk": b"not a checkpoint", "empty": b""}[damage])
    with pytest.raises(DamagedCheckpoint) as error:
        load_checkpoint(path)
    message = str(error.value)
    assert message.startswith(f"checkpoint {path} is damaged (") and "\n" not in message
    assert "--no-resume" in message and isinstance(error.value, KitError)


def test_set_aside_keeps_the_damaged_file_under_another_name(tmp_path):
    path = tmp_path / "last.pt"
    path.write_bytes(b"half a checkpoint")
    aside = set_aside(path)
    assert not path.exists() and aside.read_bytes() == b"half a checkpoint"
    assert aside.name.startswith("last.damaged-") and aside.suffix == ".pt"
    assert kept_checkpoints(tmp_path) == []  # never taken for a kept epoch
