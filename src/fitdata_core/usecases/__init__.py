"""Use cases: async functions over the ports. Each checks who may call it first."""
