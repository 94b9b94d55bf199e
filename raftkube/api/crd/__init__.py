"""CustomResourceDefinitions: the CRD kind, custom resources built from it, their schemas and OpenAPI."""
