"""Rule search_catalogue: merged candidates, cross-matches, completeness, purity, sky map, tables."""

from deepcee.core.contracts import read_table
from deepcee.core.files import run_script
from deepcee.search.export import write_fits, write_footprint_moc, write_votable
from deepcee.search.report import build_catalogue


def main(snakemake):
    o = snakemake.output
    out = {
        "candidates": o.candidates,
        "summary": o.summary,
        "completeness_richness": o.completeness_richness,
        "completeness_z": o.completeness_z,
        "purity": o.purity,
        "new_csv": o.new_csv,
        "new_tex": o.new_tex,
        "fig_completeness": [o.fig_completeness_pdf, o.fig_completeness_png],
        "fig_purity": [o.fig_purity_pdf, o.fig_purity_png],
        "fig_skymap": [o.fig_skymap_pdf, o.fig_skymap_png],
        "injection_completeness": o.injection_completeness,
        "fig_injection": [o.fig_injection_pdf, o.fig_injection_png],
        "confirmation": o.confirmation,
        "fig_confirmation": [o.fig_confirmation_pdf, o.fig_confirmation_png],
    }
    build_catalogue(
        snakemake.params.config,
        snakemake.input.tiles,
        snakemake.input.detections,
        snakemake.input.stats,
        snakemake.input.mcxc,
        out,
        calibration_path=getattr(snakemake.input, "calibration", None),
        injected_path=snakemake.input.injected,
    )
    candidates = read_table("candidates", o.candidates)
    write_fits(candidates, o.candidates_fits)
    write_votable(candidates, o.candidates_votable)
    tiles = read_table("tiles", snakemake.input.tiles)
    area = write_footprint_moc(tiles, o.footprint_moc)
    print(f"candidates as FITS and VOTable; footprint MOC of {area:.3f} deg2")


run_script(main, snakemake)
