"""Training half of the cataract screener: data, the Flax VGG16, training, evaluation."""
