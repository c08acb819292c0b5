"""Fuzz the spec and CSV readers: every input must load or fail with a one-line input error.

Mutates the embedded CPS 1988 example (byte flips, truncation, random unicode, BOMs,
other encodings, duplicated headers and rows, NaN/negative/huge counts, very long
files) and runs the full input check on each. Anything but success or a
``PopulaceInputError`` with a one-line message is a failure. Writes the counts to
benchmarks/results/fuzz.json and the ``fuzz`` section of BENCHMARKS.md.

Run: python benchmarks/fuzz_readers.py [--seconds 120] [--seed 0]   (--report results/fuzz.json: the section only)
"""

from __future__ import annotations

import argparse
import json
import math
import pathlib
import random
import shutil
import tempfile
import time
import traceback

import harness

from populace.data.examples import example_spec_path
from populace.data.inputs import load_inputs
from populace.errors import PopulaceInputError
from populace.spec import Spec

SECTION = "fuzz"
FILES = ["spec.yaml", "region_ethnicity.csv", "region_smsa.csv", "education_parttime.csv", "wage.csv", "sample.csv"]


def mutate(data: bytes, rng: random.Random) -> bytes:
    """Apply one random corruption to a file's bytes."""
    text = data.decode("utf-8", errors="replace")
    lines = text.splitlines(keepends=True)
    kind = rng.randrange(12)
    if kind == 0 and data:
        i = rng.randrange(len(data))
        return data[:i] + bytes([rng.randrange(256)]) + data[i + 1 :]
    if kind == 1:
        return data[: rng.randrange(len(data) + 1)]
    if kind == 2:
        junk = "".join(chr(rng.choice([rng.randrange(32, 127), rng.randrange(0xA0, 0x2FFF)])) for _ in range(8))
        i = rng.randrange(len(text) + 1)
        return (text[:i] + junk + text[i:]).encode("utf-8")
    if kind == 3:
        return b"\xef\xbb\xbf" + data
    if kind == 4:
        return text.encode(rng.choice(["latin-1", "utf-16", "utf-32", "cp1252"]), errors="replace")
    if kind == 5 and lines:
        return (lines[0] + text).encode("utf-8")  # header twice
    if kind == 6 and len(lines) > 1:
        return (text + rng.choice(lines[1:])).encode("utf-8")  # duplicated row
    if kind == 7 and len(lines) > 1:
        i = rng.randrange(1, len(lines))
        value = rng.choice(["nan", "-5", "1e999", "", "NaN", "inf", "1,5", "ten", "-0", "1e308"])
        parts = lines[i].rstrip("\r\n").split(",")
        parts[rng.randrange(len(parts))] = value
        lines[i] = ",".join(parts) + "\n"
        return "".join(lines).encode("utf-8")
    if kind == 8 and len(lines) > 1:
        return (lines[0] + "".join(rng.choice(lines[1:]) for _ in range(rng.choice([1000, 50_000])))).encode()
    if kind == 9:
        return text.replace(",", rng.choice([";", "\t", ",,", '","'])).encode("utf-8")
    if kind == 10:
        return text.replace("\n", rng.choice(["\r\n", "\r", "\n\n"])).encode("utf-8")
    return text.replace(rng.choice([":", "-", "[", "{", "'"]), rng.choice(["", "::", "]", "}", '"'])).encode()


def one_line(message: str) -> bool:
    """True when an error message is a single non-empty line."""
    return bool(message.strip()) and "\n" not in message.strip()


def run(seconds: float, seed: int) -> dict:
    """Fuzz for ``seconds``; return the counts and the first failures."""
    rng = random.Random(seed)
    source = example_spec_path().parent
    tried = loaded = refused = 0
    failures: list[dict] = []
    end = time.time() + seconds
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp) / "ex"
        while time.time() < end:
            shutil.rmtree(work, ignore_errors=True)
            shutil.copytree(source, work)
            name = rng.choice(FILES)
            for _ in range(rng.choice([1, 1, 2, 3])):
                path = work / name
                path.write_bytes(mutate(path.read_bytes(), rng) if path.exists() else b"")
            tried += 1
            try:
                inputs = load_inputs(Spec.from_yaml(work / "spec.yaml"))
                numbers = [inputs.population] + [t.counts.sum() for t in inputs.tables]
                if inputs.sample is not None:
                    numbers.append(inputs.sample.n_effective)
                if not all(math.isfinite(float(x)) for x in numbers):
                    failures.append({"file": name, "error": "loaded with non-finite numbers", "message": ""})
                loaded += 1
            except PopulaceInputError as exc:
                refused += 1
                if not one_line(str(exc)):
                    failures.append({"file": name, "error": "multi-line message", "message": str(exc)[:300]})
            except Exception as exc:  # noqa: BLE001 - any other exception is what the fuzz looks for
                failures.append(
                    {
                        "file": name,
                        "error": type(exc).__name__,
                        "message": str(exc)[:300],
                        "where": traceback.format_exc(limit=-2)[-600:],
                    }
                )
    return {
        "inputs_tried": tried,
        "loaded": loaded,
        "refused_cleanly": refused,
        "failures": len(failures),
        "first_failures": failures[:10],
        "seconds": seconds,
        "seed": seed,
    }


def render(result: dict) -> str:
    """The fuzz section of BENCHMARKS.md."""
    return (
        "## Reader fuzzing (issue 7)\n\n"
        f"`python benchmarks/fuzz_readers.py --seconds {result['seconds']:.0f} --seed {result['seed']}` mutated the "
        "embedded example's spec and tables (byte flips, truncation, unicode, BOMs, other encodings, duplicated "
        "headers and rows, NaN/negative/huge counts, long files) and ran the full input check on each.\n\n"
        + harness.table(
            ["inputs tried", "loaded", "refused with a one-line input error", "other exceptions"],
            [
                [
                    f"{result['inputs_tried']:,}",
                    f"{result['loaded']:,}",
                    f"{result['refused_cleanly']:,}",
                    str(result["failures"]),
                ]
            ],
        )
    )


def main() -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-markdown", action="store_true")
    parser.add_argument("--report", type=pathlib.Path, help="rewrite the section from a saved results JSON")
    args = parser.parse_args()
    if args.report:
        harness.write_section(harness.PAGE, SECTION, render(harness.read_json(args.report)))
        return 0
    result = run(args.seconds, args.seed)
    harness.save_json(harness.RESULTS / "fuzz.json", result)
    if not args.no_markdown:
        harness.write_section(harness.PAGE, SECTION, render(result))
    print(json.dumps({k: v for k, v in result.items() if k != "first_failures"}))
    for failure in result["first_failures"]:
        print(json.dumps(failure))
    return 1 if result["failures"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
