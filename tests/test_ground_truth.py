"""Ground-truth scores of edge attributions against brute-force definitions."""

import itertools

import pytest
import torch

from edgeattr.metrics import average_precision, precision_at_k, roc_auc


def brute_auc(scores, truth):
    pairs = [(p, n) for p, n in itertools.product(range(len(scores)), repeat=2) if truth[p] and not truth[n]]
    return sum(1.0 if scores[p] > scores[n] else 0.5 if scores[p] == scores[n] else 0.0 for p, n in pairs) / len(pairs)


def brute_ap(scores, truth):
    """Precision at each distinct threshold, weighted by the recall gained there."""
    total, ap, previous = sum(truth), 0.0, 0.0
    for threshold in sorted(set(scores), reverse=True):
        chosen = [s >= threshold for s in scores]
        found = sum(c and t for c, t in zip(chosen, truth))
        recall = found / total
        ap += (recall - previous) * found / sum(chosen)
        previous = recall
    return ap


def batches():
    generator = torch.Generator().manual_seed(0)
    scores = torch.randint(0, 6, (4, 3, 11), generator=generator).double()  # small integers: many ties
    truth = torch.rand(4, 3, 11, generator=generator) < 0.3
    truth[..., 0], truth[..., 1] = True, False  # every row has both kinds
    return scores, truth


def test_roc_auc_equals_the_pairwise_definition_with_ties_counting_half():
    scores, truth = batches()
    auc = roc_auc(scores, truth)
    assert auc.shape == (4, 3)
    for index in itertools.product(range(4), range(3)):
        assert auc[index].item() == pytest.approx(brute_auc(scores[index].tolist(), truth[index].tolist()), abs=1e-12)


def test_average_precision_equals_the_threshold_definition():
    scores, truth = batches()
    ap = average_precision(scores, truth.int())
    for index in itertools.product(range(4), range(3)):
        assert ap[index].item() == pytest.approx(brute_ap(scores[index].tolist(), truth[index].tolist()), abs=1e-12)


def test_precision_at_k_counts_the_top_k_with_ties_to_the_lower_id():
    scores = torch.tensor([[0.9, 0.1, 0.9, 0.5], [0.0, 0.0, 0.0, 1.0]])
    truth = torch.tensor([[True, False, False, True], [False, True, False, True]])
    torch.testing.assert_close(precision_at_k(scores, truth, 2), torch.tensor([0.5, 0.5]))  # row 0 takes edges 0 and 2
    torch.testing.assert_close(precision_at_k(scores, truth, 3), torch.tensor([2 / 3, 2 / 3]))


def test_perfect_and_reversed_rankings_and_undefined_rows():
    truth = torch.tensor([[True, True, False, False], [False, False, False, False]])
    scores = torch.tensor([[4.0, 3.0, 2.0, 1.0], [4.0, 3.0, 2.0, 1.0]])
    auc, ap = roc_auc(scores, truth), average_precision(scores, truth)
    assert auc[0] == 1 and ap[0] == 1 and torch.isnan(auc[1]) and torch.isnan(ap[1])
    assert roc_auc(-scores[:1], truth[:1]) == 0


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: roc_auc(torch.ones(3), torch.ones(4)), "same shape"),
        (lambda: average_precision(torch.tensor([float("nan"), 1.0]), torch.tensor([1, 0])), "NaN or inf"),
        (lambda: precision_at_k(torch.ones(3), torch.ones(3), 4), "between 1 and the number of edges"),
        (lambda: precision_at_k(torch.ones(3), torch.ones(3), True), "between 1 and the number of edges"),
    ],
)
def test_bad_input_is_refused(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()
