"""collapse-lab: train generative models on their own samples and measure the collapse."""
