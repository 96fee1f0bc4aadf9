"""What the Android core (android_demo/core) is checked against: the test vectors Python writes from a
bundle, for its tokenizers (tokenizer_vectors) and its per-head decoders (decode_vectors)."""

# BundleInfo.open (android_demo/core) refuses a DeFormer bundle with this very line
DEFORMER_REFUSAL = ("manifest.json: model.decompose: a DeFormer bundle runs two graphs (the passage's states fed "
                    "to the question's) and the Android core runs one; export the recipe without decompose for the app")


def check_undecomposed(manifest: dict) -> None:
    """Refuse a DeFormer bundle in one line, as the Android core does: its vectors would describe
    a bundle the app cannot open."""
    from ..errors import BundleError

    if manifest["model"].get("decompose") is not None:
        raise BundleError(DEFORMER_REFUSAL)
