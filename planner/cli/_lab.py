"""`planner` verbs of the lab loop: suggest, suggestions, backtest and report."""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Annotated

import typer

from planner.cli._app import CampaignDir


def suggest(
    directory: CampaignDir,
    n: Annotated[int, typer.Option("-n", "--n", min=1, help="Experiments to propose (batch size q).")] = 5,
    strategy: Annotated[
        str | None,
        typer.Option(
            "--strategy",
            help="qlognei (default, one target), qlognehvi (default, several), qucb, pi, mli, thompson, "
            "max_variance, ivr, greedy, random.",
        ),
    ] = None,
    surrogate: Annotated[
        str, typer.Option("--surrogate", help="gp-additive (default: BoTorch GP, ARD Matern-5/2 plus a first-order additive Matern kernel), gp (the ARD Matern-5/2 alone: faster to fit), portfolio (half of each batch from the GP, half from a random forest; one target), rf, et, auto (GP or forest, whichever predicts held-out observations better), robust (GP on y, bilog(y) or Yeo-Johnson(y), or a forest, by held-out log predictive density), or automl (the search's best pipelines).")
    ] = "gp-additive",  # planner.active.DEFAULT_SURROGATE
    beta: Annotated[float, typer.Option("--beta", help="Exploration weight of qucb.")] = 2.0,
    constraint: Annotated[
        list[str] | None, typer.Option("--constraint", help="Outcome constraint, e.g. temp_rise_k<=10 (repeatable).")
    ] = None,
    calibrate: Annotated[
        float | None, typer.Option("--calibrate", help="Coverage of the conformal intervals (<target>_lower/_upper) of each suggestion; default 0.9.")
    ] = None,
    floor: Annotated[
        str,
        typer.Option(
            "--floor",
            help="What the GP makes of many observations at a target's worst value (>= 10% and 3, e.g. failed "
            "runs scored 0). values (default): measured values. failures: failed experiments; the GP follows the "
            "other runs, a second GP models P(not failed), the picks are weighted by it and the table shows it.",
        ),
    ] = "values",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Also write the suggestions to this CSV.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the suggestions and their metadata as JSON.")] = False,
) -> None:
    """Propose the next experiments by Bayesian active learning (pending until observed).

    Each row has the inputs, the predicted mean and standard deviation per target, the
    acquisition value, the distance to the nearest measured point and a one-line reason.
    Suggestions are logged in suggestions.csv as pending, so the next call proposes other
    experiments; `planner observe` marks them observed (a `suggestion_id` column links explicitly).
    """
    from planner.campaign import Campaign

    # A fallback is printed below as a note with the batch; its warning would say it twice.
    caught: list[warnings.WarningMessage] = []
    fallbacks: set[str] = set()
    try:
        with warnings.catch_warnings(record=True) as caught:  # the filters in force stay
            table, metadata = Campaign.load(directory).suggest(
                n, strategy=strategy, surrogate=surrogate, beta=beta, outcome_constraints=constraint,
                calibration=calibrate, floor=floor,
            )
        fallbacks = {str(line) for line in metadata.get("fallbacks", ())} if not as_json else set()
    finally:
        seen: set[str] = set()
        for w in caught:
            text = str(w.message)
            if text not in seen and text.removeprefix("forest part: ") not in fallbacks:
                seen.add(text)
                warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    shown = [c for c in table.columns if not c.startswith("_") or c == "_suggestion_id"]
    if as_json:
        records = json.loads(table[shown].rename(columns={"_suggestion_id": "suggestion_id"}).to_json(
            orient="records", double_precision=10))
        typer.echo(json.dumps({"round": int(table["_round"].iloc[0]), "suggestions": records,
                               "metadata": metadata}, indent=2, default=str))
        if out is not None:
            from planner.io import write_export_csv

            write_export_csv(out, table[shown].rename(columns={"_suggestion_id": "suggestion_id"}))
        return
    for line in metadata.get("fallbacks", ()):
        typer.echo(f"note: {line}")
    for line in metadata.get("notes", ()):
        if line.startswith("surrogate auto"):  # which surrogate --surrogate auto chose, and why
            typer.echo(f"note: {line}")
    for line in metadata.get("sanity", ()):  # clipped to declared bounds, outside the observed data
        typer.echo(f"note: {line}")
    for line in metadata.get("left_out", ()):  # stored rows the model does not see (values written as limits)
        typer.echo(f"note: {line}")
    typer.echo(
        f"round {int(table['_round'].iloc[0])}: {len(table)} suggestion(s), strategy "
        f"{metadata.get('strategy_used')}, model {metadata.get('model') or 'none (no model is fitted)'}, "
        f"{metadata.get('n_observations', 0)} observations, {metadata.get('n_pending', 0)} pending"
    )
    shown = [c for c in table.columns if not c.startswith("_") or c == "_suggestion_id"]
    typer.echo(table[shown].to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    if out is not None:
        from planner.io import write_export_csv

        write_export_csv(out, table[shown].rename(columns={"_suggestion_id": "suggestion_id"}))
        typer.echo(f"wrote {out} (keep the suggestion_id column when you report results with `planner observe`)")


def suggestions_cmd(
    directory: CampaignDir,
    pending: Annotated[bool, typer.Option("--pending", help="Only the suggestions still waiting for results.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON records instead of a table.")] = False,
    cancel: Annotated[
        list[str] | None, typer.Option("--cancel", help="Withdraw this pending suggestion (repeatable), e.g. S0003.")
    ] = None,
    cancel_all: Annotated[bool, typer.Option("--cancel-all", help="Withdraw every pending suggestion.")] = False,
    reason: Annotated[str, typer.Option("--reason", help="Why they are withdrawn (kept in the log).")] = "",
) -> None:
    """List the suggestions made so far, or withdraw pending ones.

    Withdrawn suggestions stay in suggestions.csv with status 'cancelled', the time and the
    reason; they are never deleted, and `planner suggest` no longer treats them as pending.
    """
    from planner.campaign import Campaign

    campaign = Campaign.load(directory)
    if cancel or cancel_all:
        if cancel and cancel_all:
            raise typer.BadParameter("use --cancel ID... or --cancel-all, not both")
        done = campaign.cancel(cancel, all_pending=cancel_all, reason=reason)
        if as_json:
            typer.echo(json.dumps({"cancelled": done}))
        else:
            typer.echo(f"cancelled {len(done)} suggestion(s)" + (f": {', '.join(done)}" if done else " (none was pending)"))
        return
    table = campaign.suggestion_log(pending_only=pending)
    shown = table.rename(columns={"_suggestion_id": "suggestion_id", "_status": "status", "_round": "round",
                                  "_suggested_at": "suggested_at", "_strategy": "strategy"})
    keep = ["suggestion_id", "round", "status", "suggested_at", "strategy"] + [
        c for c in shown.columns if not c.startswith("_") and c not in {"suggestion_id", "round", "status", "suggested_at", "strategy"}
    ]
    shown = shown[keep]
    if as_json:
        typer.echo(shown.to_json(orient="records", double_precision=10))
    elif shown.empty:
        typer.echo("no pending suggestions" if pending else "no suggestions yet; run `planner suggest DIR`")
    else:
        counts = table["_status"].value_counts()
        typer.echo(", ".join(f"{n} {k}" for k, n in counts.items()))
        typer.echo(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))


