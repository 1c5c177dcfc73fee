"""Pre-execution admission of GraphQL documents: limits, static cost, cost buckets.

Per operation, before execution: ``DocumentAnalyser.analyse()`` (cached per document
text), ``CostModel.requested_cost()`` with the request's variables, ``check_cost()``,
then ``CostBucket.take()`` for the caller's key.
"""
