"""Neural networks of the course (TensorFlow/Keras, imported only when a builder is called).

- :mod:`s2slide.models.cae`: the convolutional autoencoder of Shahabi et al. (2021), chapter 5.
- :mod:`s2slide.models.unet`: the U-Net of seed 001, chapter 6.
"""
