class DataError(RuntimeError):
    """A dataset problem; the message names the dataset, file or key at fault."""
