package io.mobilecomp.core;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** A WordPiece vocabulary from vocab.txt: one token a line, the line number is the id. */
public final class Vocabulary {
    private final Map<String, Integer> ids;
    private final List<String> tokens;
    private final String sha256;

    private Vocabulary(List<String> tokens, String sha256) {
        this.tokens = Collections.unmodifiableList(tokens);
        this.ids = new HashMap<String, Integer>(tokens.size() * 2);
        for (int i = 0; i < tokens.size(); i++) {
            if (!ids.containsKey(tokens.get(i))) {
                ids.put(tokens.get(i), i);
            }
        }
        this.sha256 = sha256;
    }

    /** Reads vocab.txt bytes (UTF-8, '\n' or "\r\n" line ends, as transformers' load_vocab does). */
    public static Vocabulary fromBytes(byte[] bytes) {
        String text = new String(bytes, StandardCharsets.UTF_8);
        List<String> tokens = new ArrayList<String>();
        int start = 0;
        while (start < text.length()) {
            int end = text.indexOf('\n', start);
            if (end < 0) {
                end = text.length();
            }
            String line = text.substring(start, end);
            if (line.endsWith("\r")) {
                line = line.substring(0, line.length() - 1);
            }
            tokens.add(line);
            start = end + 1;
        }
        return new Vocabulary(tokens, sha256Hex(bytes));
    }

    public static Vocabulary fromFile(File file) throws IOException {
        return fromBytes(readAll(new FileInputStream(file)));
    }

    public static Vocabulary fromStream(InputStream in) throws IOException {
        return fromBytes(readAll(in));
    }

    /** The id of {@code token}, or -1 when it is not in the vocabulary. */
    public int id(String token) {
        Integer id = ids.get(token);
        return id == null ? -1 : id;
    }

    public boolean contains(String token) {
        return ids.containsKey(token);
    }

    public String token(int id) {
        return tokens.get(id);
    }

    public int size() {
        return tokens.size();
    }

    /** sha256 of the file's bytes, lower-case hex: what the manifest records as vocab_sha256. */
    public String sha256() {
        return sha256;
    }

    static byte[] readAll(InputStream in) throws IOException {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] buf = new byte[1 << 16];
            int n;
            while ((n = in.read(buf)) > 0) {
                out.write(buf, 0, n);
            }
            return out.toByteArray();
        } finally {
            in.close();
        }
    }

    static String sha256Hex(byte[] bytes) {
        try {
            byte[] digest = MessageDigest.getInstance("SHA-256").digest(bytes);
            StringBuilder hex = new StringBuilder();
            for (byte b : digest) {
                hex.append(String.format("%02x", b & 0xff));
            }
            return hex.toString();
        } catch (NoSuchAlgorithmException ex) {
            throw new IllegalStateException("SHA-256 unavailable", ex);
        }
    }
}
