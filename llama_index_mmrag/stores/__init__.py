"""Storage back ends: the Milvus vector store (Lite, server, cluster or Zilliz Cloud)."""
