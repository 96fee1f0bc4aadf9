package io.mobilecomp.core;

import java.util.Collections;
import java.util.List;
import java.util.Map;

/** Typed reads of tokenizer.json fields; a field of the wrong type is an error naming it. */
final class TokenizerJson {
    private TokenizerJson() {
    }

    static String type(Map<String, Object> spec, String what) {
        Object type = spec.get("type");
        if (!(type instanceof String)) {
            throw new IllegalArgumentException(what + " has no \"type\"");
        }
        return (String) type;
    }

    static String str(Map<String, Object> spec, String key, String fallback) {
        Object value = spec.get(key);
        if (value == null) {
            return fallback;
        }
        if (!(value instanceof String)) {
            throw new IllegalArgumentException("\"" + key + "\" is not a string");
        }
        return (String) value;
    }

    static boolean bool(Map<String, Object> spec, String key, boolean fallback) {
        Object value = spec.get(key);
        if (value == null) {
            return fallback;
        }
        if (!(value instanceof Boolean)) {
            throw new IllegalArgumentException("\"" + key + "\" is not true or false");
        }
        return (Boolean) value;
    }

    static long integer(Map<String, Object> spec, String key) {
        Object value = spec.get(key);
        if (!(value instanceof Long)) {
            throw new IllegalArgumentException("\"" + key + "\" is not an integer");
        }
        return (Long) value;
    }

    static double number(Object value, String what) {
        if (!(value instanceof Number)) {
            throw new IllegalArgumentException(what + " is not a number");
        }
        return ((Number) value).doubleValue();
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> map(Object value, String what) {
        if (!(value instanceof Map)) {
            throw new IllegalArgumentException(what + " is not an object");
        }
        return (Map<String, Object>) value;
    }

    /** The object at {@code key}, or null when the key is absent or null. */
    static Map<String, Object> optMap(Map<String, Object> spec, String key) {
        Object value = spec.get(key);
        return value == null ? null : map(value, "\"" + key + "\"");
    }

    static List<?> list(Object value, String what) {
        if (value == null) {
            return Collections.emptyList();
        }
        if (!(value instanceof List)) {
            throw new IllegalArgumentException(what + " is not a list");
        }
        return (List<?>) value;
    }

    /** A special token named in tokenizer_config.json: a string, or an AddedToken object's content. */
    static String token(Map<String, Object> config, String key) {
        Object value = config.get(key);
        if (value instanceof String) {
            return (String) value;
        }
        if (value instanceof Map && ((Map<?, ?>) value).get("content") instanceof String) {
            return (String) ((Map<?, ?>) value).get("content");
        }
        return null;
    }
}
