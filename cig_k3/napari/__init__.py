"""CIG's napari plugin (npe2): draw or load labels in napari, get a synthetic image beside them.

The manifest `napari.yaml` beside this file declares, under the entry point
`napari.manifest: cig = cig_k3.napari:napari.yaml` (installed with `pip install "cig[napari]"`):
- the widget "Generate from labels" (`widget.generate_widget`): a model (a run folder or
  generator.keras), a labels layer, a style image for generators that take one, samples K,
  tile size and seed -> an image layer named after the model in the data's intensity scale,
  plus mean and std layers for K >= 2; the work is `generate.generate_from_labels`, napari-free;
- the widget "Sample masks like these" (`masks_widget.sample_masks_widget`): `cig masks` for
  a shard folder -> a labels layer (`masks.sample_masks`);
- the sample data "Synthetic nuclei" (`sample_data.synthetic_nuclei`).

Nothing here is imported by the rest of CIG; napari, magicgui and Qt are needed only by the
widget modules.
"""