def backtest(
    directory: CampaignDir,
    strategies: Annotated[
        str,
        typer.Option(
            "--strategies",
            help="Comma-separated arms strategy[@surrogate]: random, greedy@rf, qlognei, qlognei@rf, "
            "qlognei@gp-additive (suggest's default), qlognei@portfolio, qlognehvi, qucb, ... Default: random, "
            "greedy@rf, qlognei and qlognei@gp-additive (qlognehvi with several targets).",
        ),
    ] = "",
    seeds: Annotated[int, typer.Option("--seeds", min=1, help="Independent runs per strategy.")] = 20,
    initial: Annotated[int, typer.Option("--initial", min=1, help="Random starting experiments.")] = 2,
    batch: Annotated[int, typer.Option("--batch", min=1, help="Experiments per suggestion.")] = 1,
    budget: Annotated[
        int | None,
        typer.Option("--budget", help="Experiments per run (default: half the labelled rows, at least --initial "
                     "plus --batch, at most 50)."),
    ] = None,
    pool: Annotated[
        Path | None, typer.Option("--pool", help="Labelled pool CSV (default: the campaign's labelled rows).")
    ] = None,
    executor: Annotated[str | None, typer.Option("--executor", help="local, processes or ray.")] = None,
    jobs: Annotated[int | None, typer.Option("--jobs", min=1, help="Parallel workers over seeds.")] = None,
    address: Annotated[
        str | None,
        typer.Option("--address", help="Ray cluster: auto or ray://host:10001 (needs --executor ray)."),
    ] = None,
) -> None:
    """Replay acquisition strategies on a fully labelled pool (best-so-far, Top%, EF, AF).

    Each strategy and seed starts from the same random points, then suggests, reveals the true
    values and repeats up to the budget. Results go to DIRECTORY/backtests/<run id>/ and into
    the report.
    """
    from planner.campaign import Campaign

    campaign = Campaign.load(directory)
    arms = [a.strip() for a in strategies.split(",") if a.strip()]
    result, out_dir = campaign.backtest(
        arms,
        n_seeds=seeds,
        n_initial=initial,
        batch_size=batch,
        budget=budget,
        executor=executor,
        n_jobs=jobs,
        pool=pool,
        address=address,
    )
    meta = result.metadata
    pool_facts = meta.get("pool", {})
    typer.echo(
        f"pool: {pool_facts.get('n_unique', '?')} unique candidates ({pool_facts.get('n_rows', '?')} rows); "
        f"budget {meta.get('budget')} experiments; {seeds} seeds x {len(meta.get('arms') or arms)} strategies; "
        f"{meta.get('wall_seconds', 0):.0f} s"
    )
    summary = result.summary
    wanted = ["arm", "n_runs", "n_failed", "final_best_so_far_median", "final_hv_fraction_median"]
    for fraction in meta.get("top_set_sizes", {}):
        wanted += [f"final_top_{fraction}_mean", f"first_hit_top_{fraction}_median", f"af_top_{fraction}_at_0.5"]
    wanted.append("seconds_per_run")
    shown = summary[[c for c in wanted if c in summary.columns]]
    typer.echo(shown.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    if "final_hv_fraction_median" in shown.columns:
        typer.echo("columns: final hv fraction = hypervolume of the measured points / the pool's; final top_pareto = "
                   "share of the pool's Pareto front found; first_hit = median experiments to the first Pareto point")
    else:
        typer.echo("columns: final Top% = share of the top set found; first_hit = median experiments to the first top "
                   "hit; af = acceleration vs random at Top% 50%")
    typer.echo(f"saved: {out_dir}/ (runs.csv, curves.csv, summary.csv); `planner report {directory}` plots them")


def report(
    directory: CampaignDir,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="HTML file (default: DIR/reports/report.html); .md beside it.")
    ] = None,
    no_recompute: Annotated[
        bool,
        typer.Option("--no-recompute", help="Never cross-validate the best pipeline again for out-of-fold plots."),
    ] = False,
) -> None:
    """Write a self-contained HTML report (plots embedded, opens offline) and a Markdown summary.

    Built only from what the campaign stores (data, quality report, Optuna trials, saved
    models, suggestions, backtests); regenerate it at any time. Sections without data say
    what is missing and which command produces it.
    """
    from planner.campaign import Campaign

    started = time.perf_counter()

    def progress(step: str) -> None:
        typer.echo(f"report {step} ({time.perf_counter() - started:.0f} s)", err=True)

    result = Campaign.load(directory).report(out, allow_recompute=not no_recompute, progress=progress)
    typer.echo(f"report:  {result.html_path}")
    typer.echo(f"summary: {result.markdown_path}")
    typer.echo(f"{result.n_figures} figures in {time.perf_counter() - started:.1f} s")
    for line in result.missing:
        typer.echo(f"  not shown: {line}")
