"""The command's exit codes and its one error boundary: every failure a user can cause becomes one line.

Handlers raise `CliError` with a message that names what to fix; `explain` turns the other exceptions a
user can cause (missing storage extra, unknown URL scheme, missing or unwritable path, a closed pipe) into
such a line. Only `--debug` shows a traceback.
"""

from __future__ import annotations

import fsspec

from airflow_braze_td.currents.decode import CorruptFileError
from airflow_braze_td.treasure_data.errors import TDError

OK = 0
ATTENTION = 1  # done, with something to look at: past the warn line, records skipped or kept in quarantine
FAIL_LINE = 2  # `status`: past the fail line or Braze's loss window
ERROR = 3  # the command could not do its work: a bad argument, path, scheme, connection or key

EXIT_CODES = f"""exit codes:
  {OK}  done
  {ATTENTION}  done, with something to look at (status: past the warn line; events: records skipped;
     requeue: records kept in quarantine)
  {FAIL_LINE}  status: past the fail line or Braze's loss window
  {ERROR}  an error: one line on stderr names what to fix (--debug shows the traceback)"""

# The package extra that installs each storage scheme's fsspec implementation.
_EXTRA_OF_SCHEME = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "abfs": "azure", "abfss": "azure", "az": "azure"}


class CliError(Exception):
    """A failure the user can fix; its message says how."""


def storage(url: str, option: str = "") -> tuple[fsspec.AbstractFileSystem, str]:
    """The filesystem and path of a URL or local path (given as `option`), or a `CliError` naming the fix."""
    scheme = fsspec.core.split_protocol(url)[0] or "file"
    given = f"{option} {url}" if option else url
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as error:
        extra = _EXTRA_OF_SCHEME.get(scheme)
        fix = f"pip install 'airflow-provider-braze-td[{extra}]'" if extra else "install the package it names"
        raise CliError(f"{given}: {scheme}:// needs a package that is not installed ({error}): {fix}") from error
    except ValueError as error:
        if not str(error).startswith("Protocol not known"):
            raise
        raise CliError(
            f"{given}: unknown storage scheme '{scheme}://'; use a local path or a URL such as file://, s3://, "
            "gs:// or abfs://"
        ) from error


def explain(error: BaseException) -> str:
    """One line for any failure: what went wrong and what to fix."""
    if isinstance(error, BrokenPipeError):
        message = "the output was closed before everything was written (e.g. by `head`); stopped"
    elif isinstance(error, (CliError, CorruptFileError, TDError)):
        message = str(error)
    elif isinstance(error, (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)) and (
            error.filename):
        message = f"{error.filename}: {error.strerror}"
    elif isinstance(error, (OSError, ValueError)) and str(error):
        message = str(error)
    else:
        message = f"{type(error).__name__}: {error} (unexpected: run again with --debug for the traceback)"
    return " ".join(message.split())
