"""Rule images_real_fields: the SDSS fields of one role, aligned and binned to the project's pixel scale."""

from deepcee.core.files import run_script, write_json
from deepcee.images.mock.real_fields import prepare_fields


def main(sm):
    fields = prepare_fields(sm.params.folders, float(sm.params.pixel_scale_arcsec), sm.params.fits_dir, sm.threads)
    write_json(sm.output.manifest, {"role": sm.wildcards.role, "fields": fields})
    for f in fields:
        print(f"{f['field']}: {f['shape'][1]} x {f['shape'][0]} px, b = {f['galactic_b']:+.1f} deg -> {f['fits']}")


run_script(main, snakemake)
