"""Agreement statistics for the review dashboard: pure, vectorised functions over numpy arrays.

Ratings come as a units x raters float matrix; a rating is missing when it is NaN or negative
(so -1 works in integer arrays). Label arrays of models are category codes 0..K-1. A figure
that does not apply (nothing to compare, no variation) is None, never NaN or an exception.
"""

from review.stats.agreement import (
    category_counts,
    cohen_kappa,
    fleiss_kappa,
    kappa_from_confusion,
    pairwise_agreement,
    unanimous_share,
)
from review.stats.alpha import LEVELS, Level, krippendorff_alpha
from review.stats.calibration import (
    Calibration,
    ReliabilityBin,
    calibration_summary,
    expected_calibration_error,
    reliability_diagram,
)
from review.stats.confusion import (
    confusion_matrix,
    dispute_rates,
    dispute_rates_by_label,
    disputed_units,
    rates_by_group,
)
from review.stats.reference import (
    RaterAgreement,
    agreement_with_consensus,
    agreement_with_reference,
    majority_labels,
)
from review.stats.summary import (
    AlphaByLevel,
    HumanSummary,
    ModelPair,
    ModelSummary,
    human_summary,
    model_summary,
)
from review.stats.throughput import AnnotatorThroughput, distinct_items, throughput

__all__ = [
    "LEVELS",
    "AlphaByLevel",
    "AnnotatorThroughput",
    "Calibration",
    "HumanSummary",
    "Level",
    "ModelPair",
    "ModelSummary",
    "RaterAgreement",
    "ReliabilityBin",
    "agreement_with_consensus",
    "agreement_with_reference",
    "calibration_summary",
    "category_counts",
    "cohen_kappa",
    "confusion_matrix",
    "dispute_rates",
    "dispute_rates_by_label",
    "disputed_units",
    "distinct_items",
    "expected_calibration_error",
    "fleiss_kappa",
    "human_summary",
    "kappa_from_confusion",
    "krippendorff_alpha",
    "majority_labels",
    "model_summary",
    "pairwise_agreement",
    "rates_by_group",
    "reliability_diagram",
    "throughput",
    "unanimous_share",
]
