package io.mobilecomp.core;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Parity on the phone: the app's own runner on the bundle's parity sentences (an evenly spaced
 * subset, the one mobilecomp's adb runners use), compared with inputs/reference.npz (the PyTorch
 * outputs) under the artefact's own cos_min budget from manifest.json. The result goes into the
 * app's result JSON as "parity", beside the latency.
 */
public final class DeviceParity {
    public static final int SENTENCES = 32;
    public static final String SUBSET = "evenly spaced";

    private DeviceParity() {
    }

    /** Row indices of the subset: ``n`` evenly spaced over ``total`` rows (Python's round-half-even). */
    public static List<Integer> subset(int total, int sentences) {
        int n = Math.min(total, sentences);
        TreeSet<Integer> rows = new TreeSet<Integer>();
        for (int i = 0; i < n; i++) {
            rows.add((int) Math.rint(i * (total - 1) / (double) Math.max(n - 1, 1)));
        }
        return new ArrayList<Integer>(rows);
    }

    /** The runner's primary output on the subset against the reference, judged by the budget. */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> check(BundleInfo bundle, String artefact, ModelRunner runner, int sentences)
            throws Exception {
        Map<String, Npz.Array> parity = Npz.read(new File(bundle.dir, "inputs/parity.npz"));
        Map<String, Npz.Array> reference = Npz.read(new File(bundle.dir, "inputs/reference.npz"));
        Npz.Array expected = reference.get(bundle.primaryOutput);
        Map<String, Object> out = new LinkedHashMap<String, Object>();
        if (expected == null || expected.shape.length != 2) {
            out.put("checked", false);
            out.put("reason", "reference.npz has no sentence-level '" + bundle.primaryOutput + "'");
            return out;
        }
        Npz.Array ids = parity.get("input_ids");
        Npz.Array mask = parity.get("attention_mask");
        Npz.Array types = parity.get("token_type_ids");
        List<Integer> rows = subset(ids.shape[0], sentences);
        double cosMin = Double.POSITIVE_INFINITY;
        double cosSum = 0;
        double maxAbs = 0;
        for (int r : rows) {
            double[] m = mask.row(r);
            int length = 0;
            for (double v : m) {
                length += (int) v;
            }
            length = Math.max(length, 1);
            Encoding input = new Encoding(ints(ids.row(r), length), ints(m, length),
                    types == null ? new int[length] : ints(types.row(r), length));
            float[] got = runner.run(input).get(bundle.primaryOutput);
            double[] want = expected.row(r);
            if (got == null || got.length != want.length) {
                throw new BundleException(artefact + ": output '" + bundle.primaryOutput + "' has "
                        + (got == null ? "no values" : got.length + " values") + ", reference.npz " + want.length);
            }
            double dot = 0;
            double a = 0;
            double b = 0;
            for (int i = 0; i < want.length; i++) {
                dot += got[i] * want[i];
                a += got[i] * (double) got[i];
                b += want[i] * want[i];
                maxAbs = Math.max(maxAbs, Math.abs(got[i] - want[i]));
            }
            double cos = a == 0 || b == 0 ? -1 : dot / Math.sqrt(a * b);
            cosMin = Math.min(cosMin, cos);
            cosSum += cos;
        }
        Double budget = budgetCosMin(bundle.dir, artefact);
        List<String> failures = new ArrayList<String>();
        if (budget != null && !(cosMin >= budget)) {
            failures.add(String.format("cos_min %.4f < %.4f", cosMin, budget));
        }
        out.put("checked", true);
        out.put("sentences", rows.size());
        out.put("subset", SUBSET);
        out.put("output", bundle.primaryOutput);
        out.put("cos_min", cosMin);
        out.put("cos_mean", cosSum / rows.size());
        out.put("max_abs", maxAbs);
        out.put("budget_cos_min", budget);
        out.put("passed", failures.isEmpty());
        out.put("failures", failures);
        out.put("reference", "inputs/reference.npz");
        return out;
    }

    private static int[] ints(double[] values, int length) {
        int[] out = new int[length];
        for (int i = 0; i < length; i++) {
            out[i] = (int) values[i];
        }
        return out;
    }

    @SuppressWarnings("unchecked")
    static Double budgetCosMin(File dir, String artefact) throws IOException {
        String text = new String(Files.readAllBytes(new File(dir, "manifest.json").toPath()), StandardCharsets.UTF_8);
        for (Object a : (List<Object>) Json.parseObject(text).get("artefacts")) {
            Map<String, Object> art = (Map<String, Object>) a;
            if (artefact.equals(art.get("name")) && art.get("parity") instanceof Map) {
                Object budget = ((Map<String, Object>) art.get("parity")).get("budget");
                Object cos = budget instanceof Map ? ((Map<String, Object>) budget).get("cos_min") : null;
                return cos instanceof Number ? ((Number) cos).doubleValue() : null;
            }
        }
        return null;
    }
}
