package io.mobilecomp.core;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * Reads the bundle's .npz files (numpy's zip of .npy arrays, stored or deflated): little-endian
 * float32/float64/int32/int64, C order; what inputs/parity.npz and inputs/reference.npz hold.
 */
public final class Npz {
    /** One array: its shape and its values as doubles (ids and masks are exact in a double). */
    public static final class Array {
        public final int[] shape;
        public final double[] values;

        Array(int[] shape, double[] values) {
            this.shape = shape;
            this.values = values;
        }

        /** Elements per row (product of every dimension but the first). */
        public int rowSize() {
            int n = 1;
            for (int i = 1; i < shape.length; i++) {
                n *= shape[i];
            }
            return n;
        }

        public double[] row(int i) {
            int n = rowSize();
            double[] out = new double[n];
            System.arraycopy(values, i * n, out, 0, n);
            return out;
        }
    }

    private static final Pattern DESCR = Pattern.compile("'descr':\\s*'([<|>]?)([fi])(\\d)'");
    private static final Pattern SHAPE = Pattern.compile("'shape':\\s*\\(([^)]*)\\)");

    private Npz() {
    }

    /** Every array of ``file`` by name (without ".npy"). */
    public static Map<String, Array> read(File file) throws IOException, BundleException {
        Map<String, Array> out = new LinkedHashMap<String, Array>();
        try (ZipFile zip = new ZipFile(file)) {
            Enumeration<? extends ZipEntry> entries = zip.entries();
            while (entries.hasMoreElements()) {
                ZipEntry entry = entries.nextElement();
                String name = entry.getName().replaceAll("\\.npy$", "");
                try (InputStream in = zip.getInputStream(entry)) {
                    out.put(name, npy(readAll(in), file + ":" + entry.getName()));
                }
            }
        }
        return out;
    }

    static Array npy(byte[] raw, String where) throws BundleException {
        ByteBuffer buf = ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN);
        if (raw.length < 10 || raw[0] != (byte) 0x93 || raw[1] != 'N' || raw[2] != 'U' || raw[3] != 'M') {
            throw new BundleException(where + ": not a .npy array");
        }
        int major = raw[6];
        int headerLen = major == 1 ? buf.getShort(8) & 0xffff : buf.getInt(8);
        int start = major == 1 ? 10 : 12;
        String header = new String(raw, start, headerLen, StandardCharsets.ISO_8859_1);
        Matcher d = DESCR.matcher(header);
        Matcher s = SHAPE.matcher(header);
        if (!d.find() || !s.find() || header.contains("'fortran_order': True") || ">".equals(d.group(1))) {
            throw new BundleException(where + ": unsupported .npy header " + header.trim());
        }
        String[] dims = s.group(1).split(",");
        int count = 0;
        for (String dim : dims) {
            count += dim.trim().isEmpty() ? 0 : 1;
        }
        int[] shape = new int[count];
        int total = 1;
        int k = 0;
        for (String dim : dims) {
            if (!dim.trim().isEmpty()) {
                shape[k] = Integer.parseInt(dim.trim());
                total *= shape[k++];
            }
        }
        char kind = d.group(2).charAt(0);
        int size = Integer.parseInt(d.group(3));
        buf.position(start + headerLen);
        double[] values = new double[total];
        for (int i = 0; i < total; i++) {
            if (kind == 'f') {
                values[i] = size == 4 ? buf.getFloat() : buf.getDouble();
            } else {
                values[i] = size == 4 ? buf.getInt() : size == 8 ? buf.getLong() : buf.get();
            }
        }
        return new Array(shape, values);
    }

    private static byte[] readAll(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] chunk = new byte[1 << 16];
        int n;
        while ((n = in.read(chunk)) > 0) {
            out.write(chunk, 0, n);
        }
        return out.toByteArray();
    }
}
