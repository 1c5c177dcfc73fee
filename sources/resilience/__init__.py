"""Keeping one slow or failing source from taking the gateway down: request
deadlines, circuit breakers, retry budgets."""
