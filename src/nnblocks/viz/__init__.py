"""Pictures of what the network does: loss curves, learning-rate studies, graphs, decision boundaries, weights."""
