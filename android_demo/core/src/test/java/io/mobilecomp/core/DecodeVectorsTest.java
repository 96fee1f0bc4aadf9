package io.mobilecomp.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.fail;

import java.io.BufferedReader;
import java.io.File;
import java.io.FileInputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.Assume;
import org.junit.Test;

/**
 * Decoding parity: for every vector mobilecomp wrote (mobilecomp decode-vectors: a head's outputs and
 * the answer Python decodes from them), the core's decoder gives the same answer. One mismatch fails.
 *
 * <p>System properties: mobilecomp.decodeVectors (vector files, joined by the path separator) and
 * mobilecomp.decodeBundles (each file's bundle, or "-" for question answering, whose logits are drawn).
 * Without them (run-tests.sh without DECODE_VECTORS) the test is skipped.
 */
public class DecodeVectorsTest {

    /** The vector files and their bundles ("-": none), or the test is skipped when none were given. */
    private static String[][] given() {
        String files = System.getProperty("mobilecomp.decodeVectors", "");
        Assume.assumeTrue("no decode vectors given (run-tests.sh takes them in DECODE_VECTORS)", !files.isEmpty());
        String[] vectors = files.split(File.pathSeparator);
        String[] bundles = System.getProperty("mobilecomp.decodeBundles", "").split(File.pathSeparator);
        assertEquals("a bundle (or -) for each decode vector file", vectors.length, bundles.length);
        return new String[][] {vectors, bundles};
    }

    @Test
    public void everyDecodedAnswerMatchesPython() throws Exception {
        String[][] given = given();
        String[] vectors = given[0];
        String[] bundles = given[1];
        List<String> failures = new ArrayList<String>();
        for (int i = 0; i < vectors.length; i++) {
            String failure = check(new File(vectors[i]), bundles[i].equals("-") ? null : new File(bundles[i]));
            if (failure != null) {
                failures.add(failure);
            }
        }
        if (!failures.isEmpty()) {
            fail(String.join("\n", failures));
        }
    }

    /**
     * The app's path on real outputs: Heads.prepare packs the text, Heads.answer decodes the model's
     * outputs (the vectors' logits, as float[] as a runtime gives them) into the words and tags or
     * the best words at the mask that Python decoded.
     */
    @Test
    public void headsAnswerWithPythonsDecoding() throws Exception {
        String[][] given = given();
        String[] vectors = given[0];
        String[] bundles = given[1];
        int checked = 0;
        for (int i = 0; i < vectors.length; i++) {
            if (bundles[i].equals("-")) {
                continue;
            }
            BundleInfo bundle = BundleInfo.open(new File(bundles[i]));
            File file = new File(vectors[i]);
            BufferedReader in = new BufferedReader(new InputStreamReader(new FileInputStream(file), StandardCharsets.UTF_8));
            Map<String, Object> header = Json.parseObject(in.readLine());
            Map<String, Npz.Array> arrays = Npz.read(new File(file.getParentFile(), (String) header.get("npz")));
            String line;
            while ((line = in.readLine()) != null) {
                Map<String, Object> v = Json.parseObject(line);
                String id = (String) v.get("id");
                Map<String, float[]> outputs = new LinkedHashMap<String, float[]>();
                outputs.put(bundle.primaryOutput, floats(arrays.get(id + ".logits").values));
                if (bundle.head.equals("token-classifier")) {
                    StringBuilder text = new StringBuilder();
                    List<String> want = new ArrayList<String>();
                    List<?> words = (List<?>) v.get("words");
                    List<?> labels = (List<?>) v.get("labels");
                    for (int w = 0; w < words.size(); w++) {
                        text.append(w == 0 ? "" : " ").append(words.get(w));
                        if (w < labels.size()) {
                            want.add(words.get(w) + "/" + labels.get(w));
                        }
                    }
                    Heads.Input input = Heads.prepare(bundle, text.toString(), null);
                    assertEquals(id, want, Heads.answer(bundle, input, outputs).items);
                    checked++;
                } else if (((Long) v.get("k")).intValue() >= Heads.TOP_K) {
                    String text = (String) v.get("text");
                    Heads.Input input = Heads.prepare(bundle, "[MASK] " + text, null);
                    List<String> want = new ArrayList<String>();
                    for (Object t : ((List<?>) v.get("top_tokens")).subList(0, Heads.TOP_K)) {
                        want.add((String) t);
                    }
                    Answer answer = Heads.answer(bundle, input, outputs);
                    assertEquals(id, want, answer.items);
                    assertEquals(id + ": the mask's position", 1, answer.positions[0]);
                    checked++;
                }
            }
            in.close();
        }
        Assume.assumeTrue("no bundle-backed decode vectors", checked > 0);
        System.out.println("heads answers: " + checked + " match Python's decoding");
    }

    private static float[] floats(double[] values) {
        float[] out = new float[values.length];
        for (int i = 0; i < values.length; i++) {
            out[i] = (float) values[i];
        }
        return out;
    }

