"""The npe2 manifest: valid, found through the installed entry point, and every command's
python_name imports."""

from pathlib import Path

import pytest

import cig_k3.napari

pytestmark = pytest.mark.backend_independent

MANIFEST = Path(cig_k3.napari.__file__).with_name("napari.yaml")


def test_manifest_validates_and_its_commands_import():
    npe2 = pytest.importorskip("npe2")  # a safety net: make test installs the napari extra

    manifest = npe2.PluginManifest.from_file(MANIFEST)
    manifest.validate_imports()  # what `npe2 validate --imports` does; raises naming the command
    commands = {command.id: command.title for command in manifest.contributions.commands}
    assert commands == {"cig.generate_from_labels": "Generate from labels",
                        "cig.sample_masks": "Sample masks like these",
                        "cig.synthetic_nuclei": "Synthetic nuclei and their labels"}
    assert [widget.display_name for widget in manifest.contributions.widgets] == [
        "Generate from labels", "Sample masks like these"]
    assert [sample.key for sample in manifest.contributions.sample_data] == ["synthetic_nuclei"]


def test_installed_entry_point_is_this_manifest():
    npe2 = pytest.importorskip("npe2")

    installed = npe2.PluginManifest.from_distribution("cig")
    assert installed.name == "cig" and installed.display_name == "CIG"
    assert installed.contributions == npe2.PluginManifest.from_file(MANIFEST).contributions
