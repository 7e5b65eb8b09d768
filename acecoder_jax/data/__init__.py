"""Data for training: AceCodePair and SFT-chat formatting/tokenization, grain pipelines, tfds array_record
builders."""
