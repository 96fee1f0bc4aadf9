package io.mobilecomp.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
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
 * Tokenizer parity: every vector that mobilecomp wrote from the bundle's Python tokenizer
 * (mobilecomp tokenizer-vectors) must come out of BertTokenizer id for id. One mismatch fails.
 *
 * <p>System properties: mobilecomp.vectors (the JSONL file), mobilecomp.bundle (the bundle
 * directory, for manifest.json and tokenizer/), mobilecomp.minReal (default 500).
 */
public class TokenizerVectorsTest {

    private static String property(String key) {
        String value = System.getProperty(key);
        if (value == null || value.isEmpty()) {
            fail("set -D" + key + " (run-tests.sh VECTORS BUNDLE does)");
        }
        return value;
    }

    @Test
    public void everyVectorMatchesPython() throws Exception {
        File vectors = new File(property("mobilecomp.vectors"));
        BundleInfo bundle = BundleInfo.open(new File(property("mobilecomp.bundle")));
        int minReal = Integer.parseInt(System.getProperty("mobilecomp.minReal", "500"));
        BertTokenizer tokenizer = bundle.tokenizer;

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
                Encoding got = tokenizer.encode(text, pair, maxLength);
                String id = (String) v.get("id");
                compare(mismatches, id, "input_ids", ints(v.get("input_ids")), got.inputIds, tokenizer);
                compare(mismatches, id, "attention_mask", ints(v.get("attention_mask")), got.attentionMask, null);
                compare(mismatches, id, "token_type_ids", ints(v.get("token_type_ids")), got.tokenTypeIds, null);
            }
        } finally {
            in.close();
        }
        System.out.println("tokenizer vectors: " + (total - mismatches.size()) + "/" + total + " match ("
                + real + " real-text, " + (total - real) + " hard cases), vocab " + bundle.vocabSha256);
        if (!mismatches.isEmpty()) {
            StringBuilder msg = new StringBuilder(mismatches.size() + " of " + total + " vectors differ from Python:");
            for (String m : mismatches.subList(0, Math.min(10, mismatches.size()))) {
                msg.append("\n  ").append(m);
            }
            fail(msg.toString());
        }
        assertTrue("only " + real + " real-text vectors; parity needs >= " + minReal, real >= minReal);
    }

    private static void compare(List<String> out, String id, String field, int[] want, int[] got, BertTokenizer tok) {
        if (Arrays.equals(want, got)) {
            return;
        }
        int at = 0;
        while (at < Math.min(want.length, got.length) && want[at] == got[at]) {
            at++;
        }
        String detail = "";
        if (tok != null && at < want.length && at < got.length) {
            detail = " (python '" + tok.vocabulary().token(want[at]) + "', java '" + tok.vocabulary().token(got[at]) + "')";
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
