"""The Open Inference Protocol (KServe v2): its REST schemas and routes, the model repository
extension, and the same protocol over gRPC."""
