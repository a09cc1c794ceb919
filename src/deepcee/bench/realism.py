"""Realism benchmark: can a classifier tell mock crops from real SDSS crops? (AUC 0.5: no)

    python -m deepcee.bench.realism --json /tmp/realism.json            # statistics + logistic regression
    python -m deepcee.bench.realism --cnn --threads 2 --json /tmp/r.json  # and a small CNN on the RGB crops
    python -m deepcee.bench.realism --sky-objects real \
        --galaxy-library results/02_images/galaxy_library           # the sky's bright objects real galaxies

Every bundled SDSS field (resources/sdss-frames-run*-gri) against as many 500 px cutouts of
the one mock sky, both cut into 64 px crops at 1.584"/px; folds leave one real field out. The
method and the statistics are described in deepcee.images.realism.
"""

from __future__ import annotations

import argparse
import glob
from pathlib import Path

from deepcee.bench import add_config_arguments, at_least, positive_float, positive_int, read_configs


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_config_arguments(ap)
    ap.add_argument(
        "--fields",
        nargs="*",
        default=None,
        help="real SDSS field folders (default: every resources/sdss-frames-run*-gri); 'config' = the config's lists",
    )
    ap.add_argument("--crop", type=at_least(16), default=64, help="crop side in pixels (default 64)")
    ap.add_argument("--positions", choices=("random", "clusters"), default="random", help="where the mock cutouts lie")
    ap.add_argument("--cnn", action="store_true", help="also train the small CNN on the stretched RGB crops")
    ap.add_argument("--epochs", type=positive_int, default=4, help="CNN epochs per fold (default 4)")
    ap.add_argument("--threads", type=positive_int, default=2, help="torch threads for the CNN (default 2)")
    ap.add_argument("--bootstrap", type=positive_int, default=1000, help="bootstrap replicates (default 1000)")
    ap.add_argument(
        "--C", dest="c", type=positive_float, default=0.1, help="logistic regression's inverse regularisation"
    )
    ap.add_argument(
        "--galaxy-library",
        default=None,
        help="folder of the galaxy library (library.ecsv, stamps.npz: rule images_galaxy_library), "
        "for a config with images.mock.sky_objects: real",
    )
    ap.add_argument(
        "--sky-objects",
        choices=("galsim", "real"),
        default=None,
        help="overrides images.mock.sky_objects (real: the mock's bright objects from --galaxy-library)",
    )
    ap.add_argument("--seed", type=int, default=None, help="overrides the config's seed")
    ap.add_argument("--json", default=None, help="write the result here")
    ap.add_argument("--figure", nargs="*", default=[], help="figure paths (.png / .pdf)")
    args = ap.parse_args(argv)
    missing = [f for f in args.fields or [] if f != "config" and not Path(f).is_dir()]
    if missing:
        ap.error(f"argument --fields: {missing[0]}: no such folder")
    library = None
    if args.galaxy_library is not None:
        library = tuple(str(Path(args.galaxy_library) / name) for name in ("library.ecsv", "stamps.npz"))
        absent = [p for p in library if not Path(p).is_file()]
        if absent:
            ap.error(f"argument --galaxy-library: {absent[0]}: no such file (make it with rule images_galaxy_library)")

    from deepcee.core.files import write_json
    from deepcee.images.realism import config_fields, format_report, realism_figure, run_realism

    config = read_configs(ap, [args.config, *args.configfile])
    if args.seed is not None:
        config["seed"] = args.seed
    if args.sky_objects is not None:
        config.setdefault("images", {}).setdefault("mock", {})["sky_objects"] = args.sky_objects
    if config.get("images", {}).get("mock", {}).get("sky_objects") == "real" and library is None:
        ap.error("images.mock.sky_objects: real needs --galaxy-library (the folder rule images_galaxy_library makes)")
    if args.fields is None:
        folders = sorted(glob.glob("resources/sdss-frames-run*-gri"))
    elif args.fields == ["config"]:
        folders = config_fields(config)
    else:
        folders = args.fields
    result, X, crops = run_realism(
        config,
        folders=folders,
        crop=args.crop,
        cnn=args.cnn,
        positions=args.positions,
        replicates=args.bootstrap,
        c=args.c,
        epochs=args.epochs,
        threads=args.threads,
        galaxy_library=library,
    )
    print()
    print(format_report(result))
    if args.json:
        write_json(args.json, result)
        print(f"-> {args.json}")
    if args.figure:
        realism_figure(result, X, crops, *[Path(p) for p in args.figure])
        print(f"-> {', '.join(args.figure)}")


if __name__ == "__main__":
    main()
