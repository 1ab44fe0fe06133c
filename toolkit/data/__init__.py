"""Data sets: MNIST, a user's .npz, IDX directory or image folder, checked on load; the data a run was made with."""
