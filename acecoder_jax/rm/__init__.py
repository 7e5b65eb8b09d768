"""Bradley-Terry reward-model training (`acecoder train-rm`)."""
