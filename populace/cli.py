"""The ``populace`` command line (DESIGN.md section 2).

Exit codes: 0 success, 1 a failed check or fit, 2 bad input (one line on stderr naming
the file, row, column and value). ``joint`` and ``personas`` never import JAX.
"""

from __future__ import annotations

import argparse
import io
import pathlib
import sys
from collections.abc import Sequence

from populace.errors import FitError, PopulaceInputError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage mistakes as bad input (exit 2) on one line."""

    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"{self.prog}: error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def _integer_at_least(minimum: int, what: str):  # noqa: ANN202 - an argparse type
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {what}, got {value}")
        return value

    return parse


_positive_int = _integer_at_least(1, "at least 1")
_seed = _integer_at_least(0, "non-negative")


def _prob(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {value}")
    return value


def _by(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = _Parser(prog="populace", description="Recover a population's joint distribution, with uncertainty.")
    parser.add_argument("--version", action="version", version=f"populace {_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("fit", help="fit a spec and write the posterior file")
    p.add_argument("spec", help="the spec file (YAML)")
    p.add_argument("--out", required=True, help="posterior file to write (NetCDF)")
    p.add_argument("--method", choices=_method_names(), help="inference method (default: nuts)")
    p.add_argument("--draws", type=_positive_int, help="draws per chain (default 1000)")
    p.add_argument("--chains", type=_positive_int, help="chains (default 4)")
    p.add_argument("--seed", type=_seed, help="random seed (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")

    p = sub.add_parser("joint", help="shares of a table of attributes, with credible intervals")
    p.add_argument("posterior")
    p.add_argument("--by", type=_by, help="comma-separated attributes (default: all, the full joint)")
    p.add_argument("--prob", type=_prob, default=0.9, help="credible mass of the interval (default 0.9)")
    p.add_argument("--out", help="CSV file to write (default: print)")
    p.add_argument("--quiet", action="store_true")

    p = sub.add_parser("personas", help="draw personas across posterior draws")
    p.add_argument("posterior")
    p.add_argument("-n", type=_positive_int, required=True, help="number of personas")
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--out", default="personas.parquet", help="file to write: .parquet (default) or .csv")
    p.add_argument("--tier", choices=("tabular", "descriptive"), default="tabular")
    p.add_argument("--quiet", action="store_true")

    p = sub.add_parser("check", help="posterior predictive and convergence checks, with plots")
    p.add_argument("posterior", help="a posterior file, or an outcome fit saved by forecast")
    p.add_argument("--out", help="folder for the report and plots")
    p.add_argument("--quiet", action="store_true")

    p = sub.add_parser("forecast", help="post-stratified outcome shares by group, with credible intervals")
    p.add_argument("posterior")
    p.add_argument("outcome", help="the outcome spec (YAML)")
    p.add_argument("--by", type=_by, help="group attributes (default: the outcome spec's by)")
    p.add_argument("--prob", type=_prob, default=0.9, help="credible mass of the interval (default 0.9)")
    p.add_argument("--out", help="CSV file to write (default: print)")
    p.add_argument("--draws", type=_positive_int, default=1000, help="outcome-model draws per chain (default 1000)")
    p.add_argument("--chains", type=_positive_int, default=4, help="outcome-model chains (default 4)")
    p.add_argument("--seed", type=_seed, default=0, help="outcome-model seed (default 0)")
    p.add_argument(
        "--among", type=_by, help="comma-separated outcome levels reported as shares among themselves (two-party)"
    )
    p.add_argument(
        "--plot", help="PNG file: the first outcome level's share by group, with intervals (a US tile map by state)"
    )
    p.add_argument(
        "--outcome-fit",
        help="the outcome model's saved fit, reused while its inputs are unchanged "
        "(default: POSTERIOR_STEM.OUTCOME_STEM.outcome.nc beside the posterior)",
    )
    p.add_argument("--refit", action="store_true", help="fit the outcome model again even when a saved fit matches")
    p.add_argument("--quiet", action="store_true")

    p = sub.add_parser("score", help="fill the LLM filter's score cache and print the least plausible combinations")
    p.add_argument("spec", help="the spec file (YAML) with an llm_filter block")
    p.add_argument("--top", type=_positive_int, default=15, help="combinations to print (default 15)")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")

    p = sub.add_parser("demo", help="run the whole pipeline on the embedded CPS 1988 data")
    p.add_argument("--out", default="demo-output", help="folder for the results (default demo-output)")
    p.add_argument("--draws", type=_positive_int, default=1000)
    p.add_argument("--chains", type=_positive_int, default=4)
    p.add_argument("--seed", type=_seed, default=0)
    p.add_argument("--quiet", action="store_true")
    return parser


def _method_names() -> tuple[str, ...]:
    from populace.inference.methods import method_names

    return method_names()


def _version() -> str:
    from populace import __version__

    return __version__


def _cmd_fit(args: argparse.Namespace) -> int:
    from populace.inference.fit import fit
    from populace.spec import Spec

    spec = Spec.from_yaml(args.spec)
    out = pathlib.Path(args.out)
    if not out.resolve().parent.is_dir():
        raise PopulaceInputError("the output folder does not exist", file=str(out))
    post = fit(spec, method=args.method, draws=args.draws, chains=args.chains, seed=args.seed, progress=not args.quiet)
    post.to_netcdf(out)
    if not args.quiet:
        print(f"populace: wrote {out}", file=sys.stderr)
    return EXIT_OK


def _cmd_score(args: argparse.Namespace) -> int:
    from populace.data.inputs import load_inputs
    from populace.llm_filter.assemble import least_plausible
    from populace.llm_filter.build import spec_terms
    from populace.spec import Spec

    spec = Spec.from_yaml(args.spec)
    if spec.llm_filter is None:
        raise PopulaceInputError("the spec has no 'llm_filter' block: nothing to score", file=args.spec)
    terms, options = spec_terms(spec, load_inputs(spec), progress=not args.quiet)
    levels = {a.name: a.levels for a in spec.attributes}
    print(f"# {len(terms)} scored terms ({options.scorer}, {options.mode}); least plausible first")
    print("score,combination")
    for text, score in least_plausible(terms, levels, args.top):
        print(f'{score:.3f},"{text}"')
    return EXIT_OK


def _write_table(table: object, out: str | None) -> None:
    """Write a table as CSV to ``out`` atomically, or print it when ``out`` is None."""
    from populace.io import atomic_path

    if out:
        with atomic_path(out) as tmp:
            table.to_csv(tmp, index=False)
    else:
        buffer = io.StringIO()
        table.to_csv(buffer, index=False)
        sys.stdout.write(buffer.getvalue())


def _cmd_joint(args: argparse.Namespace) -> int:
    from populace.posterior import load

    post = load(args.posterior)
    table = post.summary(args.by, prob=args.prob)
    _write_table(table, args.out)
    return EXIT_OK


def _cmd_personas(args: argparse.Namespace) -> int:
    from populace.personas import personas, write_personas
    from populace.posterior import load

    post = load(args.posterior)
    frame = personas(post, args.n, seed=args.seed, tier=args.tier)
    write_personas(frame, args.out)
    if not args.quiet:
        print(
            f"populace: wrote {len(frame):,} personas from {frame['draw'].nunique():,} posterior draws to {args.out}",
            file=sys.stderr,
        )
    return EXIT_OK


def _cmd_check(args: argparse.Namespace) -> int:
    from populace.inference.checks import check
    from populace.outcomes import saved
    from populace.posterior import load

    if saved.is_outcome_fit(args.posterior):
        model, _ = saved.load_outcome(args.posterior)
        checks = saved.outcome_checks(model)
        for name, ok, detail in checks:
            print(f"{'ok  ' if ok else 'FAIL'} {name}: {detail}")
        for line in saved.advice(model):
            print(f"what to do: {line}")
        return EXIT_OK if all(ok for _, ok, _ in checks) else EXIT_FAILED
    post = load(args.posterior)
    report = check(post)
    print(report.text())
    if args.out:
        report.write(args.out)
        if not args.quiet:
            print(f"populace: wrote the report and plots to {args.out}", file=sys.stderr)
    return EXIT_OK if report.ok else EXIT_FAILED


def _cmd_forecast(args: argparse.Namespace) -> int:
    from populace.outcomes.forecast import forecast
    from populace.outcomes.spec import OutcomeSpec
    from populace.posterior import load

    post = load(args.posterior)
    outcome = OutcomeSpec.from_yaml(args.outcome)
    post.spec.check_by(list(outcome.by if args.by is None else args.by))  # before a fit, not after
    model = None if outcome.simulator is not None else _outcome_fit(args, post, outcome)
    table = forecast(
        post,
        outcome,
        by=args.by,
        prob=args.prob,
        draws=args.draws,
        chains=args.chains,
        seed=args.seed,
        model=model,
        among=args.among,
        progress=not args.quiet,
    )
    if args.plot:
        from populace.plots import forecast_plot

        level = args.among[0] if args.among else outcome.levels[0]
        forecast_plot(table, level, pathlib.Path(args.plot))
    _write_table(table, args.out)
    return EXIT_OK


def _outcome_fit(args: argparse.Namespace, post: object, outcome: object) -> object:
    """The outcome model: the saved fit when its key matches (and not ``--refit``), else a new fit, saved."""
    from populace.outcomes import saved
    from populace.outcomes.forecast import outcome_model

    path = pathlib.Path(args.outcome_fit) if args.outcome_fit else saved.default_path(args.posterior, args.outcome)
    text = pathlib.Path(args.outcome).read_text(encoding="utf-8-sig")
    key = saved.fit_key(post, outcome, text, draws=args.draws, chains=args.chains, seed=args.seed)
    model = None
    if path.is_file():
        # read once; a file there that is not an outcome fit is an error, never overwritten
        model, saved_key = saved.load_outcome(path)
        if args.refit:
            model = None
        elif saved_key == key:
            seconds = model.diagnostics.get("fit_seconds", 0)
            _note(args, f"populace: reusing the outcome fit in {path} (fitted in {seconds:.0f} s)")
        else:
            _note(args, f"populace: {path} was fitted on other inputs or settings: fitting again")
            model = None
    if model is None:
        model = outcome_model(
            post, outcome, draws=args.draws, chains=args.chains, seed=args.seed, progress=not args.quiet
        )
        saved.save_outcome(model, path, key)
        _note(args, f"populace: outcome fit saved to {path} ({model.diagnostics['fit_seconds']:.0f} s)")
    for line in saved.advice(model):
        print(f"populace: warning: {line}", file=sys.stderr)
    return model


def _note(args: argparse.Namespace, text: str) -> None:
    if not args.quiet:
        print(text, file=sys.stderr)


def _cmd_demo(args: argparse.Namespace) -> int:
    from populace.demo import run_demo

    return run_demo(
        pathlib.Path(args.out), draws=args.draws, chains=args.chains, seed=args.seed, progress=not args.quiet
    )


COMMANDS = {
    "fit": _cmd_fit,
    "joint": _cmd_joint,
    "personas": _cmd_personas,
    "check": _cmd_check,
    "forecast": _cmd_forecast,
    "demo": _cmd_demo,
    "score": _cmd_score,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return COMMANDS[args.command](args)
    except PopulaceInputError as exc:
        print(f"populace: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except FitError as exc:
        print(f"populace: fit failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("populace: interrupted; no output was written", file=sys.stderr)
        return 130


def run() -> None:
    """Console-script entry point."""
    raise SystemExit(main())


if __name__ == "__main__":
    run()
