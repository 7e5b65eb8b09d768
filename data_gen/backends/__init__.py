"""Generation backends behind one interface: openai (HTTP), vllm (GPU nodes), transformers, replay."""
