"""simlib - the simulated world's modules (Kubernetes API, kubelet, Azure DevOps, control API)."""
