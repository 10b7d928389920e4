"""Neural networks of the course and their input (TensorFlow/Keras, imported only when needed).

- :mod:`s2slide.models.cae`: the convolutional autoencoder of Shahabi et al. (2021), chapter 5.
- :mod:`s2slide.models.unet`: the U-Net of seed 001, chapter 6.
- :mod:`s2slide.models.inputs`: the ``tf.data`` input of the U-Net (seeded split, paired
  augmentation), chapter 6.
"""
