"""The one exception class of int8q's file layer (int8q.io)."""


class FormatError(ValueError):
    """A checkpoint file that int8q cannot read or will not write.

    A corrupt or truncated header, offsets that do not fit the file, an
    unknown format, a file int8q did not quantize given to ``dequantize``, a
    name clash with a scale tensor.  A ValueError, so callers that already
    catch ValueError (the command line does) need nothing new.

    Examples
    --------
    >>> import os, tempfile, int8q.io
    >>> d = tempfile.TemporaryDirectory()
    >>> path = os.path.join(d.name, "weights.txt")
    >>> open(path, "w").close()
    >>> try:
    ...     int8q.io.quantize_file(path, path + ".out")
    ... except int8q.io.FormatError:
    ...     print("refused")
    refused
    >>> d.cleanup()
    """
