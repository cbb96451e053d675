"""retrievers layer of llama_index_mmrag."""
