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
import java.util.List;
import java.util.Map;

import org.junit.Test;

/**
 * Tokenizer parity: every vector that mobilecomp wrote from a bundle's Python tokenizer
 * (mobilecomp tokenizer-vectors) must come out of the bundle's {@link Tokenizer} id for id,
 * for every tokenizer kind given. One mismatch fails.
 *
 * <p>System properties: mobilecomp.vectors and mobilecomp.bundle (one vector file and its
 * bundle), or mobilecomp.allVectors and mobilecomp.allBundles (several, joined by the path
 * separator, pairwise), and mobilecomp.minReal (default 500, per vector file).
 */
public class TokenizerVectorsTest {

    private static String property(String key) {
        String value = System.getProperty(key);
        if (value == null || value.isEmpty()) {
            fail("set -D" + key + " (run-tests.sh VECTORS BUNDLE does)");
        }
        return value;
    }

    private static String[] list(String key, String fallback) {
        String all = System.getProperty(key);
        return all == null || all.isEmpty() ? new String[] {property(fallback)} : all.split(File.pathSeparator);
    }

    @Test
    public void everyVectorMatchesPython() throws Exception {
        String[] vectorFiles = list("mobilecomp.allVectors", "mobilecomp.vectors");
        String[] bundles = list("mobilecomp.allBundles", "mobilecomp.bundle");
        assertEquals("as many bundles as vector files", vectorFiles.length, bundles.length);
        int minReal = Integer.parseInt(System.getProperty("mobilecomp.minReal", "500"));
        List<String> failures = new ArrayList<String>();
        for (int i = 0; i < vectorFiles.length; i++) {
            String failure = check(new File(vectorFiles[i]), new File(bundles[i]), minReal);
            if (failure != null) {
                failures.add(failure);
            }
        }
        if (!failures.isEmpty()) {
            StringBuilder msg = new StringBuilder();
            for (String f : failures) {
                msg.append(msg.length() == 0 ? "" : "\n").append(f);
            }
            fail(msg.toString());
        }
    }

    /** Checks one vector file against its bundle; null when every vector matched. */
    private static String check(File vectors, File bundleDir, int minReal) throws Exception {
        BundleInfo bundle = BundleInfo.open(bundleDir);
        Tokenizer tokenizer = bundle.tokenizer;
        int total = 0;
        int real = 0;
        List<String> mismatches = new ArrayList<String>();
        BufferedReader in = new BufferedReader(new InputStreamReader(new FileInputStream(vectors), StandardCharsets.UTF_8));
        try {
            Map<String, Object> header = Json.parseObject(in.readLine());
            assertEquals("vector file format", "mobilecomp-tokenizer-vectors/1", header.get("format"));
            assertEquals("vectors were made with another vocabulary than the bundle's",
                    bundle.vocabSha256, header.get("vocab_sha256"));
            assertEquals("longest_first", header.get("truncation"));
            if (header.get("kind") != null) {
                assertEquals("vectors were made for another tokenizer kind", bundle.tokenizerKind, header.get("kind"));
            }
            String line;
            while ((line = in.readLine()) != null) {
                if (line.trim().isEmpty()) {
                    continue;
                }
                Map<String, Object> v = Json.parseObject(line);
                total++;
                if (!String.valueOf(v.get("source")).startsWith("hard:")) {
                    real++;
                }
                String text = (String) v.get("text");
                String pair = (String) v.get("text_pair");
                int maxLength = ((Long) v.get("max_length")).intValue();
                String id = (String) v.get("id");
                Encoding got;
                try {
                    got = tokenizer.encode(text, pair, maxLength);
                } catch (RuntimeException ex) {
                    mismatches.add(id + ": " + ex);
                    continue;
                }
                compare(mismatches, id, "input_ids", ints(v.get("input_ids")), got.inputIds, tokenizer);
                compare(mismatches, id, "attention_mask", ints(v.get("attention_mask")), got.attentionMask, null);
                compare(mismatches, id, "token_type_ids", ints(v.get("token_type_ids")), got.tokenTypeIds, null);
            }
        } finally {
            in.close();
        }
        System.out.println("tokenizer vectors (" + bundle.tokenizerKind + "): " + (total - mismatches.size()) + "/" + total
                + " match (" + real + " real-text, " + (total - real) + " hard cases), vocab " + bundle.vocabSha256);
        if (!mismatches.isEmpty()) {
            StringBuilder msg = new StringBuilder(mismatches.size() + " of " + total + " " + bundle.tokenizerKind
                    + " vectors differ from Python:");
            for (String m : mismatches.subList(0, Math.min(10, mismatches.size()))) {
                msg.append("\n  ").append(m);
            }
            return msg.toString();
        }
        return real >= minReal ? null
                : "only " + real + " real-text " + bundle.tokenizerKind + " vectors; parity needs >= " + minReal;
    }

    private static void compare(List<String> out, String id, String field, int[] want, int[] got, Tokenizer tok) {
        if (Arrays.equals(want, got)) {
            return;
        }
        int at = 0;
        while (at < Math.min(want.length, got.length) && want[at] == got[at]) {
            at++;
        }
        String detail = "";
        if (tok != null && at < want.length && at < got.length) {
            detail = " (python '" + tok.token(want[at]) + "', java '" + tok.token(got[at]) + "')";
        }
        out.add(id + ": " + field + " differs at position " + at + detail + "; python " + Arrays.toString(want)
                + " java " + Arrays.toString(got));
    }

    private static int[] ints(Object list) {
        List<?> l = (List<?>) list;
        int[] out = new int[l.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ((Long) l.get(i)).intValue();
        }
        return out;
    }
}
