"""The `planner` command line. Every verb has --help; errors print one paragraph and exit 2.

Each verb is one :class:`planner.campaign.Campaign` call plus formatting: the campaign's data
(:mod:`planner.cli._data`: init, status, observe, quality, demo), the search
(:mod:`planner.cli._search`: run, leaderboard, predict) and the lab loop (:mod:`planner.cli._lab`:
suggest, suggestions, backtest, report). The entry point is :func:`main`.
"""

from __future__ import annotations

import signal
import sys
import threading
import time
import warnings

import typer

try:  # typer >= 0.20 vendors click; its exceptions are the ones raised
    from typer._click import ClickException
except ImportError:  # pragma: no cover - older typer uses click itself
    from click import ClickException

from planner.cli import _data, _lab, _search
from planner.cli._app import CLOCK, app
from planner.exceptions import Interrupted, NotBuiltYetError, PlannerError
from planner.io import storage_failure

__all__ = ["app", "main"]

# The verbs, in the order `planner --help` lists them (the order of a campaign's life).
for _verb in (_data.init, _data.status, _data.observe, _data.demo, _search.run, _search.leaderboard,
              _search.predict, _data.quality, _lab.suggest):
    app.command()(_verb)
app.command("suggestions")(_lab.suggestions_cmd)
app.command()(_lab.backtest)
app.command()(_lab.report)


def _process_age_s() -> float:
    """Seconds since this process started (imports count against --timeout)."""
    try:
        import psutil

        return max(0.0, time.time() - psutil.Process().create_time())
    except Exception:  # noqa: BLE001 - without psutil the budget starts at the search
        return 0.0


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
    print(f"warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `planner` script; returns the exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    # the clock of --timeout: from here, or from process start when run as the `planner` script
    CLOCK["started"] = time.monotonic() - (_process_age_s() if argv is None else 0.0)
    debug = "--debug" in args
    if not debug:
        warnings.showwarning = _show_warning
    previous_sigint = _catch_sigint()
    try:
        command = typer.main.get_command(app)
        result = command.main(args=args, prog_name="planner", standalone_mode=False)
        return int(result) if isinstance(result, int) else 0
    except Interrupted:
        print(
            "interrupted: everything stored before the interruption is kept (running trials are marked "
            "failed with the reason 'interrupted'); run the same command again to continue",
            file=sys.stderr,
        )
        return 130
    except typer.Exit as exc:
        return exc.exit_code
    except ClickException as exc:
        exc.show()
        return exc.exit_code
    except typer.Abort:
        print("aborted", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted; everything stored before the interruption is kept", file=sys.stderr)
        return 130
    except PlannerError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 3 if isinstance(exc, NotBuiltYetError) else 2
    except Exception as exc:  # noqa: BLE001 - last resort: never a bare traceback for users
        if debug:
            raise
        storage = storage_failure(exc)
        if storage is not None:
            print(f"error: {storage}", file=sys.stderr)
            return 2
        print(
            f"internal error: {type(exc).__name__}: {exc}\nThis is a bug in planner. Re-run with --debug for "
            "the traceback and report it.",
            file=sys.stderr,
        )
        return 1
    finally:
        if previous_sigint is not None:
            signal.signal(signal.SIGINT, previous_sigint)


def _raise_interrupted(signum: int, frame: object) -> None:
    raise Interrupted()


def _catch_sigint():  # noqa: ANN202 - the previous handler, or None off the main thread
    """Ctrl-C raises :class:`Interrupted` (typer would swallow a KeyboardInterrupt silently)."""
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGINT, _raise_interrupted)


def _script() -> None:
    """Console-script wrapper: exit with :func:`main`'s code.

    The exit handlers run as usual (temporary folders removed, child processes and a local Ray
    instance shut down, database connections closed, logs flushed); then the process ends without
    the interpreter tearing down every imported module one by one, which takes 1-2 s with the
    scientific stack loaded and would run past ``--timeout``.
    """
    _exit_now(main())


def _flush_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: nothing more can be said
            pass


def _exit_now(code: int) -> None:
    import atexit
    import os

    _flush_streams()
    atexit._run_exitfuncs()  # they may print too
    _flush_streams()
    os._exit(code)