    /** One vector file against its bundle; null when every answer matched. */
    private static String check(File file, File bundleDir) throws Exception {
        List<Map<String, Object>> records = new ArrayList<Map<String, Object>>();
        Map<String, Object> header;
        BufferedReader in = new BufferedReader(new InputStreamReader(new FileInputStream(file), StandardCharsets.UTF_8));
        try {
            header = Json.parseObject(in.readLine());
            String line;
            while ((line = in.readLine()) != null) {
                if (!line.trim().isEmpty()) {
                    records.add(Json.parseObject(line));
                }
            }
        } finally {
            in.close();
        }
        assertEquals("vector file format", "mobilecomp-decode-vectors/1", header.get("format"));
        String head = (String) header.get("head");
        File npz = new File(file.getParentFile(), (String) header.get("npz"));
        assertEquals(npz + ": not the arrays the vector file was written with", header.get("npz_sha256"),
                Vocabulary.sha256Hex(Vocabulary.readAll(new FileInputStream(npz))));
        Map<String, Npz.Array> arrays = Npz.read(npz);
        BundleInfo bundle = bundleDir == null ? null : BundleInfo.open(bundleDir);
        if (bundle != null) {
            assertEquals("vectors were made from another bundle's head", bundle.head, head);
            assertEquals("vectors were made with another vocabulary", bundle.vocabSha256, header.get("vocab_sha256"));
        }
        Map<String, Integer> sources = new LinkedHashMap<String, Integer>();
        List<String> mismatches = new ArrayList<String>();
        for (Map<String, Object> v : records) {
            String id = (String) v.get("id");
            String source = (String) v.get("source");
            sources.put(source, sources.containsKey(source) ? sources.get(source) + 1 : 1);
            String diff;
            try {
                if (head.equals("question-answering")) {
                    diff = span(v, arrays, id);
                } else if (head.equals("token-classifier")) {
                    diff = tags(v, arrays, id, bundle);
                } else if (head.equals("fill-mask")) {
                    diff = topK(v, arrays, id, bundle);
                } else {
                    return file + ": no decoder test for head '" + head + "'";
                }
            } catch (RuntimeException ex) {
                diff = ex.toString();
            }
            if (diff != null) {
                mismatches.add(id + ": " + diff);
            }
        }
        assertEquals(file + ": records against the header's count", ((Number) ((Map<?, ?>) header.get("counts"))
                .get("total")).intValue(), records.size());
        StringBuilder summary = new StringBuilder();
        for (Map.Entry<String, Integer> e : sources.entrySet()) {
            summary.append(summary.length() == 0 ? "" : ", ").append(e.getValue()).append(' ').append(e.getKey());
        }
        System.out.println("decode vectors (" + head + "): " + (records.size() - mismatches.size()) + "/"
                + records.size() + " match (" + summary + ")");
        if (mismatches.isEmpty()) {
            return null;
        }
        StringBuilder msg = new StringBuilder(mismatches.size() + " of " + records.size() + " " + head
                + " vectors decode differently from Python:");
        for (String m : mismatches.subList(0, Math.min(10, mismatches.size()))) {
            msg.append("\n  ").append(m);
        }
        return msg.toString();
    }

    private static String span(Map<String, Object> v, Map<String, Npz.Array> arrays, String id) {
        double[] allowedRaw = arrays.get(id + ".allowed").values;
        boolean[] allowed = new boolean[allowedRaw.length];
        for (int i = 0; i < allowed.length; i++) {
            allowed[i] = allowedRaw[i] != 0;
        }
        int[] got = SpanDecoder.bestSpan(arrays.get(id + ".start_logits").values, arrays.get(id + ".end_logits").values,
                allowed, ((Long) v.get("max_answer_len")).intValue());
        return same("span", ints(v.get("span")), got);
    }

    private static String tags(Map<String, Object> v, Map<String, Npz.Array> arrays, String id, BundleInfo bundle) {
        List<String> words = new ArrayList<String>();
        for (Object w : (List<?>) v.get("words")) {
            words.add((String) w);
        }
        WordLabels.Encoded encoded = WordLabels.encodeWords(bundle.tokenizer, words, bundle.seqLen);
        int[] wantIds = ints(arrays.get(id + ".input_ids").values);
        String diff = same("input_ids", wantIds, encoded.encoding.inputIds);
        diff = diff != null ? diff : same("first subwords", ints(v.get("starts")), encoded.starts);
        if (diff != null) {
            return diff;
        }
        Npz.Array logits = arrays.get(id + ".logits");
        int[] labels = WordLabels.labels(logits.values, logits.shape[1], encoded.starts);
        diff = same("label ids", ints(v.get("label_ids")), labels);
        if (diff != null) {
            return diff;
        }
        List<String> names = new ArrayList<String>();
        for (int label : labels) {
            names.add(bundle.label(label));
        }
        return names.equals(v.get("labels")) ? null : "tags python " + v.get("labels") + " java " + names;
    }

    private static String topK(Map<String, Object> v, Map<String, Npz.Array> arrays, String id, BundleInfo bundle) {
        int[] got = TopK.topK(arrays.get(id + ".logits").values, ((Long) v.get("k")).intValue());
        String diff = same("top-k ids", ints(v.get("top_ids")), got);
        if (diff != null) {
            return diff;
        }
        List<String> tokens = new ArrayList<String>();
        for (int t : got) {
            tokens.add(bundle.tokenizer.token(t));
        }
        return tokens.equals(v.get("top_tokens")) ? null : "top-k tokens differ";
    }

    private static String same(String what, int[] want, int[] got) {
        if (Arrays.equals(want, got)) {
            return null;
        }
        int at = 0;
        while (at < Math.min(want.length, got.length) && want[at] == got[at]) {
            at++;
        }
        String shown = want.length > 12 ? " (" + want.length + " python, " + got.length + " java)"
                : "; python " + Arrays.toString(want) + " java " + Arrays.toString(got);
        return what + " differ at " + at + shown;
    }

    private static int[] ints(Object values) {
        if (values instanceof double[]) {
            double[] d = (double[]) values;
            int[] out = new int[d.length];
            for (int i = 0; i < d.length; i++) {
                out[i] = (int) d[i];
            }
            return out;
        }
        List<?> l = (List<?>) values;
        int[] out = new int[l.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ((Long) l.get(i)).intValue();
        }
        return out;
    }
}
