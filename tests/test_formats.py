"""The format registry: every stage implements every registered format, and each format describes
and names the runtime of a real artefact of its own."""

from __future__ import annotations

import pytest

from mobilecomp.formats import FORMATS


def test_every_stage_implements_every_format():
    from mobilecomp.export import EXPORTERS
    from mobilecomp.profile.host import HOST_RUNNERS
    from mobilecomp.quantise import VARIANTS
    from mobilecomp.verify import RUNNERS

    for stage, registry in (("export.EXPORTERS", EXPORTERS), ("quantise.VARIANTS", VARIANTS),
                            ("verify.RUNNERS", RUNNERS), ("profile.host.HOST_RUNNERS", HOST_RUNNERS)):
        assert set(registry) == set(FORMATS), f"{stage} has {sorted(registry)}, the registry {sorted(FORMATS)}"
    assert all("fp32" in VARIANTS[fmt] for fmt in FORMATS)  # every format's variants start from its fp32 file


def test_formats_have_distinct_suffixes_and_runtimes():
    assert len({f.suffix for f in FORMATS.values()}) == len(FORMATS)
    assert len({f.runtime for f in FORMATS.values()}) == len(FORMATS)
    assert all(f.suffix.startswith(".") and f.name == name for name, f in FORMATS.items())


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_runtime_version_names_an_installed_runtime(fmt):
    runtime = FORMATS[fmt].runtime_version()
    assert runtime["name"] and runtime["version"][0].isdigit()


def test_onnx_describes_its_file(tiny_bundle):
    import json

    manifest = json.loads((tiny_bundle / "manifest.json").read_text())
    art = next(a for a in manifest["artefacts"] if a["format"] == "onnx")
    opset, op_types, lint = FORMATS["onnx"].describe(tiny_bundle / art["file"])
    assert opset == art["opset"] and op_types == art["op_types"] and lint is None
    assert op_types.get("MatMul", 0) + op_types.get("MatMulInteger", 0) > 0
