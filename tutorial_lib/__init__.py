"""tutorial_lib: the helper library of the learning-to-hash tutorial.

Modules
-------
data        loading CIFAR-10 GIST / digits / any X + X_class .mat, preprocessing, the split
hashing     LSH, GRH and bit <-> bucket-key helpers
index       HashIndex: a compact hash table with exact Hamming range and k-NN search
evaluation  precision@k after cosine re-ranking, radius sweeps, mAP, precision at radius
plotting    the figures the notebooks and the script share
"""

__version__ = "0.1.0"
