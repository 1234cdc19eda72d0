"""Helpers of the `toxicity` check: text normalisation, sentence units, and the model backends."""
