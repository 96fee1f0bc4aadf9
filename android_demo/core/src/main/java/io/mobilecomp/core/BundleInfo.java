package io.mobilecomp.core;

import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A mobilecomp bundle as the app sees it: manifest.json read, the tokenizer file it names
 * (vocab.txt for WordPiece, tokenizer.json for byte-level BPE and Unigram) checked against the
 * manifest's vocab_sha256 (a mismatch is refused: the ids would silently be wrong), and the
 * tokenizer of the manifest's kind built from it. A tokenizer this core does not implement is
 * refused with one line naming the component.
 */
public final class BundleInfo {

    /** One artefact entry of the manifest. */
    public static final class Artefact {
        public final String name;
        public final String format;
        public final String variant;
        public final String file;
        public final String sha256;
        public final boolean passed;
        /**
         * Fixed-length entry points and their sequence lengths: a .tflite's signatures or a .pte's
         * methods (seq32 -> 32, ...) from the artefact's details; empty for ONNX (any length).
         */
        public final Map<String, Integer> lengths;

        Artefact(Map<String, Object> raw) throws BundleException {
            name = str(raw, "name", "artefacts[]");
            format = str(raw, "format", "artefacts[" + name + "]");
            variant = str(raw, "variant", "artefacts[" + name + "]");
            file = str(raw, "file", "artefacts[" + name + "]");
            sha256 = raw.get("sha256") instanceof String ? (String) raw.get("sha256") : null;
            passed = !Boolean.FALSE.equals(raw.get("passed"));
            lengths = entryLengths(raw, "artefacts[" + name + "].details");
        }

        @SuppressWarnings("unchecked")
        private static Map<String, Integer> entryLengths(Map<String, Object> raw, String where) throws BundleException {
            Map<String, Integer> out = new java.util.LinkedHashMap<String, Integer>();
            if (!(raw.get("details") instanceof Map)) {
                return out;
            }
            Map<String, Object> details = (Map<String, Object>) raw.get("details");
            for (String key : new String[] {"signatures", "methods"}) {
                if (!(details.get(key) instanceof Map)) {
                    continue;
                }
                for (Map.Entry<String, Object> e : ((Map<String, Object>) details.get(key)).entrySet()) {
                    if (!(e.getValue() instanceof Long) || (Long) e.getValue() < 1) {
                        throw new BundleException("manifest.json: " + where + "." + key + "." + e.getKey()
                                + " is not a positive sequence length; re-export the bundle");
                    }
                    out.put(e.getKey(), ((Long) e.getValue()).intValue());
                }
            }
            return out;
        }
    }

    public final File dir;
    public final String name;
    public final String head;
    public final int seqLen;
    public final List<String> inputs;
    public final List<String> outputs;
    public final String primaryOutput;
    public final List<Artefact> artefacts;
    public final List<String> labels;
    public final String vocabSha256;
    /** The manifest's tokenizer.kind ("wordpiece" when a manifest predates the field). */
    public final String tokenizerKind;
    public final Tokenizer tokenizer;

    private BundleInfo(File dir, Map<String, Object> manifest) throws BundleException, IOException {
        this.dir = dir;
        Map<String, Object> recipe = obj(manifest, "recipe", "manifest");
        Map<String, Object> model = obj(manifest, "model", "manifest");
        Map<String, Object> tok = obj(manifest, "tokenizer", "manifest");
        name = str(recipe, "name", "recipe");
        if (model.get("decompose") != null) {  // mobilecomp.android.DEFORMER_REFUSAL, word for word
            throw new BundleException("manifest.json: model.decompose: a DeFormer bundle runs two graphs (the "
                    + "passage's states fed to the question's) and the Android core runs one; export the recipe "
                    + "without decompose for the app");
        }
        head = str(model, "head", "model");
        seqLen = (int) num(model, "seq_len", "model");
        inputs = strings(model, "inputs");
        outputs = strings(model, "outputs");
        primaryOutput = str(model, "primary_output", "model");
        List<Artefact> arts = new ArrayList<Artefact>();
        Object rawArts = manifest.get("artefacts");
        if (!(rawArts instanceof List)) {
            throw new BundleException("manifest.json: no artefacts list");
        }
        for (Object a : (List<?>) rawArts) {
            if (!(a instanceof Map)) {
                throw new BundleException("manifest.json: an artefact is not an object");
            }
            arts.add(new Artefact(cast(a)));
        }
        artefacts = Collections.unmodifiableList(arts);
        labels = model.get("labels") instanceof List ? strings(model, "labels") : Collections.<String>emptyList();

        String vocabFile = str(tok, "vocab_file", "tokenizer");
        vocabSha256 = str(tok, "vocab_sha256", "tokenizer");
        tokenizerKind = tok.get("kind") == null ? "wordpiece" : str(tok, "kind", "tokenizer");
        File vocab = new File(dir, vocabFile);
        String wanted = tokenizerKind.equals("wordpiece") ? "vocab.txt" : "tokenizer.json";
        if (!vocab.isFile() || !vocab.getName().equals(wanted)) {
            throw new BundleException(vocab + ": missing or not a " + wanted + "; a " + tokenizerKind
                    + " tokenizer is read from its " + wanted);
        }
        String actual = Vocabulary.sha256Hex(Vocabulary.readAll(new FileInputStream(vocab)));
        checkSha256(vocabSha256, actual);
        String parent = new File(vocabFile).getParent();
        String where = (parent == null ? "" : parent.replace(File.separatorChar, '/') + "/") + "tokenizer.json";
        try {
            tokenizer = Tokenizers.forBundle(tokenizerKind, vocab);
        } catch (UnsupportedTokenizerException ex) {
            throw new BundleException(where + ": " + ex.getMessage());
        } catch (IllegalArgumentException ex) {
            throw new BundleException(where + ": " + ex.getMessage());
        }
    }

