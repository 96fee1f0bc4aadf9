package io.mobilecomp.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;

import java.io.File;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.Assume;
import org.junit.Test;

/**
 * The app's parity check on a real bundle's parity.npz and reference.npz. The runner is a stand-in
 * that replays reference rows (the JVM has no Android runtime): replaying the right rows must pass,
 * replaying another sentence's rows (what a wrong artefact or a wrong signature gives) must fail.
 */
public class DeviceParityTest {
    private static BundleInfo bundle() throws Exception {
        String dir = System.getProperty("mobilecomp.bundle");
        Assume.assumeTrue("no -Dmobilecomp.bundle", dir != null && !dir.isEmpty());
        Assume.assumeTrue("the bundle has no inputs/reference.npz", new File(dir, "inputs/reference.npz").isFile());
        return BundleInfo.open(new File(dir));
    }

    private static ModelRunner replay(final BundleInfo bundle, final int shift) throws Exception {
        final Npz.Array reference = Npz.read(new File(bundle.dir, "inputs/reference.npz")).get(bundle.primaryOutput);
        final Npz.Array ids = Npz.read(new File(bundle.dir, "inputs/parity.npz")).get("input_ids");
        final List<Integer> rows = DeviceParity.subset(ids.shape[0], DeviceParity.SENTENCES);
        return new ModelRunner() {
            int call = 0;

            @Override
            public Map<String, Object> describe() {
                return new LinkedHashMap<String, Object>();
            }

            @Override
            public Map<String, float[]> run(Encoding in) {
                int row = rows.get((call++ + shift) % rows.size());
                double[] values = reference.row(row);
                float[] out = new float[values.length];
                for (int i = 0; i < out.length; i++) {
                    out[i] = (float) values[i];
                }
                Map<String, float[]> result = new HashMap<String, float[]>();
                result.put(bundle.primaryOutput, out);
                return result;
            }

            @Override
            public void close() {
            }
        };
    }

    @Test
    public void outputsThatMatchTheReferencePass() throws Exception {
        BundleInfo bundle = bundle();
        String name = bundle.artefacts.get(0).name;
        Map<String, Object> parity = DeviceParity.check(bundle, name, replay(bundle, 0), DeviceParity.SENTENCES);
        assertEquals(true, parity.get("checked"));
        assertEquals(DeviceParity.SENTENCES, parity.get("sentences"));
        assertTrue((Double) parity.get("cos_min") > 0.9999);
        assertEquals(true, parity.get("passed"));
    }

    @Test
    public void outputsOfOtherSentencesFailTheBudget() throws Exception {
        BundleInfo bundle = bundle();
        String name = bundle.artefacts.get(0).name;
        Map<String, Object> parity = DeviceParity.check(bundle, name, replay(bundle, 1), DeviceParity.SENTENCES);
        assertFalse((Boolean) parity.get("passed"));
        assertFalse(((List<?>) parity.get("failures")).isEmpty());
    }
}
