"""Pre-execution admission of GraphQL documents: limits, static cost, cost buckets.

Per operation, before execution: ``DocumentAnalyser.analyse()`` (cached per document
text), ``CostModel.requested_cost()`` with the request's variables, ``check_cost()``,
then ``CostBucket.take()`` for the caller's key.
"""

from gateway.admission.bucket import BucketState, CostBucket
from gateway.admission.cost import CostModel, check_cost
from gateway.admission.documents import AdmissionError, Analysis, DocumentAnalyser, Limits

__all__ = [
    "AdmissionError",
    "Analysis",
    "BucketState",
    "CostBucket",
    "CostModel",
    "DocumentAnalyser",
    "Limits",
    "check_cost",
]