    /** Reads and checks BUNDLE/manifest.json; refuses a bundle whose vocabulary hash differs. */
    public static BundleInfo open(File dir) throws BundleException, IOException {
        File manifest = new File(dir, "manifest.json");
        if (!manifest.isFile()) {
            throw new BundleException(manifest + ": missing; is " + dir + " a mobilecomp bundle?");
        }
        try {
            return new BundleInfo(dir, Json.parseObject(readText(manifest)));
        } catch (IllegalArgumentException ex) {
            throw new BundleException(manifest + ": " + ex.getMessage());
        }
    }

    /** Throws unless the vocabulary's sha256 is the one the manifest recorded. */
    public static void checkVocabulary(String expectedSha256, Vocabulary vocabulary) throws BundleException {
        checkSha256(expectedSha256, vocabulary.sha256());
    }

    private static void checkSha256(String expectedSha256, String actual) throws BundleException {
        if (!actual.equalsIgnoreCase(expectedSha256)) {
            throw new BundleException("vocabulary sha256 " + actual + " differs from the manifest's "
                    + expectedSha256 + "; refusing the bundle (its token ids would not match the model)");
        }
    }

    /** The named artefact, or the first that passed parity in a format this runtime can run. */
    public Artefact artefact(String wanted, Set<String> formats) throws BundleException {
        List<String> names = new ArrayList<String>();
        for (Artefact a : artefacts) {
            names.add(a.name);
            if (wanted != null && a.name.equals(wanted)) {
                if (!formats.contains(a.format)) {
                    throw new BundleException("artefact " + wanted + " is " + a.format + "; this app runs " + formats);
                }
                return a;
            }
        }
        if (wanted != null) {
            throw new BundleException("bundle has no artefact '" + wanted + "' (it has: " + names + ")");
        }
        for (Artefact a : artefacts) {
            if (a.passed && formats.contains(a.format)) {
                return a;
            }
        }
        throw new BundleException("bundle has no passing artefact in " + formats + " (it has: " + names + ")");
    }

    /** The artefact's file, after checking its sha256 against the manifest. */
    public File artefactFile(Artefact a, boolean verifyHash) throws BundleException, IOException {
        File f = new File(dir, a.file);
        if (!f.isFile()) {
            throw new BundleException(f + ": missing (manifest lists it as " + a.name + ")");
        }
        if (verifyHash && a.sha256 != null) {
            String actual = Vocabulary.sha256Hex(Vocabulary.readAll(new FileInputStream(f)));
            if (!actual.equalsIgnoreCase(a.sha256)) {
                throw new BundleException(f + ": sha256 " + actual + " differs from the manifest's " + a.sha256);
            }
        }
        return f;
    }

    public String label(int index) {
        return index < labels.size() ? labels.get(index) : "LABEL_" + index;
    }

    static String readText(File file) throws IOException {
        return new String(Vocabulary.readAll(new FileInputStream(file)), StandardCharsets.UTF_8);
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> cast(Object o) {
        return (Map<String, Object>) o;
    }

    private static Map<String, Object> obj(Map<String, Object> m, String key, String where) throws BundleException {
        if (!(m.get(key) instanceof Map)) {
            throw new BundleException("manifest.json: " + where + " has no '" + key + "' object");
        }
        return cast(m.get(key));
    }

    private static String str(Map<String, Object> m, String key, String where) throws BundleException {
        if (!(m.get(key) instanceof String)) {
            throw new BundleException("manifest.json: " + where + " has no '" + key + "' string");
        }
        return (String) m.get(key);
    }

    private static long num(Map<String, Object> m, String key, String where) throws BundleException {
        if (!(m.get(key) instanceof Long)) {
            throw new BundleException("manifest.json: " + where + " has no integer '" + key + "'");
        }
        return (Long) m.get(key);
    }

    private static List<String> strings(Map<String, Object> m, String key) throws BundleException {
        List<String> out = new ArrayList<String>();
        if (!(m.get(key) instanceof List)) {
            throw new BundleException("manifest.json: model has no '" + key + "' list");
        }
        for (Object o : (List<?>) m.get(key)) {
            out.add(String.valueOf(o));
        }
        return Collections.unmodifiableList(out);
    }
}
