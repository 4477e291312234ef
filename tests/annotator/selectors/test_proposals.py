import pytest

from annotator.models import Proposal
from annotator.selectors.proposals import classifier_model_names
from tests.factories import ProposalFactory, SampleFactory

pytestmark = pytest.mark.django_db


def test_a_model_that_never_describes_or_gives_a_distribution_is_a_classifier():
    first, second = SampleFactory.create_batch(2)
    for sample in (first, second):
        ProposalFactory.create(sample=sample, model_name="gpt", description="a dog on snow")
        ProposalFactory.create(sample=sample, model_name="emovit", description="")
    ProposalFactory.create(
        sample=first, model_name="softmax", description="", distribution={"awe": 0.9, "fear": 0.1}
    )
    # A VLM that once left its description empty is still a VLM.
    ProposalFactory.create(sample=first, model_name="qwen", description="")
    ProposalFactory.create(sample=second, model_name="qwen", description="a crowd")
    assert classifier_model_names(proposals=Proposal.objects.all()) == {"emovit", "softmax"}
