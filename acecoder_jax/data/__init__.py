"""Data for training: AceCodePair formatting/tokenization, grain pipelines, tfds array_record builders."""
