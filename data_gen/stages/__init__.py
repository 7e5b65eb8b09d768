"""The pipeline's stages; each streams its input, writes incrementally and resumes."""
